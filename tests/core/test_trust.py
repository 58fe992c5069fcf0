"""Trust (issue 8), the core: a hostile checkpoint is refused field by field before
anything is allocated and never runs code; a kill or a full disk during a save never
costs the good file and leaves no temporary file for good; bad input to the public API
is one ValueError naming the argument; the divergence message names its reference."""

import collections
import errno
import io
import os
import pickle
import re
import signal
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from metaviz import load_learner
from metaviz.checkpoint import CheckpointError, load_trainer, save_checkpoint
from metaviz.config import TrainConfig
from metaviz.files import WriteError, write_atomic
from metaviz.jobs import TrainControl
from metaviz.jobs.training import Trainer
from metaviz.learners import DivergedError, Learner, default_config, learner_names, make_learner
from metaviz.nets import expand_for_tasks, forward
from metaviz.plugins import load_plugin_file
from metaviz.streams import make_generator
from tests.helpers import fill_disk, small_disk

ROOT = Path(__file__).resolve().parents[2]


# --- hostile checkpoints: every field checked, by name ----------------------------------

def _trainer(kind="maml", iterations=12):
    config = default_config(kind, iterations=iterations, meta_batch=5, pool_size=8, eval_every=5, eval_tasks=4)
    trainer = Trainer(make_learner(config))
    for _ in trainer.run(TrainControl(config.inner_lr, config.meta_lr)):
        pass
    return trainer


@pytest.fixture(scope="module")
def good_payload(tmp_path_factory):
    path = save_checkpoint(tmp_path_factory.mktemp("good") / "run.pt", _trainer())
    return torch.load(path, weights_only=True)


def _nested(depth):
    """A list nested ``depth`` deep, built without recursion."""
    value = []
    for _ in range(depth):
        value = [value]
    return value


N = 1761  # parameters of the 1-40-40-1 MLP


def _set(*keys, value):
    def mutate(payload):
        target = payload
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value() if callable(value) else value
    return mutate


HOSTILE = [
    # parameters
    ("param list", _set("learner", "tensors", "layer1.weight", value=lambda: [[0.0] * 40] * 40),
     r"parameter layer1\.weight must be a tensor, found a list"),
    ("param meta", _set("learner", "tensors", "layer1.weight", value=lambda: torch.zeros(40, 40, device="meta")),
     r"parameter layer1\.weight is on the meta device"),
    ("param float64", _set("learner", "tensors", "layer1.weight", value=lambda: torch.zeros(40, 40).double()),
     r"parameter layer1\.weight holds float64 values, expected float32"),
    ("param int", _set("learner", "tensors", "layer1.weight", value=lambda: torch.zeros(40, 40, dtype=torch.int64)),
     r"parameter layer1\.weight holds int64 values"),
    ("param nan", _set("learner", "tensors", "layer1.bias", value=lambda: torch.full((1, 40), float("nan"))),
     r"parameter layer1\.bias holds non-finite values"),
    ("param inf", _set("learner", "tensors", "layer1.bias", value=lambda: torch.full((1, 40), float("inf"))),
     r"parameter layer1\.bias holds non-finite values"),
    ("param expanded", _set("learner", "tensors", "layer1.weight", value=lambda: torch.zeros(1, 40).expand(40, 40)),
     r"parameter layer1\.weight is a strided or expanded view"),
    ("param transposed", _set("learner", "tensors", "layer1.weight", value=lambda: torch.zeros(40, 40).t()[:, :]),
     None),  # a transpose of a square zero matrix is still a strided view: refused
    ("param shape", _set("learner", "tensors", "layer1.weight", value=lambda: torch.zeros(3, 3)),
     r"parameter layer1\.weight has shape \(3, 3\), expected \(40, 40\)"),
    # optimiser
    ("moment float64", _set("learner", "optimizer", "exp_avg", value=lambda: torch.zeros(N, dtype=torch.float64)),
     r"optimizer\.exp_avg holds float64 values, expected float32"),
    ("moment int", _set("learner", "optimizer", "exp_avg_sq", value=lambda: torch.zeros(N, dtype=torch.int32)),
     r"optimizer\.exp_avg_sq holds int32 values"),
    ("moment list", _set("learner", "optimizer", "exp_avg", value=lambda: [0.0] * N),
     r"optimizer\.exp_avg must be a tensor, found a list"),
    ("moment meta", _set("learner", "optimizer", "exp_avg", value=lambda: torch.zeros(N, device="meta")),
     r"optimizer\.exp_avg is on the meta device"),
    ("moment expanded", _set("learner", "optimizer", "exp_avg", value=lambda: torch.zeros(1).expand(N)),
     r"optimizer\.exp_avg is a strided or expanded view"),
    ("moment nan", _set("learner", "optimizer", "exp_avg", value=lambda: torch.full((N,), float("nan"))),
     r"optimizer\.exp_avg holds non-finite values"),
    ("moment negative", _set("learner", "optimizer", "exp_avg_sq", value=lambda: -torch.ones(N)),
     r"optimizer\.exp_avg_sq holds negative values"),
    ("steps negative", _set("learner", "optimizer", "steps", value=-5), r"optimizer\.steps must be between 0 and"),
    ("steps huge", _set("learner", "optimizer", "steps", value=10**40), r"optimizer\.steps .* of 41 digits"),
    ("steps float", _set("learner", "optimizer", "steps", value=2.5), r"optimizer\.steps must be an integer"),
    ("steps bool", _set("learner", "optimizer", "steps", value=True), r"optimizer\.steps must be an integer"),
    ("lr nan", _set("learner", "optimizer", "lr", value=float("nan")), r"optimizer\.lr must be finite"),
    ("lr zero", _set("learner", "optimizer", "lr", value=0.0), r"optimizer\.lr must be in \(0, 100\]"),
    ("betas", _set("learner", "optimizer", "betas", value=[1.5, 0.9]), r"optimizer\.betas\[0\] must be in"),
    ("betas str", _set("learner", "optimizer", "betas", value="ab"), r"optimizer\.betas must be a list of two"),
    ("eps", _set("learner", "optimizer", "eps", value=0.0), r"optimizer\.eps must be in \(0, 1\]"),
    ("optimizer list", _set("learner", "optimizer", value=[1, 2]), r"optimizer state must be a mapping"),
    # the learner's own fields
    ("iteration negative", _set("learner", "iteration", value=-3), r"learner\.iteration must be between 0 and"),
    ("iteration str", _set("learner", "iteration", value="12"), r"learner\.iteration must be an integer, found a str"),
    ("first loss nan", _set("learner", "first_loss", value=float("nan")), r"learner\.first_loss must be finite"),
    ("first loss negative", _set("learner", "first_loss", value=-1.0), r"learner\.first_loss must be in"),
    ("inner lr overflow", _set("learner", "inner_lr", value=1e39), r"learner\.inner_lr must be in \(0, 100\]"),
    ("meta lr inf", _set("learner", "meta_lr", value=float("inf")), r"learner\.meta_lr must be finite"),
    ("learner list", _set("learner", value=[]), r"no learner state"),
    # the trainer: RNG stream and history
    ("losses list", _set("trainer", "losses", value=[[1, 2.0]]), r"trainer\.losses must be a tensor, found a list"),
    ("losses float32", _set("trainer", "losses", value=lambda: torch.zeros(2, 2)), r"trainer\.losses holds float32"),
    # 10^7 x 2 float64 would be 160 MB (and .tolist() gigabytes) from 8 bytes of storage.
    ("losses stride 0", _set("trainer", "losses", value=lambda: torch.zeros(1, 2, dtype=torch.float64)
                            .expand(10**7, 2)), r"trainer\.losses is a strided or expanded view"),
    ("losses too many", _set("trainer", "losses", value=lambda: torch.ones(50, 2, dtype=torch.float64)),
     r"trainer\.losses has shape \(50, 2\), expected at most 13 rows of 2"),
    ("losses future", _set("trainer", "losses", value=lambda: torch.tensor([[99.0, 1.0]], dtype=torch.float64)),
     r"trainer\.losses names iterations outside 0\.\.12"),
    ("validations width", _set("trainer", "validations", value=lambda: torch.zeros(1, 3, dtype=torch.float64)),
     r"trainer\.validations has shape \(1, 3\)"),
    ("generator size", _set("trainer", "generator", value=lambda: torch.zeros(3, dtype=torch.uint8)),
     r"trainer\.generator has shape \(3,\), expected"),
    ("generator float", _set("trainer", "generator", value=lambda: torch.zeros(5056)),
     r"trainer\.generator holds float32 values, expected uint8"),
    ("budget zero", _set("trainer", "budget", value=0), r"trainer\.budget must be between 1 and"),
    ("elapsed nan", _set("trainer", "elapsed", value=float("nan")), r"trainer\.elapsed must be finite"),
    ("trainer missing", lambda p: p["trainer"].pop("losses"), r"trainer state lacks losses"),
    # settings that would build an absurd model before any tensor is compared
    ("hidden 100000", _set("config", "hidden", value=[100_000]), r"hidden layer width must be between 1 and 1,024"),
    ("pool x width", lambda p: p["config"].update(hidden=[1024], pool_size=100_000),
     r"pool_size x \(last hidden width \+ 1\) must be at most"),
    ("nested settings", _set("config", "hidden", value=lambda: [_nested(5000)]), r"nested too deeply"),
    ("a million-character name", _set("kind", value="a" * 10**6), r"learner kind 'aaa.* \[\.\.\.\] .*match"),
]


@pytest.mark.parametrize(("mutate", "message"), [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_a_hostile_field_is_one_line_naming_it(tmp_path, good_payload, mutate, message):
    payload = pickle.loads(pickle.dumps(good_payload))  # a deep copy, tensors included
    mutate(payload)
    path = tmp_path / "hostile.pt"
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # only so that torch.save can write the deeply nested case
    try:
        torch.save(payload, path)
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(CheckpointError) as caught:
        load_trainer(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and "\n" not in text and len(text) < 600, text
    assert re.search(message or r"parameter layer1\.weight is a strided or expanded view", text), text


def test_hostile_fields_of_every_learner_kind_are_refused_too(tmp_path):
    for kind in ("multitask", "fomaml"):
        path = save_checkpoint(tmp_path / f"{kind}.pt", _trainer(kind, iterations=3))
        payload = torch.load(path, weights_only=True)
        name = next(iter(payload["learner"]["tensors"]))
        payload["learner"]["tensors"][name] = payload["learner"]["tensors"][name].double()
        torch.save(payload, path)
        with pytest.raises(CheckpointError, match=rf"parameter {re.escape(name)} holds float64 values"):
            load_learner(path)


def test_a_refused_state_changes_nothing(good_payload):
    """Checks come before any assignment: a bad optimiser field leaves the learner as it was."""
    learner = _trainer(iterations=2).learner
    before = {name: t.detach().clone() for name, t in learner.tensors.items()}
    state = pickle.loads(pickle.dumps(good_payload["learner"]))
    state["optimizer"]["steps"] = -1
    with pytest.raises(ValueError, match="optimizer.steps"):
        learner.load_state_dict(state)
    assert learner.iteration == 2 and learner.optimizer.steps == 2
    for name, tensor in learner.tensors.items():
        assert torch.equal(tensor, before[name]), name


# --- storages declared bigger than the file --------------------------------------------

class _Storage:
    def __init__(self, key, numel, kind="FloatStorage"):
        self.key, self.numel, self.kind = key, numel, kind


class _Tensor:
    """Pickles as torch's own rebuild call, with whatever storage, size and stride we say."""

    def __init__(self, storage, size, stride):
        self.args = (storage, 0, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return "storage", getattr(torch, obj.kind), obj.key, "cpu", obj.numel
        return None


def _torch_zip(path, payload, records, compression=zipfile.ZIP_STORED, protocol=2):
    """A file laid out as torch.save lays one out, with records of our choosing."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=protocol).dump(payload)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
        for key, data in records.items():
            archive.writestr(f"archive/data/{key}", data, compress_type=compression)
    return path


BOMB = 2**26  # 64 MB of zeros, about 64 KB compressed


def _bomb(path):
    return _torch_zip(path, {"x": _Tensor(_Storage("0", BOMB // 4), [4], [1])}, {"0": bytes(BOMB)},
                      zipfile.ZIP_DEFLATED)


def test_a_compressed_record_is_refused_before_torch_inflates_it(tmp_path):
    path = _bomb(tmp_path / "bomb.pt")
    assert path.stat().st_size < BOMB // 100
    with pytest.raises(CheckpointError, match=r"not a metaviz checkpoint \(record 'archive/data/0' is compressed"):
        load_trainer(path)


def test_a_storage_larger_than_its_record_is_one_line(tmp_path):
    path = _torch_zip(tmp_path / "big.pt", {"x": _Tensor(_Storage("0", 10**10), [4], [1])}, {"0": bytes(16)})
    with pytest.raises(CheckpointError, match="not a readable checkpoint") as caught:
        load_trainer(path)
    assert "\n" not in str(caught.value)


def test_a_view_beyond_its_storage_is_one_line(tmp_path):
    path = _torch_zip(tmp_path / "oob.pt", {"x": _Tensor(_Storage("0", 4), [10**6], [1])}, {"0": bytes(16)})
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_trainer(path)


def test_small_hostile_files_never_demand_memory(tmp_path, good_payload):
    """In a fresh process (its peak memory is its own): a 64 MB zip bomb, a stride-0
    history of 10^7 rows (160 MB, gigabytes as a list) and settings for a 400 MB model
    are each refused, and the peak resident memory grows by less than any would take."""
    files = [_bomb(tmp_path / "bomb.pt")]
    payload = pickle.loads(pickle.dumps(good_payload))
    payload["trainer"]["losses"] = torch.zeros(1, 2, dtype=torch.float64).expand(10**7, 2)
    torch.save(payload, tmp_path / "stride0.pt")
    payload = pickle.loads(pickle.dumps(good_payload))
    payload["config"].update(hidden=[1024], pool_size=100_000, learner="multitask")
    payload["kind"] = "multitask"
    torch.save(payload, tmp_path / "pool.pt")
    files += [tmp_path / "stride0.pt", tmp_path / "pool.pt"]
    code = (
        "import resource, sys\n"
        "from metaviz.checkpoint import CheckpointError, load_trainer\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        load_trainer(path)\n"
        "    except CheckpointError as exc:\n"
        "        print('refused', exc)\n"
        "print('grew_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *map(str, files)], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["refused"] * 3 + ["grew_kb"], out.stdout
    assert int(lines[-1].split()[1]) < 32 * 1024  # KB on Linux: half the smallest of them


# --- code-running pickles: refused, named, never run, no warning leaks -----------------

class _Exploit:
    def __init__(self, marker, call=os.system):
        self.marker, self.call = marker, call

    def __reduce__(self):
        if self.call is eval:
            return eval, (f"open({str(self.marker)!r}, 'w')",)
        return os.system, (f"touch {self.marker}",)


def _code_files(tmp_path, marker):
    files = {}
    for protocol in range(6):  # a bare pickle, every protocol (4 and 5 use STACK_GLOBAL)
        files[f"raw pickle {protocol}"] = pickle.dumps({"format": "metaviz-checkpoint", "x": _Exploit(marker)},
                                                       protocol=protocol)
    buffer = io.BytesIO()
    torch.save({"format": "metaviz-checkpoint", "version": 1, "x": _Exploit(marker)}, buffer)
    files["torch zip, os.system"] = buffer.getvalue()
    buffer = io.BytesIO()
    torch.save({"format": "metaviz-checkpoint", "version": 1, "x": _Exploit(marker, eval)}, buffer)
    files["torch zip, eval"] = buffer.getvalue()
    files["torch zip, protocol 4"] = _torch_zip(tmp_path / "p4.pt", {"x": _Exploit(marker)}, {},
                                                protocol=4).read_bytes()
    return files


def test_a_pickle_that_would_run_code_says_so_never_runs_and_warns_nothing(tmp_path):
    marker = tmp_path / "pwned"
    for name, data in _code_files(tmp_path, marker).items():
        path = tmp_path / "evil.pt"
        path.write_bytes(data)
        with warnings.catch_warnings(record=True) as caught_warnings:
            warnings.simplefilter("always")
            with pytest.raises(CheckpointError) as caught:
                load_trainer(path)
        text = str(caught.value)
        assert "holds code that could run" in text and "was not loaded" in text, (name, text)
        assert re.search(r"would call (posix|os|nt)\.system|would call (__builtin__|builtins)\.eval", text), text
        assert "truncated or corrupt" not in text and "\n" not in text
        assert caught_warnings == [], (name, [str(w.message) for w in caught_warnings])
        assert not marker.exists(), name


# --- a kill during a save ---------------------------------------------------------------

WRITER = """
import sys
from metaviz.files import write_atomic

def slow(handle):
    handle.write(b"half of the new contents")
    handle.flush()
    print("writing", flush=True)
    sys.stdin.read()  # blocks until the test ends it: the test kills this process here

write_atomic(sys.argv[1], slow)
"""


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and pids are POSIX")
def test_a_kill_mid_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    target = tmp_path / "data.txt"
    target.write_text("old")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, cwd=ROOT)
    try:
        assert writer.stdout.readline() == b"writing\n"  # the temporary file exists and holds half
        (left,) = _temporaries(tmp_path)
        writer.send_signal(signal.SIGKILL)
        writer.wait()  # reaped: its pid names no process now
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert target.read_text() == "old" and _temporaries(tmp_path) == [left]
    match = re.fullmatch(r"\.data\.txt\.([0-9a-f]{8})-(\d+)\.[a-z0-9_]+\.tmp", left)
    assert match and int(match[2]) == writer.pid
    host = match[1]
    # Beside it: a temporary of a live process (this test's parent), one of the dead
    # writer for another target, and a file of another pattern. None of them may go.
    kept = [f".data.txt.{host}-{os.getppid()}.abc123_x.tmp", f".other.txt.{host}-{writer.pid}.abc123_x.tmp",
            ".data.txt.notours.tmp", f".data.txt.{host}-{writer.pid}.tmp"]
    for name in kept:
        (tmp_path / name).write_text("someone else's")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert not (tmp_path / left).exists()
    assert _temporaries(tmp_path) == sorted(kept)


# --- a full disk ------------------------------------------------------------------------

@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk") as folder:
        yield folder


@pytest.mark.parametrize("room", [0, 4096, 8192, 12288])  # where torch.save fails differently
def test_a_full_disk_keeps_every_good_file(disk, room):
    trainer = _trainer(iterations=3)
    checkpoint = save_checkpoint(disk / "run.pt", trainer)
    settings = disk / "settings.json"
    write_atomic(settings, '{"learner": "maml"}\n')
    good_checkpoint, good_settings = checkpoint.read_bytes(), settings.read_bytes()
    fill_disk(disk, room)
    more = _trainer(iterations=6)
    with pytest.raises(CheckpointError) as caught:
        save_checkpoint(checkpoint, more)
    # torch.save's own error ("unexpected pos 704 vs 598") becomes what the disk said.
    assert str(caught.value) == f"cannot write {checkpoint}: No space left on device"
    with pytest.raises(WriteError, match="No space left on device"):
        write_atomic(settings, TrainConfig().to_dict().__repr__() * 100)
    assert checkpoint.read_bytes() == good_checkpoint and settings.read_bytes() == good_settings
    assert load_trainer(checkpoint).learner.iteration == 3
    assert _temporaries(disk) == []


class _DiskFullAfter:
    """A file whose writes fail with ENOSPC once ``room`` bytes are written (a full disk,
    where no tmpfs can be mounted)."""

    def __init__(self, handle, room):
        self._handle, self.room = handle, room

    def write(self, data):
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


@pytest.mark.parametrize("room", [0, 300, 5000])
def test_a_simulated_full_disk_keeps_the_good_checkpoint(tmp_path, monkeypatch, room):
    checkpoint = save_checkpoint(tmp_path / "run.pt", _trainer(iterations=3))
    good = checkpoint.read_bytes()
    real_fdopen = os.fdopen
    monkeypatch.setattr("metaviz.files.os.fdopen", lambda *a, **k: _DiskFullAfter(real_fdopen(*a, **k), room))
    with pytest.raises(CheckpointError) as caught:
        save_checkpoint(checkpoint, _trainer(iterations=6))
    assert str(caught.value) == f"cannot write {checkpoint}: No space left on device"
    assert checkpoint.read_bytes() == good and _temporaries(tmp_path) == []


# --- the public API: one ValueError naming the argument ---------------------------------

T, K, Q = 3, 5, 7


def _good_args():
    g = torch.Generator().manual_seed(0)
    return {"x_support": torch.rand(T, K, 1, generator=g) * 10 - 5, "y_support": torch.rand(T, K, 1, generator=g),
            "x_query": torch.rand(T, Q, 1, generator=g) * 10 - 5, "steps": 3, "lr": None}


def _with(name, value):
    return name, (lambda args: value(args) if callable(value) else value)


def _nan_in(name, fill=float("nan")):
    def make(args):
        bad = args[name].clone()
        bad[0, 0, 0] = fill
        return bad
    return name, make


SHAPE = {"x_support": r"\[T, K, 1\]", "y_support": r"\[T, K, 1\]", "x_query": r"\[T, Q, 1\]"}
POINTS = [
    _with("x_support", lambda a: a["x_support"].numpy()),
    _with("x_support", lambda a: a["x_support"].tolist()),
    _with("x_support", lambda a: a["x_support"].double()),
    _with("x_support", lambda a: a["x_support"].long()),
    _with("x_support", lambda a: a["x_support"] > 0),
    _with("x_support", lambda a: a["x_support"].half()),
    _with("x_support", lambda a: a["x_support"][..., 0]),
    _with("x_support", lambda a: a["x_support"].unsqueeze(0)),
    _with("x_support", lambda a: a["x_support"].expand(T, K, 2)),
    _with("x_support", lambda a: a["x_support"].reshape(-1)),
    _with("x_support", lambda a: torch.tensor(1.0)),
    _nan_in("x_support"),
    _nan_in("x_support", float("inf")),
    _nan_in("x_support", float("-inf")),
    _with("x_support", lambda a: torch.zeros(T, K, 1, device="meta")),
    _with("x_support", lambda a: a["x_support"].to_sparse()),
    _with("x_support", lambda a: torch.zeros(0, K, 1)),
    _with("y_support", lambda a: a["y_support"].double()),
    _with("y_support", lambda a: a["y_support"].int()),
    _with("y_support", lambda a: a["y_support"][:, :-1]),
    _with("y_support", lambda a: a["y_support"][:-1]),
    _nan_in("y_support"),
    _with("y_support", lambda a: a["y_support"][..., 0]),
    _with("y_support", None),
    _with("x_query", lambda a: a["x_query"].double()),
    _with("x_query", lambda a: torch.zeros(T + 1, Q, 1)),
    _with("x_query", lambda a: torch.zeros(T, 0, 1)),
    _nan_in("x_query"),
    _nan_in("x_query", float("inf")),
    _with("x_query", lambda a: torch.zeros(T, Q, 3)),
    _with("x_query", lambda a: a["x_query"] > 0),
    _with("x_query", lambda a: a["x_query"].to(torch.complex64)),
]
STEPS_AND_RATES = [
    ("steps", -1), ("steps", 1001), ("steps", 10**30), ("steps", 2.5), ("steps", 2.0), ("steps", "3"),
    ("steps", True), ("steps", None), ("steps", torch.tensor([1, 2])),
    ("lr", 0), ("lr", -0.1), ("lr", float("nan")), ("lr", float("inf")), ("lr", float("-inf")), ("lr", "0.1"),
    ("lr", True), ("lr", 1e39), ("lr", 1j), ("lr", [0.1]),
]


@pytest.fixture(scope="module")
def every_learner():
    """A fresh learner of every registered kind, the example plugin's included."""
    load_plugin_file(ROOT / "resources" / "plugins" / "linear_features.py")
    return [make_learner(default_config(kind, meta_batch=4, pool_size=8)) for kind in learner_names()]


def _bad_cases():
    cases = [(name, value) for name, value in POINTS]
    cases += [(name, value) for name, value in STEPS_AND_RATES]
    return cases


def _check_refusal(method, args, name):
    with pytest.raises(ValueError) as caught:
        method(**args)
    text = str(caught.value)
    assert text.startswith(name) and "\n" not in text, text
    if name in SHAPE and "nan or inf" not in text:
        assert re.search(SHAPE[name], text), text


def test_bad_input_to_adapt_trajectory_is_one_value_error_naming_the_argument(every_learner):
    cases = _bad_cases()
    assert len(cases) >= 40
    assert "ridgefeatures" in [learner.kind for learner in every_learner]  # a plugin's learner too
    for learner in every_learner:
        for name, value in cases:
            args = _good_args()
            args[name] = value(args) if callable(value) and name not in ("steps", "lr") else value
            _check_refusal(learner.adapt_trajectory, args, name)
        if learner.has_predictive:
            for name, value in POINTS:
                args = _good_args()
                args[name] = value(args) if callable(value) else value
                del args["steps"], args["lr"]
                _check_refusal(learner.predictive, args, name)


def test_good_input_is_answered_as_before_including_no_support_points(every_learner):
    for learner in every_learner:
        args = _good_args()
        unchecked = type(learner).adapt_trajectory.__wrapped__  # the learner's own method
        expected = unchecked(learner, args["x_support"], args["y_support"], args["x_query"], 3, None)
        # numpy integers and floats are integers and numbers
        got = learner.adapt_trajectory(args["x_support"], args["y_support"], args["x_query"], np.int64(3))
        assert torch.equal(got, expected), learner.kind
        with_rate = learner.adapt_trajectory(args["x_support"], args["y_support"], args["x_query"], 2,
                                             lr=np.float32(0.01))
        assert with_rate.shape == (3, T, Q, 1)
        empty = torch.zeros(T, 0, 1)  # K = 0: the window's cleared points
        assert learner.adapt_trajectory(empty, empty, args["x_query"], 2).shape == (3, T, Q, 1), learner.kind
        if learner.has_predictive:
            mean, std = learner.predictive(empty, empty, args["x_query"])
            assert mean.shape == std.shape == (T, Q, 1)


def test_a_plugin_learner_gets_the_checks_without_writing_them():
    calls = []

    class Echo(Learner):  # as a plugin author would write it: no argument checks at all
        def init_tensors(self, generator):
            return {"w": torch.zeros(1, requires_grad=True)}

        def sample_batch(self, generator):
            return self.family.sample_batch(2, 2, 2, generator)

        def training_loss(self, batch):
            loss = self.tensors["w"].sum() * 0
            return loss, {"loss": 0.0}

        def adapt_trajectory(self, x_support, y_support, x_query, steps, lr=None):
            calls.append((steps, lr))
            return torch.zeros(steps + 1, *x_query.shape)

        def default_adapt_lr(self, shots):
            return 0.1

    learner = Echo(default_config("maml"))
    args = _good_args()
    with pytest.raises(ValueError, match=r"^x_query must be a float32 tensor of shape \[T, Q, 1\], got float64"):
        learner.adapt_trajectory(args["x_support"], args["y_support"], args["x_query"].double(), 2)
    with pytest.raises(ValueError, match=r"^steps must be an integer in \[0, 1000\], got 2\.5"):
        learner.adapt_trajectory(args["x_support"], args["y_support"], args["x_query"], 2.5)
    assert calls == []  # bad input never reached the learner's code
    learner.adapt_trajectory(args["x_support"], args["y_support"], args["x_query"], np.int16(2), 0.5)
    assert calls == [(2, 0.5)] and type(calls[0][0]) is int


# --- the divergence message -------------------------------------------------------------

def test_the_divergence_message_names_its_reference_and_its_value():
    learner = make_learner(default_config("maml", inner_lr=50.0, meta_batch=5))
    batch = learner.sample_batch(make_generator(0))
    # The references, computed here: the loss of predicting zero on the batch, and the
    # unadapted model's mean support loss.
    zero = torch.cat([batch.y_support, batch.y_query], dim=1).pow(2).mean().item()
    with torch.no_grad():
        prediction = forward(expand_for_tasks(list(learner.tensors.values()), batch.num_tasks), batch.x_support)
        before = (prediction - batch.y_support).pow(2).mean().item()
    with pytest.raises(DivergedError) as caught:
        learner.meta_train_step(batch)
    text = str(caught.value)
    name = "the loss of predicting zero on this batch" if zero >= before else "this batch's loss before adaptation"
    assert f"more than 100 times {name} ({max(zero, before):.3g})" in text, text
    sentences = text.split(". ")
    assert sentences[0].startswith("Training diverged at iteration 1: the loss reached ")
    assert sentences[1] == "The parameters of iteration 0, the last with a sane loss, were kept"
    assert sentences[2] == "To go on, lower a rate (inner lr 50, meta lr 0.01) and resume."


def test_a_rolled_back_step_leaves_the_kept_iteration_everywhere(tmp_path):
    config = default_config("pretrained", iterations=50, meta_batch=5, eval_every=2, eval_tasks=4)
    trainer = Trainer(make_learner(config))
    control = TrainControl(config.inner_lr, config.meta_lr)
    snapshots = trainer.run(control)
    for _ in range(4):
        next(snapshots)
    optimizer_at_4 = trainer.learner.optimizer.state_dict()
    first = trainer.learner.first_loss
    control.set_rates(meta_lr=50.0)
    next(snapshots)  # overshoots; found on the next step
    with pytest.raises(DivergedError) as caught:
        next(snapshots)
    text = str(caught.value)
    assert text.startswith("Training diverged at iteration 6: the loss reached "), text
    assert (f"more than 100 times the run's first loss (the untrained model's) ({first:.3g})." in text
            or re.search(r"more than 100 times the loss of predicting zero on this batch \([0-9.e+]+\)\.", text)), text
    assert caught.value.kept_iteration == 4 and "The parameters of iteration 4," in text
    saved = torch.load(save_checkpoint(tmp_path / "kept.pt", trainer), weights_only=True)
    assert saved["learner"]["iteration"] == 4
    assert saved["learner"]["optimizer"]["steps"] == 4  # the optimiser was rolled back with the parameters
    assert torch.equal(saved["learner"]["optimizer"]["exp_avg"], optimizer_at_4["exp_avg"])
    assert saved["trainer"]["losses"][:, 0].tolist() == [1.0, 2.0, 3.0, 4.0]

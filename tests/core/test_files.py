"""write_atomic: all or nothing, through symlinks, never into a folder or a device,
with the permissions a new file normally gets."""

import os
import stat
from pathlib import Path

import pytest

from metaviz.files import WriteError, resolve_target, write_atomic


@pytest.fixture
def umask():
    """Set a known umask for the test and restore the previous one."""
    previous = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(previous)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_bytes_text_and_writer_functions_are_written(tmp_path):
    assert write_atomic(tmp_path / "a.bin", b"\x00\x01") == tmp_path / "a.bin"
    write_atomic(tmp_path / "b.txt", "h\u00e9llo")
    write_atomic(tmp_path / "c.bin", lambda handle: handle.write(b"from a function"))
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_bytes() == "h\u00e9llo".encode()
    assert (tmp_path / "c.bin").read_bytes() == b"from a function"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.txt", "c.bin"]


def test_a_new_file_gets_0666_less_the_umask(tmp_path, umask):
    write_atomic(tmp_path / "new.txt", "x")
    assert _mode(tmp_path / "new.txt") == 0o666 & ~umask == 0o640


def test_replacing_a_file_keeps_its_permissions(tmp_path, umask):
    path = tmp_path / "kept.txt"
    path.write_text("old")
    path.chmod(0o604)
    write_atomic(path, "new")
    assert path.read_text() == "new" and _mode(path) == 0o604


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    target = tmp_path / "real" / "data.txt"
    target.parent.mkdir()
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert write_atomic(link, "new") == link
    assert link.is_symlink() and Path(os.readlink(link)) == target
    assert target.read_text() == "new" and _mode(target) == 0o600
    assert resolve_target(link) == target.resolve()
    # No temporary file is left in either folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "real"]
    assert [p.name for p in target.parent.iterdir()] == ["data.txt"]


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "later.txt")
    write_atomic(link, "made")
    assert link.is_symlink() and (tmp_path / "later.txt").read_text() == "made"


def test_a_folder_is_refused(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(WriteError, match="it is a folder"):
        write_atomic(folder, "x")
    assert folder.is_dir() and not any(folder.iterdir())
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]


def test_a_character_device_is_refused_without_writing_to_it(tmp_path, monkeypatch):
    # os.devnull is only looked at here: the refusal comes before any write.
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    opened = []
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: opened.append(a) or pytest.fail("opened a file"))
    with pytest.raises(WriteError, match="not a regular file"):
        resolve_target(os.devnull)
    with pytest.raises(WriteError, match="not a regular file"):
        write_atomic(os.devnull, b"never written")
    # ... also when reached through a symlink.
    link = tmp_path / "sneaky"
    link.symlink_to(os.devnull)
    with pytest.raises(WriteError, match="not a regular file"):
        write_atomic(link, b"never written")
    assert opened == [] and link.is_symlink()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with pytest.raises(WriteError, match="not a regular file"):
        write_atomic(pipe, b"x")


def test_a_write_that_fails_midway_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"the old contents")

    def half_then_fail(handle):
        handle.write(b"half of the new")
        handle.flush()
        raise KeyError("the data source broke")

    with pytest.raises(KeyError, match="the data source broke"):  # not an OS error: raised as it is
        write_atomic(path, half_then_fail)
    assert path.read_bytes() == b"the old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_an_os_error_midway_is_a_write_error_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")

    def full_disk(handle):
        handle.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(WriteError, match="No space left on device"):
        write_atomic(path, full_disk)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["data.bin"]
    assert issubclass(WriteError, OSError)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing" / "f.txt", "does not exist"),
        (lambda tmp: Path(""), "no file name"),
    ],
)
def test_unusable_destinations_are_refused_before_writing(tmp_path, make, message):
    with pytest.raises(WriteError, match=message):
        write_atomic(make(tmp_path), "x")
    assert list(tmp_path.iterdir()) == []


def test_a_file_where_a_folder_should_be_is_refused(tmp_path):
    (tmp_path / "plain").write_text("")
    with pytest.raises(WriteError, match="cannot write .*(is not a folder|Not a directory)"):
        write_atomic(tmp_path / "plain" / "f.txt", "x")


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root may write anywhere")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(WriteError, match="not writable"):
            write_atomic(folder / "f.txt", "x")
    finally:
        folder.chmod(0o700)

"""The explorer model's state machine, without Qt: a synchronous runner in this file
iterates the training job on demand and honours the JobControl as the window's worker
does (pause, a granted single step, stop), so every transition is exact and no test
waits on a clock or a thread."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from metaviz.explorer import Explorer, RunState, caption_text
from metaviz.jobs import TrainControl, drain
from metaviz.jobs.training import Trainer, training_job
from metaviz.learners import default_config, make_learner


class SyncRunner:
    """The explorer's Runner, driven by the test: :meth:`advance` runs up to ``n`` units of
    the job here and now. Like the window's worker it asks the control before each unit:
    a stop ends the job ("cancelled"), a pause parks it (nothing runs) unless a single
    step was granted. Every event is delivered (no coalescing)."""

    def __init__(self) -> None:
        self.job = None
        self.started = 0

    @property
    def running(self) -> bool:
        return self.job is not None

    def start(self, job, control, on_event, on_end) -> None:
        assert not self.running, "the explorer must never start a second job"
        self.job, self.control, self.on_event, self.on_end = job, control, on_event, on_end
        self.started += 1

    def _may_run(self) -> bool:
        """JobControl.wait_for_turn without blocking: a parked job waits for the test."""
        with self.control._cond:  # the grant count is private; read it under its lock
            parked = self.control._paused and not self.control._stop and self.control._single_steps == 0
        return not parked and self.control.wait_for_turn()

    def advance(self, n: int = 10**9) -> int:
        """Run up to ``n`` units; returns how many ran (fewer if parked or ended)."""
        ran = 0
        while self.running and ran < n:
            if self.control.stopped:
                return ran + self._end("cancelled", None)
            if not self._may_run():
                return ran
            try:
                event = next(self.job)
            except StopIteration:
                return ran + self._end("finished", None)
            except Exception as exc:  # noqa: BLE001 - as the worker: a failure ends the job
                return ran + self._end("failed", exc)
            ran += 1
            self.on_event(event)
        return ran

    def _end(self, outcome: str, error) -> int:
        on_end, self.job = self.on_end, None
        on_end(outcome, error)
        return 0

    def stop(self) -> None:
        """Cancel and close now; no callback of this job follows (as JobRunner.stop)."""
        if self.job is not None:
            self.control.stop()
            self.job.close()
            self.job = None


class Asker:
    """Records the questions; answers with ``answer``."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.questions: list[str] = []

    def __call__(self, question: str) -> bool:
        self.questions.append(question)
        return self.answer


def tiny(kind="maml", **changes):
    base = {"iterations": 12, "eval_every": 4, "eval_tasks": 5, "meta_batch": 4, "pool_size": 10}
    base.update(changes)
    return default_config(kind, **base)


@pytest.fixture
def make():
    """A factory: (explorer, runner, asker, counts of every event emitted, states emitted)."""

    def build(config=None, answer=True):
        runner, asker = SyncRunner(), Asker(answer)
        model = Explorer(config or tiny(), runner, confirm=asker)
        counts: Counter = Counter()
        states: list[RunState] = []
        messages: list[tuple[str, str]] = []
        for name in ("state", "model", "progress", "task", "settings", "adaptation", "library", "message"):
            getattr(model.events, name).connect(lambda *args, name=name: counts.update([name]))
        model.events.state.connect(states.append)
        model.events.message.connect(lambda title, text: messages.append((title, text)))
        return model, runner, asker, counts, states, messages

    return build


def iterations(model):
    return [i for i, _ in model.losses]


def test_start_trains_to_the_budget_then_done(make):
    model, runner, _, counts, states, _ = make()
    model.start()
    assert model.state is RunState.TRAINING and runner.running and model.running
    assert runner.advance(5) == 5 and model.iteration == 5 and model.snapshot.iteration == 5
    runner.advance()
    assert model.state is RunState.DONE and not runner.running and model.trainer.learner.iteration == 12
    assert states == [RunState.TRAINING, RunState.DONE]
    assert counts["progress"] == 12 and iterations(model) == list(range(1, 13))
    assert [v.iteration for v in model.validations] == [1, 4, 8, 12]
    model.start()  # done: Start does nothing until the budget grows
    assert not runner.running and runner.started == 1
    model.set_budget(15)
    assert model.state is RunState.IDLE
    model.start()
    runner.advance()
    assert model.state is RunState.DONE and iterations(model) == list(range(1, 16))


def test_pause_step_resume_stop(make):
    model, runner, _, counts, states, _ = make(tiny(iterations=100))
    model.start()
    runner.advance(3)
    model.pause()
    assert model.state is RunState.PAUSED
    assert runner.advance(50) == 0 and model.iteration == 3  # parked: nothing runs while paused
    model.step()  # exactly one iteration, then parked again
    assert runner.advance(50) == 1 and model.iteration == 4 and model.state is RunState.PAUSED
    assert runner.advance(50) == 0
    model.step()
    model.step()
    assert runner.advance(50) == 2 and model.iteration == 6
    model.resume()
    assert model.state is RunState.TRAINING and runner.advance(3) == 3 and model.iteration == 9
    model.stop()
    assert model.state is RunState.IDLE and not runner.running and not model.running
    assert iterations(model) == list(range(1, 10)) and model.trainer.learner.iteration == 9
    model.toggle()  # Space: Start continues the same model
    assert model.state is RunState.TRAINING and runner.started == 2
    runner.advance(2)
    model.toggle()
    assert model.state is RunState.PAUSED and runner.advance(5) == 0
    model.toggle()
    assert model.state is RunState.TRAINING
    model.stop()
    assert iterations(model) == list(range(1, 12))
    assert states == [RunState.TRAINING, RunState.PAUSED, RunState.TRAINING, RunState.IDLE,  # steps stay paused
                      RunState.TRAINING, RunState.PAUSED, RunState.TRAINING, RunState.IDLE]
    assert counts["progress"] == 11


def test_step_from_idle_runs_exactly_one_iteration(make):
    model, runner, _, _, states, _ = make()
    model.step()
    assert model.state is RunState.PAUSED and runner.running
    assert runner.advance(50) == 1 and model.iteration == 1
    model.step()
    assert runner.advance(50) == 1 and model.iteration == 2 and runner.started == 1
    model.stop()
    assert iterations(model) == [1, 2] and model.state is RunState.IDLE


def test_reset_asks_once_trained_and_no_keeps_everything(make):
    model, runner, asker, counts, _, _ = make(answer=False)
    untrained = model.trainer
    assert model.reset() and asker.questions == [] and model.trainer is not untrained  # nothing to lose
    model.start()
    runner.advance()
    trainer, losses = model.trainer, list(model.losses)
    assert not model.reset()
    assert len(asker.questions) == 1 and "12 iterations" in asker.questions[0]
    assert model.trainer is trainer and list(model.losses) == losses and model.state is RunState.DONE
    asker.answer = True
    models_before = counts["model"]
    assert model.reset()
    assert model.trainer.learner.iteration == 0 and list(model.losses) == [] and model.state is RunState.IDLE
    assert counts["model"] == models_before + 1
    assert [e.name for e in model.library.entries] == ["MAML"]


def test_divergence_stops_says_why_and_resumes_after_lowering_the_rate(make):
    model, runner, _, counts, _, messages = make(tiny(iterations=20))
    model.start()
    runner.advance(5)
    library_events = counts["library"]
    model.set_rates(inner_lr=50.0, meta_lr=model.config.meta_lr)  # live: the next meta-step blows up
    runner.advance()
    assert model.state is RunState.DIVERGED and not runner.running
    [(title, text)] = messages
    assert title == "Training diverged" and "inner lr 50" in text and "lower a rate" in text
    kept = model.trainer.learner.iteration
    assert kept == 5 and model.iteration == 5 and iterations(model) == [1, 2, 3, 4, 5]
    assert counts["library"] > library_events  # the session list re-reads the kept iteration
    model.set_rates(inner_lr=0.01, meta_lr=model.config.meta_lr)
    model.resume()
    assert model.state is RunState.TRAINING
    runner.advance()
    assert model.state is RunState.DONE and iterations(model) == list(range(1, 21))
    assert all(math.isfinite(loss) for _, loss in model.losses) and len(messages) == 1


def test_switching_learner_keeps_the_trained_entry(make):
    model, runner, asker, _, _, _ = make()
    model.start()
    runner.advance()
    maml = model.active
    assert model.switch_learner("pretrained")
    assert asker.questions == [] and model.config.learner == "pretrained" and model.state is RunState.IDLE
    assert [e.name for e in model.library.entries] == ["MAML", "pretrained"] and maml.iterations == 12
    assert model.switch_learner("maml")
    assert model.active is maml and model.state is RunState.DONE and iterations(model) == list(range(1, 13))
    assert [e.name for e in model.library.entries] == ["MAML"]  # the untrained pretrained held nothing


def test_leaving_a_running_learner_asks_and_no_keeps_it_training(make):
    model, runner, asker, _, _, _ = make(tiny(iterations=100), answer=False)
    model.start()
    runner.advance(3)
    maml = model.active
    assert not model.switch_learner("pretrained")
    assert "'MAML' is training" in asker.questions[-1] and "kept" in asker.questions[-1]
    assert model.active is maml and model.state is RunState.TRAINING and runner.running
    other = model.add(Trainer(make_learner(tiny("pretrained"))), "other")
    assert not model.use(other.name) and model.active is maml and runner.running
    assert model.adopt(Trainer(make_learner(tiny()))) is None and model.active is maml
    assert not model.load_config(tiny(shots=7)) and model.active is maml and runner.running
    assert len(asker.questions) == 4
    runner.advance(2)
    asker.answer = True
    assert model.use("other")
    assert not runner.running and model.active is other and maml.iterations == 5
    assert iterations(model) == []
    assert model.use("MAML") and iterations(model) == [1, 2, 3, 4, 5] and model.state is RunState.IDLE


def test_adopting_a_trained_trainer_shows_it_at_once(make):
    model, runner, asker, counts, _, _ = make()
    config = tiny(iterations=6)
    trainer = Trainer(make_learner(config))
    drain(training_job(trainer, TrainControl(config.inner_lr, config.meta_lr)))
    models_before = counts["model"]
    entry = model.adopt(trainer, "run")
    assert entry.name == "run" and model.active is entry and model.trainer is trainer
    assert model.state is RunState.DONE and iterations(model) == list(range(1, 7)) and model.iteration == 6
    assert [e.name for e in model.library.entries] == ["run"]  # the untrained start held nothing
    assert counts["model"] == models_before + 1 and asker.questions == []
    # Settings loaded after it make a new entry: the loaded learner keeps its name and weights.
    assert model.load_config(tiny(shots=7))
    assert [e.name for e in model.library.entries] == ["run", "MAML"]
    assert model.library.get("run").trainer is trainer and trainer.learner.iteration == 6
    assert model.active.name == "MAML" and model.config.shots == 7 and model.iteration == 0
    assert model.history.current.shots == 7
    # ... and loading settings again replaces that untrained entry instead of piling up.
    assert model.load_config(tiny(shots=3)) and [e.name for e in model.library.entries] == ["run", "MAML"]


def trained(kind, iterations=3):
    config = tiny(kind, iterations=iterations)
    trainer = Trainer(make_learner(config))
    drain(training_job(trainer, TrainControl(config.inner_lr, config.meta_lr)))
    return trainer


def test_restore_and_forget(make):
    model, runner, _, counts, _, _ = make()
    maml, baseline = trained("maml"), trained("pretrained")
    model.restore([("MAML", maml), ("old baseline", baseline)], active="old baseline")
    assert [e.name for e in model.library.entries] == ["MAML", "old baseline"]  # the untrained start is gone
    assert model.active.name == "old baseline" and model.trainer is baseline and model.state is RunState.DONE
    model.restore([("MAML", maml)], active="MAML")  # a name taken: made unique, never replacing
    assert [e.name for e in model.library.entries] == ["MAML", "old baseline", "MAML 2"]
    assert model.active.name == "old baseline"  # a trained active entry stays active
    model.forget_all()
    assert [e.name for e in model.library.entries] == ["pretrained"] and model.iteration == 0
    assert model.state is RunState.IDLE
    # No active name stored: the fresh model stays active, after the restored ones.
    model.restore([("pretrained", baseline)])
    assert [e.name for e in model.library.entries] == ["pretrained", "pretrained 2"]
    assert model.active.name == "pretrained 2" and model.iteration == 0


def test_caption_names_the_learner_iterations_and_settings(make):
    model, runner, _, _, _, _ = make()
    model.set_adaptation(steps=5, lr=0.02)
    model.start()
    runner.advance()
    text = model.caption()
    assert text.startswith("MAML, 12 meta-iterations; K=10,")
    assert "inner lr \u03b1=0.01" in text and "meta-batch 4" in text and "seed 0" in text
    assert text.endswith("plotted after 5 steps at lr 0.02")
    pretrained = caption_text("baseline", tiny("pretrained"), 3, 1, 0.5)
    assert pretrained.startswith("baseline (pretrained), 3 meta-iterations") and "inner lr" not in pretrained


def test_switching_learners_carries_the_inner_rate_only_between_alike_defaults():
    from metaviz.explorer import Explorer
    from metaviz.learners import default_config

    model = Explorer(default_config("maml", iterations=5), SyncRunner())
    model.set_rates(0.02, model.config.meta_lr)
    model.switch_learner("fomaml")  # same default (0.01): the user's 0.02 goes along
    assert model.config.inner_lr == 0.02
    model.switch_learner("cavia")  # CAVIA steps contexts at its own default rate
    assert model.config.inner_lr == default_config("cavia").inner_lr == 1.0
    model.switch_learner("anil")
    assert model.config.inner_lr == default_config("anil").inner_lr

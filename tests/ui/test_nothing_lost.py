"""Nothing trained is lost in the window: leaving a running learner asks, loading settings
makes a new entry, quitting keeps every trained learner for the next launch (with a
way to forget them), and a launch with bad stored preferences starts from the defaults
and says so."""

from __future__ import annotations

import json

import torch
from PySide6.QtCore import QSettings

from metaviz.session_store import SessionStore
from metaviz.ui.settings import Preferences

from .conftest import TIMEOUT


def trained(window, wait_state, kind=None):
    if kind is not None:
        assert window.model.switch_learner(kind)
        window.model.set_budget(40)  # a new learner gets its kind's default budget
    window.model.start()
    wait_state(window, "done")
    return window.model.active


def running(qtbot, window):
    window.model.set_budget(100_000)
    window.model.start()
    qtbot.waitUntil(lambda: window.model.snapshot is not None and window.model.snapshot.iteration >= 2,
                    timeout=TIMEOUT)


def test_use_on_another_learner_while_training_asks_and_no_keeps_it_training(qtbot, window, wait_state,
                                                                            dialogs):
    trained(window, wait_state, "pretrained")
    baseline = window.model.active
    assert window.model.switch_learner("maml")
    running(qtbot, window)
    maml = window.model.active
    panel = window.session.panel
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0))  # the pretrained row
    dialogs.answer = False
    panel.activate.emit(panel.selected_name())  # as the "Use" button does
    assert len(dialogs.questions) == 1 and "'MAML' is training" in dialogs.questions[0]
    assert window.model.active is maml and window.state == "training" and window.runner.running
    assert panel.selected_name() == "MAML"  # the list shows again which learner is in use
    # The learner selector asks too; No leaves it showing the learner that trains.
    window.controls.learner.setCurrentIndex(window.controls.learner.findData("pretrained"))
    assert len(dialogs.questions) == 2 and window.state == "training"
    assert window.controls.learner.currentData() == "maml"
    dialogs.answer = True
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0))
    panel.activate.emit(panel.selected_name())
    assert window.model.active is baseline and not window.runner.running and window.state == "done"
    assert maml in window.model.library.entries and maml.iterations >= 2  # stopped, kept


def test_load_settings_never_replaces_a_loaded_checkpoint(qtbot, open_window, wait_state, tmp_path):
    first = open_window()
    trained(first, wait_state)
    assert first.files.save_checkpoint(tmp_path / "run.pt")
    window = open_window()
    assert window.files.load_checkpoint(tmp_path / "run.pt")
    loaded = window.model.active
    weights = {k: t.clone() for k, t in loaded.trainer.learner.tensors.items()}
    settings = tmp_path / "settings.json"
    data = window.model.config.to_dict() | {"shots": 7}
    settings.write_text(json.dumps(data))
    assert window.files.load_settings(settings)
    assert [e.name for e in window.model.library.entries] == ["run", "MAML"]
    assert window.model.active.name == "MAML" and window.model.config.shots == 7 and window.model.iteration == 0
    assert window.model.library.get("run") is loaded and loaded.iterations == 40
    for key, tensor in loaded.trainer.learner.tensors.items():
        assert torch.equal(tensor, weights[key])


def test_quitting_keeps_every_trained_learner_for_the_next_launch(qtbot, open_window, prefs_path, wait_state,
                                                                  tiny, dialogs):
    window = open_window(tiny())
    maml = trained(window, wait_state)
    trained(window, wait_state, "pretrained")
    window.model.rename("pretrained", "my baseline")
    weights = {k: t.clone() for k, t in maml.trainer.learner.tensors.items()}
    losses = list(maml.trainer.losses)
    window.model.switch_learner("multitask")  # untrained and active when quitting: nothing to keep
    window.close()
    assert not dialogs.questions
    again = open_window(None)  # a real launch: settings and learners from the last session
    model = again.model
    assert [(e.name, e.iterations) for e in model.library.trained()] == [("MAML", 40), ("my baseline", 40)]
    restored = model.library.get("MAML").trainer
    for key, tensor in restored.learner.tensors.items():
        assert torch.equal(tensor, weights[key])
    assert list(restored.losses) == losses
    tree = again.session.panel.tree
    assert [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())][:2] == ["MAML", "my baseline"]
    # Compare shows them at once; the session's next quit keeps them again.
    again.session.show_tab(again.session.compare)
    qtbot.waitUntil(lambda: set(again.session.compare.views) == {"MAML", "my baseline"}, timeout=TIMEOUT)


def test_the_learner_active_at_quit_is_active_again(open_window, prefs_path, wait_state, tiny):
    window = open_window(tiny())
    trained(window, wait_state)
    trained(window, wait_state, "pretrained")
    window.close()
    again = open_window(None)
    assert again.model.active.name == "pretrained" and again.state == "done"
    assert again.controls.learner.currentData() == "pretrained"
    assert [e.name for e in again.model.library.entries] == ["MAML", "pretrained"]


def test_forget_saved_session_asks_then_drops_everything(open_window, prefs_path, wait_state, tiny, dialogs):
    window = open_window(tiny())
    trained(window, wait_state)
    window.close()
    again = open_window(None)
    assert [e.name for e in again.model.library.trained()] == ["MAML"]
    dialogs.answer = False
    assert not again.session.ask_forget()
    assert "Forget the 1 trained learner" in dialogs.questions[-1] and again.model.library.trained()
    dialogs.answer = True
    actions = [a for a in again.menuBar().actions() if a.text() == "&Learners"][0].menu().actions()
    [forget] = [a for a in actions if a.text().startswith("Forget saved session")]
    forget.trigger()
    assert again.model.library.trained() == [] and again.model.iteration == 0
    assert SessionStore(Preferences(prefs_path).data_folder() / "session").load().entries == []
    again.close()
    assert open_window(None).model.library.trained() == []


def test_a_failed_save_at_quit_asks_and_no_keeps_the_window_open(qtbot, open_window, wait_state, tiny, dialogs,
                                                                  prefs_path):
    window = open_window(tiny())
    trained(window, wait_state)
    data = Preferences(prefs_path).data_folder()
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("a file where the data folder should be")  # the session cannot be saved there
    window.show()
    dialogs.answer = False
    assert not window.close()
    assert window.isVisible() and "cannot" in dialogs.questions[-1] and "Quit anyway" in dialogs.questions[-1]
    assert window.model.library.trained()[0].iterations == 40
    dialogs.answer = True
    assert window.close()


def test_a_launch_with_bad_stored_preferences_starts_from_defaults_and_says_so(qtbot, open_window, prefs_path,
                                                                               dialogs):
    store = QSettings(str(prefs_path), QSettings.Format.IniFormat)
    store.setValue("run/config", json.dumps({"learner": "maml", "seed": 1e30}))
    store.sync()
    window = open_window(None)
    qtbot.waitUntil(lambda: bool(dialogs.messages), timeout=TIMEOUT)  # shown once the window is up
    assert "cannot be used" in dialogs.messages[0] and "default settings" in dialogs.messages[0]
    assert "seed" in dialogs.messages[0] and window.model.config.seed == 0


def test_an_unreadable_saved_learner_is_named_and_the_rest_come_back(qtbot, open_window, prefs_path, wait_state,
                                                                     tiny, dialogs):
    window = open_window(tiny())
    trained(window, wait_state)
    trained(window, wait_state, "pretrained")
    window.close()
    folder = Preferences(prefs_path).data_folder() / "session"
    index = json.loads((folder / "session.json").read_text())
    (folder / index["entries"][0]["file"]).write_bytes(b"not a checkpoint")
    again = open_window(None)
    assert [e.name for e in again.model.library.trained()] == ["pretrained"]
    qtbot.waitUntil(lambda: bool(dialogs.messages), timeout=TIMEOUT)
    assert "'MAML' was not restored" in dialogs.messages[0] and "unrestored-" in dialogs.messages[0]


def test_after_a_rolled_back_step_the_list_shows_the_kept_iteration(qtbot, open_window, tiny, wait_state):
    window = open_window(tiny(iterations=30))
    model = window.model
    model.step()
    qtbot.waitUntil(lambda: model.snapshot is not None and model.snapshot.iteration == 1, timeout=TIMEOUT)
    model.stop()
    model.set_rates(inner_lr=0.01, meta_lr=50.0)  # the next step jumps far; the one after finds it
    model.start()
    wait_state(window, "diverged")
    kept = model.trainer.learner.iteration
    item = window.session.panel.tree.topLevelItem(0)
    assert item.text(2) == str(kept) and model.iteration == kept
    window.explore.draw_now()
    assert f"iteration {kept:,} /" in window.status.text.text()


def _save_from_another_window(prefs_path, trainer) -> SessionStore:
    """What a second window quitting does: save its own learners to the same session."""
    other = SessionStore(Preferences(prefs_path).data_folder() / "session")
    other.save([("theirs", trainer)], "theirs")
    return other


def test_a_session_another_window_saved_is_replaced_only_when_asked(qtbot, open_window, prefs_path, wait_state,
                                                                     tiny, dialogs):
    window = open_window(tiny())
    mine = trained(window, wait_state)
    other = _save_from_another_window(prefs_path, mine.trainer)
    window.show()
    dialogs.answer = False
    assert not window.close()  # No: the window stays open, nothing is written
    assert window.isVisible() and "Another metaviz window saved its learners" in dialogs.questions[-1]
    assert [name for name, _ in other.load().entries] == ["theirs"]
    dialogs.answer = True
    assert window.close()
    assert [name for name, _ in other.load().entries] == ["MAML"]


def test_a_window_with_nothing_trained_leaves_another_windows_session(open_window, prefs_path, wait_state, tiny,
                                                                      dialogs):
    window = open_window(tiny())
    trainer = trained(window, wait_state).trainer
    window.model.forget_all()
    other = _save_from_another_window(prefs_path, trainer)
    window.close()
    assert not dialogs.questions
    assert [name for name, _ in other.load().entries] == ["theirs"]

"""The window offers the learners and task families that METAVIZ_PLUGINS names."""

from __future__ import annotations

import os
import textwrap

import pytest

from metaviz import plugins
from metaviz.learners import LEARNER_REGISTRY
from metaviz.plugins import load_plugins
from metaviz.tasks import FAMILY_REGISTRY

LEARNER_PLUGIN = textwrap.dedent("""
    from metaviz.learners import LearnerSpec
    from metaviz.learners.maml import MAML


    class PluginMAML(MAML):
        pass


    LEARNERS = (LearnerSpec("pluginmaml", "plugin MAML", "#123456", PluginMAML),)
""")

FAMILY_PLUGIN = textwrap.dedent("""
    from metaviz.tasks.base import Parameter, TaskFamily


    class PluginTriangle(TaskFamily):
        name = "plugintri"
        label = "plugin triangles"
        parameters = (Parameter("height", "Height", 0.5, 2.0, "the peak at x = 0"),)

        def truth(self, tasks, x):
            return tasks[:, :1].unsqueeze(-1) * (1 - x.abs() / 5)


    FAMILIES = (PluginTriangle,)
""")


@pytest.fixture
def isolated_registries(monkeypatch):
    """The registries are process-wide: what this test's plugins add is gone afterwards."""
    for registry in (LEARNER_REGISTRY, FAMILY_REGISTRY):
        registry.names()  # the built-ins load into the real registry first
        monkeypatch.setattr(registry, "_items", dict(registry._items))
        monkeypatch.setattr(registry, "_origins", dict(registry._origins))
    monkeypatch.setattr(plugins, "_loaded", dict(plugins._loaded))


def combo_data(combo):
    return {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}


def test_the_window_lists_plugin_learners_and_families(qtbot, isolated_registries, open_window, tiny, tmp_path,
                                                       wait_state, dialogs):
    learner_file, family_file = tmp_path / "learner_plugin.py", tmp_path / "family_plugin.py"
    learner_file.write_text(LEARNER_PLUGIN)
    family_file.write_text(FAMILY_PLUGIN)
    problems = load_plugins(environ={"METAVIZ_PLUGINS": f"{learner_file}{os.pathsep}{family_file}"},
                            entry_points=False)
    assert problems == []

    window = open_window(tiny())
    learners, families = combo_data(window.controls.learner), combo_data(window.controls.family)
    assert learners["pluginmaml"] == "plugin MAML" and "maml" in learners
    assert families["plugintri"] == "plugin triangles" and "sinusoid" in families
    assert list(window.task_panel.sliders) == ["amp", "phase"]

    # Choosing the plugin family rebuilds the hand-made-task sliders from its parameters.
    window.controls.family.setCurrentIndex(window.controls.family.findData("plugintri"))
    model = window.model
    assert model.config.task.family == "plugintri" and model.history.family.name == "plugintri"
    assert list(window.task_panel.sliders) == ["height"]
    slider = window.task_panel.sliders["height"]
    assert (slider.low, slider.high) == (0.5, 2.0)
    assert slider.value() == model.history.current.params[0]
    slider.spin.setValue(1.5)  # a hand-made task of the plugin family
    assert model.history.current.params == (1.5,)

    # The plugin learner trains on the plugin family in the window.
    window.controls.learner.setCurrentIndex(window.controls.learner.findData("pluginmaml"))
    assert model.config.learner == "pluginmaml" and model.config.task.family == "plugintri"
    assert model.active.name == "plugin MAML"
    model.set_budget(5)
    model.start()
    wait_state(window, "done")
    assert model.trainer.learner.iteration == 5 and type(model.trainer.learner).__name__ == "PluginMAML"
    assert dialogs.messages == []

"""Preferences that persist between launches (QSettings) and settings files (JSON).

Tests pass an explicit INI path, so nothing touches the user's real preferences.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from ..config import TrainConfig
from ..files import write_atomic
from ..learners import make_learner

ORGANISATION = "metaviz"
APPLICATION = "metaviz"


class Preferences:
    """Window geometry, the last settings and the last folder used in a file dialog."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        if path is None:
            self._store = QSettings(ORGANISATION, APPLICATION)
        else:
            self._store = QSettings(str(path), QSettings.Format.IniFormat)

    def geometry(self) -> QByteArray | None:
        value = self._store.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, geometry: QByteArray) -> None:
        self._store.setValue("window/geometry", geometry)

    def last_config(self) -> TrainConfig | None:
        """The settings of the last session, or None if absent or no longer valid."""
        text = self._store.value("run/config")
        if not isinstance(text, str):
            return None
        try:
            config = TrainConfig.from_dict(json.loads(text))
            make_learner(config)  # stored settings that no longer build (a plugin gone, ...) are dropped
            return config
        except (ValueError, RecursionError, RuntimeError):  # json.JSONDecodeError is a ValueError too
            return None

    def set_last_config(self, config: TrainConfig) -> None:
        self._store.setValue("run/config", json.dumps(config.to_dict()))

    def last_folder(self) -> str:
        value = self._store.value("files/last_folder")
        return value if isinstance(value, str) and Path(value).is_dir() else str(Path.home())

    def set_last_folder(self, folder: str | os.PathLike) -> None:
        self._store.setValue("files/last_folder", str(folder))

    def sync(self) -> None:
        self._store.sync()


def save_settings_json(path: str | os.PathLike, config: TrainConfig) -> None:
    """The run's settings in the format ``TrainConfig.from_dict`` reads."""
    try:
        write_atomic(path, json.dumps(config.to_dict(), indent=2) + "\n")
    except OSError as exc:
        raise ValueError(str(exc)) from exc


def load_settings_json(path: str | os.PathLike) -> TrainConfig:
    """Settings from a JSON file; a missing, unreadable or invalid file raises ``ValueError``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a text file") from exc
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(f"{path} is nested too deeply to be settings") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    try:
        return TrainConfig.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc

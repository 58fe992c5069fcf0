"""Preferences that persist between launches (QSettings) and settings files (JSON).

Tests pass an explicit INI path, so nothing touches the user's real preferences.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from ..config import TrainConfig
from ..files import write_atomic
from ..learners import make_learner

ORGANISATION = "metaviz"
APPLICATION = "metaviz"


class Preferences:
    """Window geometry, the last settings and the last folder used in a file dialog; and
    where the session's learners are kept (:meth:`data_folder`).

    ``problems`` lists, for a person, what was stored but could not be used."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.problems: list[str] = []
        self._path = None if path is None else Path(path)
        if path is None:
            self._store = QSettings(ORGANISATION, APPLICATION)
        else:
            self._store = QSettings(str(path), QSettings.Format.IniFormat)

    def data_folder(self) -> Path:
        """The user's data folder for metaviz (QStandardPaths' AppDataLocation); beside the
        preferences file when one was given (tests, screenshots: never the user's)."""
        if self._path is not None:
            return self._path.with_name(self._path.stem + "-data")
        return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))

    def geometry(self) -> QByteArray | None:
        value = self._store.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, geometry: QByteArray) -> None:
        self._store.setValue("window/geometry", geometry)

    def last_config(self) -> TrainConfig | None:
        """The settings of the last session, or None if absent or no longer valid (then
        ``problems`` says why: the window starts from the defaults and tells the user)."""
        text = self._store.value("run/config")
        if text is None:
            return None
        try:
            if not isinstance(text, str):
                raise ValueError("not text")
            config = TrainConfig.from_dict(json.loads(text))
            make_learner(config)  # stored settings that no longer build (a plugin gone, ...) are dropped
            return config
        except (ValueError, RecursionError, RuntimeError, MemoryError) as exc:  # JSONDecodeError is a ValueError
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc) or type(exc).__name__
            self.problems.append(f"The settings saved by the last session cannot be used ({_short(reason)}): "
                                 f"metaviz starts from the default settings.")
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


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


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

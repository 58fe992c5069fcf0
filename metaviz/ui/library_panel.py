"""The list of this session's learners: what is trained, for how long; rename, use,
save or drop each. The window owns the logic; this panel only asks for it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from ..learners import learner_spec
from ..session import LearnerLibrary

NAME_ROLE = Qt.ItemDataRole.UserRole


class LibraryPanel(QWidget):
    """Signals carry entry names: ``activate`` (train/explore this one), ``save``,
    ``drop`` and ``rename(old, new)`` (typed in place; the window validates it)."""

    activate = Signal(str)
    save = Signal(str)
    drop = Signal(str)
    rename = Signal(str, str)

    def __init__(self, library: LearnerLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.active = ""
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["name", "learner", "iterations"])
        self.tree.setRootIsDecorated(False)
        self.tree.setToolTip("Double-click a name to rename it. Every trained learner appears in Compare, "
                             "and is kept for the next launch when you quit.")
        self.tree.itemChanged.connect(self._on_item_changed)
        # Only the name is editable: edit on double-click in that column, nowhere else.
        self.tree.setEditTriggers(QTreeWidget.EditTrigger.NoEditTriggers)
        self.tree.itemDoubleClicked.connect(lambda item, column: column == 0 and self.tree.editItem(item, 0))
        buttons = QHBoxLayout()
        for label, signal, tip in (("Use", self.activate, "Make this the learner the window trains and shows "
                                                           "(asks first if another one is training)"),
                                   ("Save\u2026", self.save, "Save this learner as a checkpoint"),
                                   ("Drop", self.drop, "Forget this learner")):
            button = QPushButton(label)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, s=signal: self._emit_selected(s))
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)
        layout.addLayout(buttons)

    def refresh(self, active: str, colours: dict[str, str] | None = None) -> None:
        """Redraw from the library; the ``active`` entry is bold and selected; each name has
        a swatch of its colour (``colours``: name -> '#rrggbb'), as in Compare and Evaluate."""
        self.active = active
        self.tree.blockSignals(True)  # filling the tree is not a rename
        self.tree.clear()
        for entry in self.library.entries:
            item = QTreeWidgetItem([entry.name, learner_spec(entry.kind).label, str(entry.iterations)])
            item.setData(0, NAME_ROLE, entry.name)
            if colours and entry.name in colours:
                swatch = QPixmap(12, 12)
                swatch.fill(QColor(colours[entry.name]))
                item.setIcon(0, QIcon(swatch))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if entry.name == active:
                font = item.font(0)
                font.setBold(True)
                for column in range(3):
                    item.setFont(column, font)
            self.tree.addTopLevelItem(item)
            if entry.name == active:
                self.tree.setCurrentItem(item)
        for column in range(3):
            self.tree.resizeColumnToContents(column)
        self.tree.blockSignals(False)

    def update_iterations(self, name: str, iterations: int) -> None:
        """Cheap live update of one row while it trains."""
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, NAME_ROLE) == name:
                self.tree.blockSignals(True)
                item.setText(2, str(iterations))
                self.tree.blockSignals(False)

    def selected_name(self) -> str | None:
        item = self.tree.currentItem()
        return None if item is None else item.data(0, NAME_ROLE)

    def _emit_selected(self, signal) -> None:
        name = self.selected_name()
        if name is not None:
            signal.emit(name)

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        old, new = item.data(0, NAME_ROLE), item.text(0).strip()
        if column == 0 and new != old:
            self.rename.emit(old, new)

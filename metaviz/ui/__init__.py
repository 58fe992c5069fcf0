"""The desktop window (PySide6 + pyqtgraph). Imports the core; the core never imports this."""

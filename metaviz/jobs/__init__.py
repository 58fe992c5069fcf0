"""Long work as plain generators (training, evaluation, reproduce).

A job yields events in small units (:mod:`.events`); whoever drives it (the CLI through
:func:`drain`, the window through its one runner) checks a :class:`~.control.JobControl`
between units, so pause and cancel take effect within one unit, and closing the
generator runs the job's own clean-up.
"""

from .control import JobControl, TrainControl
from .events import Log, Progress, Result, drain

__all__ = ["JobControl", "Log", "Progress", "Result", "TrainControl", "drain"]

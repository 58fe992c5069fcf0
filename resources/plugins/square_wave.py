"""A metaviz plugin: square waves (a task family metaviz does not ship).

y = A * sign(sin(2 pi x / period - phase)): a wave that jumps between -A and +A, which
no smooth network fits exactly from a few points. Load it with
``--plugin resources/plugins/square_wave.py`` or ``METAVIZ_PLUGINS``.
"""

from __future__ import annotations

import math

import torch

from metaviz.tasks import Parameter, TaskFamily


class SquareWave(TaskFamily):
    name = "squarewave"
    label = "Square waves (plugin)"
    description = "y = A sign(sin(2 pi x / period - phase)): jumps between -A and +A"
    parameters = (
        Parameter("amp", "Amplitude", 0.5, 3.0, "A, the height of the wave"),
        Parameter("period", "Period", 2.0, 6.0, "the length of one cycle along x"),
        Parameter("phase", "Phase", 0.0, 2 * math.pi, "the shift of the wave, in radians"),
    )
    x_range = (-5.0, 5.0)

    def truth(self, tasks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        amp, period, phase = (tasks[:, i].view(-1, 1, 1) for i in range(3))
        return amp * torch.sign(torch.sin(2 * math.pi * x / period - phase))

    def y_bound(self) -> float:
        return max(abs(v) for v in self.ranges["amp"])


FAMILIES = (SquareWave,)

"""Step functions: piecewise constant with one to three jumps at random places.

No published source; defined here to show what smooth learners do at a discontinuity.
A task has ``jumps`` ~ uniform on {1, 2, 3}, jump places ``at1``..``at3`` ~ U[-4, 4] (a
unit clear of each end of the x range, so every jump has room on both sides to be
seen), and levels ``level0``..``level3`` ~ U[-3, 3]; x ~ U[-5, 5].

y(x) = level_c, where c is the number of the task's jumps at or left of x: level0 left
of every jump, then the next level after each jump in the order the jumps lie along x
(the places need not be sorted; only the first ``jumps`` of them count).

No exact oracle: the posterior over the jump places and levels has no closed form.
"""

from __future__ import annotations

import torch

from .base import Parameter, TaskFamily

MAX_JUMPS = 3


class Step(TaskFamily):
    name = "step"
    label = "Step functions (1 to 3 jumps)"
    description = "piecewise constant: discontinuities at random places"
    parameters = (
        Parameter("jumps", "Jumps", 1, MAX_JUMPS, "how many of the places below are jumps", integer=True),
        *(Parameter(f"at{i}", f"Jump place {i}", -4.0, 4.0, "where a jump lies along x")
          for i in range(1, MAX_JUMPS + 1)),
        *(Parameter(f"level{i}", f"Level {i}", -3.0, 3.0,
                    "left of every jump" if i == 0 else f"after the {i}. jump along x")
          for i in range(MAX_JUMPS + 1)),
    )
    x_range = (-5.0, 5.0)

    def truth(self, tasks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        jumps = (tasks[:, 0] + 0.5).floor().clamp(0, MAX_JUMPS).view(-1, 1, 1)  # nearest; halves up
        places = tasks[:, 1:1 + MAX_JUMPS].view(-1, 1, MAX_JUMPS)  # [T, 1, J]
        levels = tasks[:, 1 + MAX_JUMPS:]  # [T, J + 1]
        active = torch.arange(MAX_JUMPS, dtype=tasks.dtype) < jumps  # [T, 1, J]
        count = ((x >= places) & active).sum(dim=-1)  # [T, N]: jumps at or left of x
        return levels.gather(1, count).unsqueeze(-1).to(x.dtype)

    def y_bound(self) -> float:
        return max(abs(v) for i in range(MAX_JUMPS + 1) for v in self.ranges[f"level{i}"])


FAMILIES = (Step,)

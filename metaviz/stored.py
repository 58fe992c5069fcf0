"""Checks of values read back from a file (a checkpoint), before anything uses them.

A checkpoint from elsewhere is untrusted input: ``torch.load(weights_only=True)`` runs
no code, but it happily returns a list where a tensor belongs, a tensor on the meta
device, float64 or integer values, or an *expanded* view whose shape claims far more
elements than its storage holds (a stride-0 tensor of shape [10^6, 10^4] stored in
4 bytes: anything that copies it, or calls ``.tolist()``, allocates gigabytes). Each
check here names the field and raises ``ValueError`` with one line for a person.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import torch


def _kind(value: Any) -> str:
    return "a tensor" if isinstance(value, torch.Tensor) else f"a {type(value).__name__}"


def stored_tensor(field: str, value: Any, dtype: torch.dtype, shape: Sequence[int] | None = None,
                  ndim: int | None = None, finite: bool = True) -> torch.Tensor:
    """``value`` if it is a plain CPU tensor of ``dtype`` whose elements its storage holds
    (contiguous, so no stride-0 or overlapping view), of ``shape`` (or ``ndim`` dimensions),
    and, with ``finite``, without nan or inf. Checked in that order, so nothing is
    computed on a tensor before its size is known to be real."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{field} must be a tensor, found {_kind(value)}")
    if value.layout != torch.strided or value.is_quantized:
        raise ValueError(f"{field} must be a dense tensor, found layout {value.layout}")
    if value.device.type != "cpu":
        raise ValueError(f"{field} is on the {value.device.type} device, expected a CPU tensor")
    if value.dtype != dtype:
        raise ValueError(f"{field} holds {str(value.dtype).removeprefix('torch.')} values, "
                         f"expected {str(dtype).removeprefix('torch.')}")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise ValueError(f"{field} has shape {tuple(value.shape)}, expected {tuple(shape)}")
    if ndim is not None and value.dim() != ndim:
        raise ValueError(f"{field} has {value.dim()} dimensions, expected {ndim}")
    # Contiguous with its storage in bounds (torch.load checked the bounds): every element
    # it claims is a byte of the file. An expanded or strided view is refused unread.
    if not value.is_contiguous():
        raise ValueError(f"{field} is a strided or expanded view (strides {value.stride()}), "
                         f"not a tensor metaviz writes")
    if finite and (value.is_floating_point() or value.is_complex()) and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{field} holds non-finite values (nan or inf)")
    return value


def stored_int(field: str, value: Any, minimum: int, maximum: int) -> int:
    """``value`` as an int if it is an integer (not a bool, not a float) in [minimum, maximum]."""
    if isinstance(value, bool):
        raise ValueError(f"{field} must be an integer, found a bool")
    try:
        number = operator.index(value)  # ints and 0-dim integer tensors; never 2.5 or "3"
    except TypeError:
        raise ValueError(f"{field} must be an integer, found {_kind(value)}") from None
    if not minimum <= number <= maximum:
        shown = f"{number:,}" if abs(number) < 10**30 else f"an integer of {len(str(abs(number)))} digits"
        raise ValueError(f"{field} must be between {minimum:,} and {maximum:,}, found {shown}")
    return number


def stored_float(field: str, value: Any, minimum: float, maximum: float, include_minimum: bool = True) -> float:
    """``value`` as a float if it is a finite real number in [minimum, maximum] (or
    (minimum, maximum] without ``include_minimum``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{field} must be a number, found {_kind(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        number = math.inf if value > 0 else -math.inf
    if not math.isfinite(number):
        raise ValueError(f"{field} must be finite, found {number}")
    low_ok = number >= minimum if include_minimum else number > minimum
    if not (low_ok and number <= maximum):
        bracket = "[" if include_minimum else "("
        raise ValueError(f"{field} must be in {bracket}{minimum:g}, {maximum:g}], found {number:g}")
    return number

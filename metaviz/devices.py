"""Where a learner computes: ``--device auto|cpu|cuda`` resolved for one learner.

Learners list the devices they run on (``Learner.devices``); callers always pass and
get CPU tensors, so only the training loop's tensors live on the device.
"""

from __future__ import annotations

CHOICES = ("auto", "cpu", "cuda")


def cuda_present() -> bool:
    import torch  # here: the CLI's parser reads CHOICES before torch is imported

    return torch.cuda.is_available()


def check_choice(choice: str) -> None:
    """Raise ``ValueError`` (one line) for an unknown choice, or cuda where there is none."""
    if choice not in CHOICES:
        raise ValueError(f"device: expected one of {', '.join(CHOICES)}, got {choice!r}")
    if choice == "cuda" and not cuda_present():
        raise ValueError("device: cuda was asked for, but torch finds no CUDA device here")


def resolve_device(choice: str, supported: tuple[str, ...], fallback: bool = False) -> str:
    """"cpu" or "cuda" for a learner that runs on ``supported``. "auto" is cuda when a
    CUDA device is present and the learner runs there. An explicit choice the learner
    cannot take is returned as it is (``Learner.to`` refuses it in one line: the CLI's
    user named it for this learner), or with ``fallback`` becomes the CPU (the window:
    one choice for every learner of a session)."""
    check_choice(choice)
    if choice == "auto":
        return "cuda" if "cuda" in supported and cuda_present() else "cpu"
    if fallback and choice not in supported:
        return "cpu"
    return choice


def device_label(device: str) -> str:
    """"cpu", or "cuda (the card's name)"."""
    if device == "cuda" and cuda_present():
        import torch

        return f"cuda ({torch.cuda.get_device_name()})"
    return device

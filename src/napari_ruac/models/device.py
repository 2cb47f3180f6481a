"""Choosing the torch device: cuda → mps → cpu unless the user says otherwise."""

from __future__ import annotations

import torch

from ..io.naming import argument


class DeviceError(ValueError):
    pass


def available_devices() -> list[str]:
    devices = []
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" if torch.cuda.device_count() > 1 else "cuda" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    devices.append("cpu")
    return devices


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/``"auto"`` picks cuda, then mps, then cpu; an explicit device must exist."""
    if device is None or str(device) == "auto":
        return torch.device(available_devices()[0])
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(
            f"{argument('device', repr(str(device)))} is not a device: use auto, cpu, cuda, cuda:N or mps "
            f"(this machine has: {', '.join(available_devices())})."
        )
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            f"device {str(device)!r} was requested but CUDA is not available to this torch "
            f"({torch.__version__}). Use {argument('device', 'cpu')} (or auto), or install a CUDA build of torch."
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise DeviceError(f"device {str(device)!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s).")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceError(f"device 'mps' was requested but Apple MPS is not available here; use {argument('device', 'cpu')} or auto.")
    return dev

"""Where training and evaluation run: ``auto``, ``cpu``, ``cuda`` (``cuda:N``) or ``mps``. Needs torch.

One rule for every command that trains or evaluates: ``auto`` is the CUDA GPU when torch sees one, else the
CPU (MPS only when asked for: some ops lack an MPS kernel); a device that is not there is refused with one
message. Mixed precision (bf16 autocast, fp16 with a gradient scaler where bf16 is missing) only on CUDA:
results on the CPU are those of plain float32.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from nas_edge.errors import NasEdgeError

DEVICES = ("auto", "cpu", "cuda", "mps")
_SPEC_RE = re.compile(r"^(auto|cpu|mps|cuda)(?::(\d+))?$")


class DeviceError(NasEdgeError, ValueError):
    """A device that was asked for and is not there (or an unknown device name)."""


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """The torch device for ``spec`` (``None`` = ``auto``), or :class:`DeviceError` naming what is missing."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    text = (spec or "auto").strip().lower()
    m = _SPEC_RE.match(text)
    if m is None or (m.group(2) is not None and m.group(1) != "cuda"):
        raise DeviceError(f"unknown device {spec!r}; expected one of {', '.join(DEVICES)} (or cuda:N)")
    kind, index = m.group(1), m.group(2)
    if kind == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if kind == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise DeviceError("--device mps: Apple's Metal (MPS) backend is not available on this machine "
                              "(use --device cpu or auto)")
        return torch.device("mps")
    if not torch.cuda.is_available():
        build = "a build without CUDA" if torch.version.cuda is None else f"CUDA {torch.version.cuda}, no GPU visible"
        raise DeviceError(f"--device {text}: CUDA is not available (torch {torch.__version__}, {build}); "
                          "use --device cpu or auto")
    if index is not None and int(index) >= torch.cuda.device_count():
        raise DeviceError(f"--device {text}: only {torch.cuda.device_count()} CUDA device(s) visible")
    return torch.device(text)


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype for training on ``device``: bf16 (fp16 on GPUs without it) on CUDA, else None."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def autocast(device: torch.device) -> Iterator[None]:
    """Mixed precision on CUDA; a no-op elsewhere."""
    dtype = amp_dtype(device)
    if dtype is None:
        yield
        return
    with torch.autocast(device_type="cuda", dtype=dtype):
        yield


def grad_scaler(device: torch.device) -> torch.amp.GradScaler:
    """A gradient scaler, enabled only where autocast runs in fp16."""
    return torch.amp.GradScaler("cuda", enabled=amp_dtype(device) == torch.float16)


def generator(device: torch.device, seed: int) -> torch.Generator:
    """A seeded random generator living on ``device`` (random ops on the device need one there)."""
    return torch.Generator(device=device).manual_seed(int(seed))


def set_layout(model: nn.Module, channels_last: bool) -> nn.Module:
    """``model`` with its 4-D weights in the channels-last layout (``True``; 1.6-2x faster convolutions on CPUs
    for the cnn space's networks, and what tensor cores want) or back in the usual one."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return cast_any(model).to(memory_format=fmt)


def cast_any(obj: object) -> Any:
    """``Module.to(memory_format=...)`` works but is missing from torch's type stubs."""
    return obj

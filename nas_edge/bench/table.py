"""``nas-edge bench table``: every cell x every accuracy field x cost totals on every profile, citable.

One row per cell (15,625): ``cell`` (:func:`nas_edge.spaces.nb201.cell_index`), ``arch`` (the NAS-Bench-201
string), ``network`` (the smallest cell that builds the same network: cells with equal ``network`` differ only
in dead edges or naming, :func:`nas_edge.spaces.nb201.network_key`, and have equal costs), ``model_size``
(NAS-Bench-201's parameter count: every edge that is not ``none``, dead or live), ``params`` and ``macs`` (the
search's metrics: weights and MACs of the layers that run), the accuracy fields
(:data:`nas_edge.bench.fields.FIELDS`), then ``<total>@<profile>`` for each profile and each of
:data:`nas_edge.bench.costs.COST_COLUMNS`. Costs are of the CIFAR-10 network (3 x 32 x 32 input, 10 classes).

The header records nas-edge's version, both data packages' versions, each profile's content hash
(:func:`nas_edge.bench.costs.profile_hash`) and the table hash: the SHA-256 of the CSV body (column line and
rows, exactly as ``to_csv`` writes them after the ``#`` header lines), so a CSV and a Parquet file of the
same table carry the same hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nas_edge._io import write_atomic
from nas_edge.bench.costs import COST_COLUMNS, cell_costs
from nas_edge.bench.data import BenchData, load
from nas_edge.bench.fields import FIELDS
from nas_edge.errors import NasEdgeError
from nas_edge.spaces.nb201 import N_CELLS, arch_string, network_representatives, ops_of_index

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class TableFormatError(NasEdgeError, ValueError):
    """An output file whose name says no table format."""


def table_format(path: str | Path) -> str:
    """``csv`` or ``parquet``, by the file's suffix (checked before the table is built)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise TableFormatError(f"{path}: the table is written as CSV or Parquet; name the file "
                               f"{' or '.join(FORMATS)}")
    return FORMATS[suffix]


def cost_column(total: str, profile: str) -> str:
    return f"{total}@{profile}"


@dataclass
class BenchTable:
    columns: dict[str, np.ndarray]
    header: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.columns["cell"])

    def csv_body(self) -> str:
        names = list(self.columns)
        cols = [self.columns[n].tolist() if self.columns[n].dtype.kind in "iuO" else
                [format(v, ".10g") for v in self.columns[n].tolist()] for n in names]
        lines = [",".join(names)]
        lines += [",".join(map(str, row)) for row in zip(*cols, strict=True)]
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        body = self.csv_body()
        header = {**self.header, "table_sha256": hashlib.sha256(body.encode()).hexdigest()}
        return "".join(f"# {k}: {json.dumps(v, sort_keys=True)}\n" for k, v in header.items()) + body

    def write(self, path: str | Path) -> dict[str, Any]:
        """Write CSV or Parquet (by the suffix: :func:`table_format`) atomically; returns the header written."""
        path = Path(path)
        fmt = table_format(path)
        body = self.csv_body()
        header = {**self.header, "table_sha256": hashlib.sha256(body.encode()).hexdigest()}
        if fmt == "csv":
            write_atomic(path, "".join(f"# {k}: {json.dumps(v, sort_keys=True)}\n" for k, v in header.items()) + body)
            return header
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ImportError('writing Parquet needs pyarrow: pip install "nas-edge[bench]"') from None
        table = pa.table({n: c for n, c in self.columns.items()})
        table = table.replace_schema_metadata({"nas_edge.bench": json.dumps(header, sort_keys=True)})
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        write_atomic(path, sink.getvalue().to_pybytes())
        return header


def build_table(profiles: Sequence[str] | None = None, *, data: BenchData | None = None) -> BenchTable:
    """The table on ``profiles`` (default: every built-in profile, IMC and edge)."""
    from nas_edge import __version__

    data = data or load()
    costs = cell_costs(profiles, totals=COST_COLUMNS)
    cols: dict[str, np.ndarray] = {
        "cell": np.arange(N_CELLS, dtype=np.int64),
        "arch": np.array([arch_string(ops_of_index(i)) for i in range(N_CELLS)], dtype=object),
        "network": np.array(network_representatives(), dtype=np.int64),
        "model_size": costs.model_size.astype(np.int64),
        "params": costs.params.astype(np.int64),
        "macs": costs.macs.astype(np.int64),
    }
    cols.update({f: data.columns[f] for f in FIELDS})
    for p in costs.profiles:
        for t in COST_COLUMNS:
            cols[cost_column(t, p)] = costs.column(t, p)
    header = {"nas_edge_bench": 2, "nas_edge": __version__, **{k: v for k, v in data.versions.items()},
              "cost_network": "nb201 CIFAR (3x32x32 input, 10 classes)", "rows": N_CELLS,
              "profiles": costs.hashes}
    return BenchTable(cols, header)

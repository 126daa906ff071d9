"""A lean row builder for the analytic workloads (the hot path of a search: no dicts, no per-row checks).

Rows follow :func:`nas_edge.workload.table.layer_row` exactly (a test holds the two together); the
``Workload`` constructor still validates the finished table.

A space's rows follow the fusion convention of the adapters (:mod:`nas_edge.workload._fuse`), so that
``layers(arch)`` equals ``Workload.from_torch(build(arch))`` row for row: no rows for a bias, an inference
batch norm or a ReLU-type activation after a convolution or linear layer; a pooling op that is the only
reader of such a layer's output joins it (:meth:`Rows.pool`); everything else (residual adds, the ReLU after
them, sigmoid, GELU, norms, softmax, a squeeze-excite pooling whose input is also read by the scaling) is a
row of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nas_edge.workload.table import OpKind, Workload, conv_out_size

CONV, LINEAR, MATMUL = int(OpKind.CONV), int(OpKind.LINEAR), int(OpKind.DYNAMIC_MATMUL)
ELEMENTWISE, NORM, SOFTMAX, POOL, OTHER = (int(OpKind.ELEMENTWISE), int(OpKind.NORM), int(OpKind.SOFTMAX),
                                           int(OpKind.POOL), int(OpKind.OTHER))


Chunk = tuple[tuple[float, ...], tuple[str, ...]]  # frozen rows (flat values, names) to reuse


class Rows:
    """Append ops one by one; :meth:`workload` turns them into a :class:`Workload`."""

    __slots__ = ("data", "names")

    def __init__(self) -> None:
        self.data: list[float] = []  # flat, 10 values per row
        self.names: list[str] = []

    def conv(self, name: str, cin: int, cout: int, kernel: int, h: int, w: int, stride: int = 1,
             groups: int = 1, padding: int | None = None) -> tuple[int, int]:
        """Square-kernel conv (padding ``kernel // 2`` unless given); returns the output size."""
        pad = kernel // 2 if padding is None else padding
        ho, wo = conv_out_size(h, kernel, stride, pad), conv_out_size(w, kernel, stride, pad)
        k, m = cin // groups * kernel * kernel, ho * wo
        self.data.extend((CONV, k, cout, m, groups, kernel * kernel, m * k * cout, k * cout, cin * h * w,
                          cout * m))
        self.names.append(name)
        return ho, wo

    def linear(self, name: str, fin: int, fout: int, tokens: int = 1) -> None:
        self.data.extend((LINEAR, fin, fout, tokens, 1, 1, tokens * fin * fout, fin * fout, tokens * fin,
                          tokens * fout))
        self.names.append(name)

    def matmul(self, name: str, m: int, k: int, n: int, heads: int = 1) -> None:
        """Activation x activation: ``heads`` independent (m x k) @ (k x n) products."""
        self.data.extend((MATMUL, k, n * heads, m, heads, 1, m * k * n * heads, 0, heads * (m * k + k * n),
                          heads * m * n))
        self.names.append(name)

    def op(self, kind: int, name: str, elements: int, ops: float = 1.0, in_elements: int | None = None) -> None:
        """An element-wise / norm / softmax / pool / other op on ``elements`` outputs."""
        self.data.extend((kind, 1, 1, 1, 1, 1, elements * ops, 0,
                          elements if in_elements is None else in_elements, elements))
        self.names.append(name)

    def pool(self, name: str, elements: int, ops: float, in_elements: int) -> None:
        """A pooling op whose input is the last row's output and nothing else's: it joins that row when the
        row is a convolution or linear layer (whose written outputs become ``elements``), else it is a
        ``POOL`` row. Use :meth:`op` for a pooling whose input has other readers."""
        if self.data and self.data[-10] in (CONV, LINEAR):
            self.data[-1] = elements
        else:
            self.op(POOL, name, elements, ops, in_elements)

    def chunk(self) -> Chunk:
        """The rows so far, frozen (to memoise a repeated piece of a network and :meth:`extend` it later)."""
        return tuple(self.data), tuple(self.names)

    def extend(self, chunk: Chunk) -> None:
        self.data.extend(chunk[0])
        self.names.extend(chunk[1])

    def workload(self, meta: dict[str, Any] | None = None) -> Workload:
        cols = np.array(self.data, dtype=np.float64).reshape(-1, 10).T.copy()  # each column contiguous
        return Workload(kind=cols[0], k=cols[1], n=cols[2], m=cols[3], groups=cols[4], kernel=cols[5],
                        macs=cols[6], params=cols[7], in_elems=cols[8], out_elems=cols[9],
                        names=tuple(self.names), meta=meta or {})

"""One network, one cost: what joins a static layer's row, the one rule every workload source follows.

The hand-written zoo (:mod:`nas_edge.workload.zoo`), :func:`~nas_edge.workload.torch_adapter.from_torch`,
:func:`~nas_edge.workload.onnx_adapter.from_onnx` and the search spaces' analytic rows
(:mod:`nas_edge.spaces`) give the same rows, column for column, for the same network. The convention is the
layer accounting of DNN+NeuroSim (``Chip.cpp``: a layer's ReLU and a following max-pool run in the layer's
output stage, its output is written to the buffer after pooling; batch norm and bias are folded into the
weights offline):

- **Epilogue, no row and no cost.** A bias add (a static operand with one value per output), an inference
  batch norm and a piecewise-linear activation (ReLU, ReLU6 / ``Clip`` / ``hardtanh``, leaky ReLU, hard
  sigmoid) that read a static layer's output, and nothing else reads that output, join the layer: they are
  applied as its outputs are written.
- **Pooling joins the layer.** A pooling op (max / average / Lp pooling with a window, global pooling, a
  mean / sum / max / min reduction) that reads a static layer's output (after any epilogue), and is that
  output's only reader, joins the layer too: no row, and the layer's ``out_elems`` become the pooled
  elements (what is written to the buffer; NeuroSim divides the layer's output traffic by the pooling
  window). Its comparisons / additions are not costed (NeuroSim's max-pool circuit is a small share of
  the layer's energy).
- **Views** (reshape, flatten, transpose of a layer's output read by nothing else) pass the layer on, so
  that an epilogue after a flatten still joins it.
- **Everything else is its own row**: residual adds and the activation after them are element-wise rows
  (NeuroSim's ResNet-18 network file has no adds at all; we cost them), norms that are not inference
  batch norms after a static layer, softmax, non-linear activations (GELU, sigmoid, SiLU, ...), a pooling
  whose input is also read elsewhere (squeeze-excite), and so on.

"Reads the output and nothing else does" counts every reader, graph outputs included. Both adapters
describe each op as an :class:`Op` and :func:`fuse` applies the rules; the spaces follow them by
construction (:meth:`nas_edge.spaces._rows.Rows.pool`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from nas_edge.workload import _rows as R
from nas_edge.workload.table import OpKind

Row = dict[str, Any]
Fold = Literal["view", "epilogue", "pool"]

# ONNX op types and ATen op names (exact spelling: ONNX's element-wise ``Max``/``Sum`` are not ATen's
# ``max``/``sum`` reductions)
#: piecewise-linear activations a layer's output stage applies
FUSED_ACTIVATIONS = frozenset(("Relu", "Clip", "LeakyRelu", "HardSigmoid",
                               "relu", "hardtanh", "leaky_relu", "hardsigmoid", "clamp", "clamp_min", "relu6"))
#: inference batch norms (the adapters keep the training form a normalisation row)
BATCH_NORMS = frozenset(("BatchNormalization", "native_batch_norm", "_native_batch_norm_legit_no_training",
                         "_native_batch_norm_legit", "batch_norm"))
#: pooling ops that join the layer before them
FUSED_POOLS = frozenset((
    "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "ReduceMean",
    "ReduceSum", "ReduceMax", "ReduceMin",
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d", "mean", "sum", "amax", "amin", "max", "min",
))


def fold_kind(op: str) -> Fold | None:
    """Which fold an op (ONNX op type or ATen name) may make, before its operands are checked."""
    if op in FUSED_ACTIVATIONS or op in BATCH_NORMS or op in ("Add", "add"):
        return "epilogue"
    if op in FUSED_POOLS:
        return "pool"
    return None


@dataclass(eq=False)
class Op:
    """One op of a traced graph as the fusion pass sees it.

    ``ins``/``outs``: the tensors it reads and writes (any hashable ids; every read counts as a reader).
    ``rows``: its rows when it stays on its own (a list, or a function called only then). ``fold`` / ``src``:
    the fold it may make and the tensor it would join (``None``: never folds). ``bias``: for a bias add, the
    bias's element count (it joins only a layer with that many outputs). ``pooled``: for a pooling op, the
    elements it writes.
    """

    op: str
    ins: tuple[Hashable, ...]
    outs: tuple[Hashable, ...]
    rows: list[Row] | Callable[[], list[Row]]
    fold: Fold | None = None
    src: Hashable | None = None
    bias: int | None = None
    pooled: float = 0.0


def fuse(ops: Iterable[Op], readers: Mapping[Any, int], producer: dict[Any, int] | None = None) -> list[Row]:
    """The rows of ``ops`` (in order) after the folds of the module docstring; each row gets ``"op"``.

    ``readers`` counts, per tensor, the ops that read it plus one if it is a graph output. ``producer``, when
    given, is filled with the tensors that are a static row's (folded) output: tensor -> row index.
    """
    rows: list[Row] = []
    producer = {} if producer is None else producer  # tensor -> the static row it is the (folded) output of
    for op in ops:
        r = producer.get(op.src) if op.fold is not None and op.src is not None else None
        if r is not None and readers.get(op.src, 0) == 1 and (op.bias is None or op.bias == rows[r]["n"]):
            if op.fold == "pool":
                rows[r]["out_elems"] = float(op.pooled)
            for t in op.outs:
                producer[t] = r
            continue
        if op.fold == "view":
            continue  # views are free whether or not they pass a layer on
        new = op.rows() if callable(op.rows) else op.rows
        for row in new:
            if row["kind"] <= int(OpKind.DYNAMIC_MATMUL) and (row["k"] < 1 or row["n"] < 1):
                row = R.digital_row(row["name"], OpKind.OTHER, 0.0, 0.0, 0.0)  # an empty tensor
            row.setdefault("op", op.op)
            rows.append(row)
        if len(new) == 1 and rows[-1]["kind"] in (int(OpKind.CONV), int(OpKind.LINEAR)) and op.outs:
            producer[op.outs[0]] = len(rows) - 1
    return rows

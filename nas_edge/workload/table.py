"""The Workload table: one row per compute op, the one currency between a network and its cost.

Columns (struct of arrays, one NumPy array each, all of length ``len(workload)``):

- ``kind``     op kind code (:class:`OpKind`)
- ``k``        reduction size per output and group (conv: ``Cin/groups * kh * kw``; linear: in features;
               dynamic matmul: the shared dimension)
- ``n``        outputs over all groups (conv: ``Cout``; linear: out features; dynamic matmul: columns of
               the right operand times heads)
- ``m``        input vectors per inference (conv: output pixels ``Hout * Wout``, padding included;
               linear: tokens; element-wise ops: 1 with ``macs`` holding the element count)
- ``groups``   groups (conv groups, attention heads); each group is a ``k x n/groups`` matrix
- ``kernel``   spatial kernel size ``kh * kw`` (1 for linear layers); lets profiles keep kernels whole
- ``macs``     multiply-accumulates (``m * k * n``) for matmul kinds, elementary ops for the others
- ``params``   stored weights (``k * n``; 0 for ops without static weights)
- ``in_elems`` / ``out_elems``  activation elements read and written per inference

Element counts, not bytes: precision belongs to the hardware profile. Conv vectors count output pixels with
padding (same-padding 3x3 on 32x32 gives 1024 vectors), so ``macs`` equals the usual MAC count; NeuroSim's
``((H - K + 1) / stride)^2`` is not used.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from nas_edge.errors import NasEdgeError


class OpKind(IntEnum):
    """Op kinds. ``CONV`` and ``LINEAR`` hold static weights (crossbars); the rest run digitally."""

    CONV = 0
    LINEAR = 1
    DYNAMIC_MATMUL = 2  # activation x activation (attention QK^T, A.V)
    ELEMENTWISE = 3  # add, mul, activations
    NORM = 4  # batch/layer norm
    SOFTMAX = 5
    POOL = 6
    OTHER = 7  # ops an adapter did not recognise: costed as element-wise

    @property
    def is_static(self) -> bool:
        return self in (OpKind.CONV, OpKind.LINEAR)


F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
#: the ten columns in :data:`COLUMNS` order, as the kernels take them
ColumnArrays = tuple[I64, I64, I64, I64, I64, I64, F64, F64, F64, F64]

STATIC_KINDS = (int(OpKind.CONV), int(OpKind.LINEAR))
COLUMNS = ("kind", "k", "n", "m", "groups", "kernel", "macs", "params", "in_elems", "out_elems")
_INT_COLUMNS = ("kind", "k", "n", "m", "groups", "kernel")


class WorkloadError(NasEdgeError, ValueError):
    """A workload row with impossible values."""


MAX_COUNT = 2**62
"""The largest dimension, vector count or reduction size a row may have: int64 arithmetic on the columns (and
on ``m * batch``) stays exact below it. Beyond it lies no real network, only an overflow."""


class DimensionError(WorkloadError):
    """A tensor dimension or count beyond :data:`MAX_COUNT` (a hostile or corrupted file, a huge ``--batch``):
    the whole workload is refused rather than a layer counted as empty (0 MACs)."""


def unique_names(names: Sequence[str], ops: Sequence[str]) -> list[str]:
    """Every row its own name: a name that several rows share becomes ``name/op`` (``blocks.0.attn/Softmax``),
    numbered from the second of the same op on (``blocks.0.attn/MatMul``, ``blocks.0.attn/MatMul_2``); names
    used once are kept, and no made name takes one of theirs."""
    counts = Counter(names)
    used = {n for n, c in counts.items() if c == 1}
    out = []
    for name, op in zip(names, ops, strict=True):
        if counts[name] == 1:
            out.append(name)
            continue
        base = candidate = f"{name}/{op}"
        k = 1
        while candidate in used:
            k += 1
            candidate = f"{base}_{k}"
        used.add(candidate)
        out.append(candidate)
    return out


@dataclass(frozen=True, eq=False)
class Workload:
    """A network as a table of compute ops. Build it with :meth:`from_layers` or the adapters."""

    kind: I64
    k: I64
    n: I64
    m: I64
    groups: I64
    kernel: I64
    macs: F64
    params: F64
    in_elems: F64
    out_elems: F64
    names: tuple[str, ...] = ()
    batch: int = 1
    """inferences the table covers (:meth:`batched`): frames per second and per-frame figures divide by it"""
    op_types: tuple[str, ...] = ()
    """the source op of each row (ONNX op type, ATen op), or empty"""
    warnings: tuple[str, ...] = ()
    """what the source could not cost exactly (unknown ops, unsized nodes, ...)"""
    meta: dict[str, Any] = field(default_factory=dict)
    """descriptive only (source, producer, opset, inputs, network, ...): nothing that changes a cost"""

    def __post_init__(self) -> None:
        n_rows = len(self.kind)
        for col in COLUMNS:
            arr = np.ascontiguousarray(getattr(self, col), dtype=np.int64 if col in _INT_COLUMNS else np.float64)
            if arr.ndim != 1 or len(arr) != n_rows:
                raise WorkloadError(f"column {col!r} must be 1-D with {n_rows} rows, got shape {arr.shape}")
            arr.setflags(write=False)
            object.__setattr__(self, col, arr)
        names = tuple(self.names) or tuple(f"op{i}" for i in range(n_rows))
        if len(names) != n_rows:
            raise WorkloadError(f"{len(names)} names for {n_rows} rows")
        object.__setattr__(self, "names", names)
        if isinstance(self.batch, bool) or not isinstance(self.batch, (int, np.integer)) or self.batch < 1:
            raise WorkloadError(f"batch must be an integer >= 1, got {self.batch!r}")
        object.__setattr__(self, "batch", int(self.batch))
        object.__setattr__(self, "op_types", tuple(str(t) for t in self.op_types))
        if self.op_types and len(self.op_types) != n_rows:
            raise WorkloadError(f"{len(self.op_types)} op types for {n_rows} rows")
        object.__setattr__(self, "warnings", tuple(str(w) for w in self.warnings))
        self.validate()

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def from_layers(cls, layers: Iterable[Mapping[str, Any]], *, meta: dict[str, Any] | None = None) -> Workload:
        """Build from layer shapes written by hand.

        Each mapping has ``type`` and its shape keys:

        - ``conv``: ``in_channels, out_channels, kernel`` (int or (kh, kw)), ``in_size`` (int or (h, w)),
          optional ``stride=1, padding='same'|int, dilation=1, groups=1``, and ``pooled_size`` (int or
          (h, w)) when a pooling joins the layer (:mod:`nas_edge.workload._fuse`): it then writes
          ``out_channels x pooled_size`` elements
        - ``linear``: ``in_features, out_features``, optional ``tokens=1``
        - ``matmul`` (activation x activation): ``m, k, n``, optional ``heads=1``
        - ``elementwise`` / ``norm`` / ``softmax`` / ``pool`` / ``other``: ``elements`` (output elements),
          optional ``ops_per_element=1`` and ``in_elements`` (defaults to ``elements``)

        and an optional ``name``.
        """
        rows = [layer_row(dict(layer), i) for i, layer in enumerate(layers)]
        return cls.from_rows(rows, meta=meta)

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]], *, meta: dict[str, Any] | None = None,
                  warnings: Sequence[str] = ()) -> Workload:
        """Build from rows that already hold every column (see :func:`layer_row`); a row's ``"op"`` key, when
        every row has one, gives :attr:`op_types`. Names are made unique (:func:`unique_names`): the adapters
        name a row by its module, and one attention module gives several rows."""
        cols = _column_arrays([[r[c] for r in rows] for c in COLUMNS])
        ops = tuple(str(r["op"]) for r in rows) if rows and all("op" in r for r in rows) else ()
        names = unique_names([str(r.get("name", f"op{i}")) for i, r in enumerate(rows)],
                             [str(r.get("op") or OpKind(int(r["kind"])).name.lower()) for r in rows])
        return cls(*cols, names=tuple(names), op_types=ops, warnings=tuple(warnings), meta=dict(meta or {}))

    @classmethod
    def concat(cls, parts: Sequence[Workload]) -> Workload:
        """The parts one after the other (one inference each: their batches must agree)."""
        cols = _column_arrays([np.concatenate([p.columns()[i] for p in parts]) if parts else []
                               for i in range(len(COLUMNS))])
        batches = {p.batch for p in parts}
        if len(batches) > 1:
            raise WorkloadError(f"cannot concatenate workloads of different batches {sorted(batches)}")
        ops = tuple(t for p in parts for t in p.op_types) if all(p.op_types for p in parts) else ()
        return cls(*cols, names=tuple(n for p in parts for n in p.names), batch=batches.pop() if batches else 1,
                   op_types=ops, warnings=tuple(w for p in parts for w in p.warnings))

    # -- checks and views ---------------------------------------------------------------------------

    def validate(self) -> None:
        """Refuse impossible rows before they reach a kernel."""
        if len(self.kind) == 0:
            return
        from nas_edge.workload._check import CHECKS, first_bad

        i, code = first_bad(*self.columns(), int(OpKind.OTHER))
        if i >= 0:
            col, expected = CHECKS[code]
            raise WorkloadError(
                f"layer {i} ({self.names[i] if self.names else i}): {col}={getattr(self, col)[i].item()!r}, "
                f"expected {expected}"
            )

    def __len__(self) -> int:
        return len(self.kind)

    def columns(self) -> ColumnArrays:
        """The ten columns in :data:`COLUMNS` order."""
        return (self.kind, self.k, self.n, self.m, self.groups, self.kernel, self.macs, self.params, self.in_elems,
                self.out_elems)

    @property
    def total_macs(self) -> float:
        """MACs of matmul kinds (static and dynamic); element-wise ops are not counted."""
        return float(self.macs[self.kind <= int(OpKind.DYNAMIC_MATMUL)].sum())

    @property
    def total_params(self) -> float:
        return float(self.params.sum())

    @property
    def static_mask(self) -> np.ndarray:
        return np.isin(self.kind, STATIC_KINDS)

    def batched(self, batch: int) -> Workload:
        """The same network run on ``batch`` inputs at once: vectors, MACs and activations scale."""
        if batch < 1:
            raise WorkloadError(f"batch must be >= 1, got {batch}")
        elementwise = self.kind > int(OpKind.DYNAMIC_MATMUL)
        vectors = int(self.m[~elementwise].max(initial=1))
        if vectors * batch > MAX_COUNT or self.batch * batch > MAX_COUNT:
            raise DimensionError(f"batch {batch} is too large: a layer would see {vectors * batch:.3g} input vectors "
                                 f"(at most {MAX_COUNT:.3g})")
        return Workload(
            kind=self.kind, k=self.k, n=self.n, m=np.where(elementwise, self.m, self.m * batch),
            groups=self.groups, kernel=self.kernel, macs=self.macs * batch, params=self.params,
            in_elems=self.in_elems * batch, out_elems=self.out_elems * batch, names=self.names,
            batch=batch * self.batch, op_types=self.op_types, warnings=self.warnings, meta=dict(self.meta),
        )

    def rows(self) -> list[dict[str, Any]]:
        """Rows as plain dicts (JSON-safe)."""
        out = []
        for i in range(len(self)):
            row: dict[str, Any] = {"name": self.names[i], "kind": OpKind(int(self.kind[i])).name.lower()}
            for c in COLUMNS[1:]:
                v = getattr(self, c)[i]
                row[c] = int(v) if c in _INT_COLUMNS else float(v)
            out.append(row)
        return out

    def summary(self) -> dict[str, float]:
        return {"layers": len(self), "macs": self.total_macs, "params": self.total_params,
                "static_layers": int(self.static_mask.sum())}

    @classmethod
    def from_onnx(cls, model: Any, input_shapes: Mapping[str, Any] | None = None, batch: int = 1) -> Workload:
        """From an ONNX model (path, bytes or ModelProto); see :mod:`nas_edge.workload.onnx_adapter`."""
        from nas_edge.workload.onnx_adapter import from_onnx

        return from_onnx(model, input_shapes=input_shapes, batch=batch)

    @classmethod
    def from_torch(cls, module: Any, example_input: Any, *, batch: int = 1, device: str = "auto") -> Workload:
        """From a ``torch.nn.Module`` and one example input; see :mod:`nas_edge.workload.torch_adapter`."""
        from nas_edge.workload.torch_adapter import from_torch

        return from_torch(module, example_input, batch=batch, device=device)


def _column_arrays(values: Sequence[Any]) -> ColumnArrays:
    """Ten sequences (in :data:`COLUMNS` order) as the columns' arrays and dtypes."""
    return cast(ColumnArrays, tuple(np.asarray(v, dtype=np.int64 if c in _INT_COLUMNS else np.float64)
                                    for c, v in zip(COLUMNS, values, strict=True)))


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        if len(v) != 2:
            raise WorkloadError(f"expected an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def conv_out_size(size: int, kernel: int, stride: int = 1, padding: int | tuple[int, int] = 0,
                  dilation: int = 1) -> int:
    """Output length of a convolution along one axis (PyTorch's and ONNX's formula); ``padding`` is one
    amount for both ends or ``(begin, end)``. The one definition: spaces, adapters and the analog layers
    use it."""
    pad = 2 * padding if isinstance(padding, int) else padding[0] + padding[1]
    return (size + pad - dilation * (kernel - 1) - 1) // stride + 1


def layer_row(layer: dict[str, Any], index: int = 0) -> dict[str, Any]:
    """One hand-written layer (see :meth:`Workload.from_layers`) as a full Workload row."""
    layer = dict(layer)
    kind = str(layer.pop("type", "")).lower()
    name = str(layer.pop("name", f"{kind or 'op'}{index}"))

    def need(key: str) -> Any:
        if key not in layer:
            raise WorkloadError(f"layer {index} ({name}): {kind} needs {key!r}")
        return layer.pop(key)

    try:
        if kind == "conv":
            cin, cout = int(need("in_channels")), int(need("out_channels"))
            kh, kw = _pair(need("kernel"))
            h, w = _pair(need("in_size"))
            sh, sw = _pair(layer.pop("stride", 1))
            dh, dw = _pair(layer.pop("dilation", 1))
            groups = int(layer.pop("groups", 1))
            pad = layer.pop("padding", "same")
            if pad == "same":
                ph, pw = (dh * (kh - 1)) // 2, (dw * (kw - 1)) // 2
            else:
                ph, pw = _pair(pad)
            if min(cin, cout, kh, kw, h, w, sh, sw, dh, dw, groups) < 1 or cin % groups or cout % groups:
                raise WorkloadError(f"layer {index} ({name}): impossible conv shape")
            ho, wo = conv_out_size(h, kh, sh, ph, dh), conv_out_size(w, kw, sw, pw, dw)
            if ho < 1 or wo < 1:
                raise WorkloadError(f"layer {index} ({name}): conv output would be {ho}x{wo}")
            pooled = layer.pop("pooled_size", None)
            qh, qw = (ho, wo) if pooled is None else _pair(pooled)
            if not (1 <= qh <= ho and 1 <= qw <= wo):
                raise WorkloadError(f"layer {index} ({name}): pooled_size {qh}x{qw} must lie within the "
                                    f"conv output {ho}x{wo}")
            k, m = cin // groups * kh * kw, ho * wo
            row: dict[str, Any] = dict(kind=OpKind.CONV, k=k, n=cout, m=m, groups=groups, kernel=kh * kw,
                                       macs=m * k * cout, params=k * cout, in_elems=cin * h * w,
                                       out_elems=cout * qh * qw)
        elif kind == "linear":
            fin, fout = int(need("in_features")), int(need("out_features"))
            tokens = int(layer.pop("tokens", 1))
            if min(fin, fout, tokens) < 1:
                raise WorkloadError(f"layer {index} ({name}): impossible linear shape")
            row = dict(kind=OpKind.LINEAR, k=fin, n=fout, m=tokens, groups=1, kernel=1,
                       macs=tokens * fin * fout, params=fin * fout, in_elems=tokens * fin,
                       out_elems=tokens * fout)
        elif kind == "matmul":
            m, k, n = int(need("m")), int(need("k")), int(need("n"))
            heads = int(layer.pop("heads", 1))
            if min(m, k, n, heads) < 1:
                raise WorkloadError(f"layer {index} ({name}): impossible matmul shape")
            row = dict(kind=OpKind.DYNAMIC_MATMUL, k=k, n=n * heads, m=m, groups=heads, kernel=1,
                       macs=m * k * n * heads, params=0, in_elems=heads * (m * k + k * n),
                       out_elems=heads * m * n)
        elif kind in ("elementwise", "norm", "softmax", "pool", "other"):
            elements = int(need("elements"))
            ops = float(layer.pop("ops_per_element", 1.0))
            in_el = int(layer.pop("in_elements", elements))
            if elements < 0 or in_el < 0 or ops < 0:
                raise WorkloadError(f"layer {index} ({name}): negative element count")
            row = dict(kind=OpKind[kind.upper()], k=1, n=1, m=1, groups=1, kernel=1, macs=elements * ops,
                       params=0, in_elems=in_el, out_elems=elements)
        else:
            raise WorkloadError(f"layer {index} ({name}): unknown type {kind!r}; expected one of conv, "
                                "linear, matmul, elementwise, norm, softmax, pool, other")
    except (TypeError, ValueError) as exc:
        if isinstance(exc, WorkloadError):
            raise
        raise WorkloadError(f"layer {index} ({name}): {exc}") from exc
    if layer:
        raise WorkloadError(f"layer {index} ({name}): unknown keys {sorted(layer)}")
    row["kind"] = int(row["kind"])
    row["name"] = name
    return row

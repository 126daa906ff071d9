"""The walk over a sized ONNX graph: which nodes become which rows (rules in :mod:`nas_edge.workload._rows`).

Op handling is a table: :data:`HANDLERS` maps ``(domain, op type)`` to a handler (``"std"`` is the default
ONNX domain, ``"ms"`` ONNX Runtime's ``com.microsoft``), and :data:`CATEGORIES` maps lower-case op types to
the shared per-element counts (normalisations, softmax, data movement, element-wise ops). A node with
neither is an unknown op. Each node is first described to the fusion pass (:mod:`nas_edge.workload._fuse`):
a bias ``Add``, a ``BatchNormalization``, a piecewise-linear activation or a pooling op may join the static
layer before it, and then has no row; the handler runs only for nodes that stay on their own.
"""

from __future__ import annotations

import ast
import functools
import math
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nas_edge.errors import first_line
from nas_edge.workload import _rows as R
from nas_edge.workload._fuse import Op, fold_kind, fuse
from nas_edge.workload._onnx_common import (
    CONTROL_OPS,
    FREE_OPS,
    MS,
    RANDOM_OPS,
    SHAPE_OPS,
    STD_DOMAINS,
    attr,
    conv_attrs,
    conv_output_shape,
)
from nas_edge.workload.table import DimensionError, OpKind

if TYPE_CHECKING:
    import onnx

Row = dict[str, Any]
Handler = Callable[["Walker", Any, str], list[Row]]

REDUCE_OPS = {"ReduceMean": 1.0, "ReduceSum": 1.0, "ReduceMax": 1.0, "ReduceMin": 1.0, "ReduceProd": 1.0,
              "ReduceL1": 2.0, "ReduceL2": 2.0, "ReduceSumSquare": 2.0, "ReduceLogSum": 1.0,
              "ReduceLogSumExp": 5.0, "ArgMax": 1.0, "ArgMin": 1.0, "TopK": 1.0, "GlobalAveragePool": 1.0,
              "GlobalMaxPool": 1.0, "GlobalLpPool": 3.0}


#: op types whose rows carry multiply-accumulates (an unsized one leaves MACs out of the totals)
MAC_OPS = frozenset(("Conv", "ConvInteger", "QLinearConv", "ConvTranspose", "Gemm", "MatMul", "MatMulInteger",
                     "QLinearMatMul", "Einsum", "LSTM", "GRU", "RNN", "Attention", "FusedConv", "NhwcConv",
                     "FusedGemm", "QGemm", "FusedMatMul", "MatMulNBits", "MultiHeadAttention"))


class _Unknown(Exception):
    """A shape the inference could not determine (internal: the walk turns it into a warning)."""


def domain_key(domain: str) -> str | None:
    """``"std"`` for the default ONNX domain, ``"ms"`` for ``com.microsoft``, ``None`` for any other."""
    return "std" if domain in STD_DOMAINS else "ms" if domain == MS else None


def _subgraph_names(node: Any) -> set[str]:
    """Outer-scope names read inside a node's subgraphs (If/Loop/Scan bodies)."""
    from onnx import AttributeProto

    names: set[str] = set()
    for a in node.attribute:
        graphs = [a.g] if a.type == AttributeProto.GRAPH else list(a.graphs) if a.type == AttributeProto.GRAPHS else []
        for sg in graphs:
            for n in sg.node:
                names.update(i for i in n.input if i)
                names |= _subgraph_names(n)
    return names


def _node_label(node: Any, index: int) -> str:
    """Module path from the dynamo exporter's name scopes when present, else the node name."""
    for p in node.metadata_props:
        if p.key == "pkg.torch.onnx.name_scopes":
            try:
                scopes = ast.literal_eval(p.value)
            except (ValueError, SyntaxError):
                break
            if isinstance(scopes, list) and len(scopes) >= 2 and scopes[-2]:
                return str(scopes[-2])
            break
    return node.name or f"{node.op_type}_{index}"


class Walker:
    """Rows of the live nodes of a graph whose tensors are sized (``shapes``)."""

    def __init__(self, model: onnx.ModelProto, shapes: dict[str, tuple[int, ...] | None]) -> None:
        self.g = model.graph
        self.shapes = shapes
        self.const: set[str] = {t.name for t in self.g.initializer} | {
            t.values.name for t in self.g.sparse_initializer}
        self.rows: list[Row] = []
        self.warnings: list[str] = []
        self.unknown: Counter[str] = Counter()
        self.unsized: list[tuple[str, str, str]] = []  # (op type, node name, what is known)
        self.producer: dict[str, int] = {}  # tensor -> static row it is the (folded) output of
        self.consumers: Counter[str] = Counter()
        self.graph_outputs = {o.name for o in self.g.output}

    # helpers for the handlers
    def shape(self, name: str) -> tuple[int, ...]:
        s = self.shapes.get(name)
        if s is None:
            raise _Unknown(name)
        return s

    def numel(self, name: str) -> int:
        return R.numel(self.shape(name))

    def is_const(self, name: str) -> bool:
        return name in self.const

    def in_elems(self, node: Any, out_elems: float) -> float:
        """Elements read: every sized input (constants no more than the output: broadcast operands)."""
        total = 0.0
        for i in node.input:
            s = self.shapes.get(i) if i else None
            if s is None:
                continue
            n = float(R.numel(s))
            total += min(n, out_elems) if i in self.const else n
        return total

    def out_elems(self, node: Any) -> float:
        return float(sum(self.numel(o) for o in node.output if o))

    def digital(self, node: Any, name: str, kind: OpKind, ops_per_out: float) -> Row:
        out = self.out_elems(node)
        return R.digital_row(name, kind, ops_per_out * out, self.in_elems(node, out), out)

    # the walk
    def live_nodes(self) -> list[Any]:
        needed = set(self.graph_outputs)
        live = []
        for node in reversed(self.g.node):
            if any(o in needed for o in node.output if o):
                live.append(node)
                needed.update(i for i in node.input if i)
                needed |= _subgraph_names(node)
        live.reverse()
        for node in live:
            self.consumers.update(i for i in node.input if i)
            for name in _subgraph_names(node):
                self.consumers[name] += 1
        return live

    def run(self) -> None:
        live = self.live_nodes()
        readers = Counter(self.consumers)
        readers.update(self.graph_outputs)
        self.rows = fuse((op for index, node in enumerate(live) if (op := self.describe(node, index)) is not None),
                         readers)
        if self.unknown:
            ops = ", ".join(f"{op} ({n})" for op, n in sorted(self.unknown.items()))
            self.warnings.append(f"unknown op types counted as digital ops (1 op per output element): {ops}")
            if any(op.startswith("com.microsoft.nchwc.") for op in self.unknown):
                self.warnings.append("com.microsoft.nchwc ops come from a model saved by ONNX Runtime with all "
                                     "layout optimisations for one machine; profile the original model, or one "
                                     "saved at ORT_ENABLE_EXTENDED")
        self.warnings.extend(self._unsized_warnings())

    def _unsized_warnings(self) -> list[str]:
        """What could not be costed: every node with MACs by name (and its weight's MACs per input vector when
        the weight is known), then the other nodes by op type."""
        compute = [(op, name, note) for op, name, note in self.unsized if op in MAC_OPS]
        other = Counter(op for op, _, _ in self.unsized if op not in MAC_OPS)
        out = []
        if compute:
            listed = "; ".join(f"{op} {name!r}{note}" for op, name, note in compute[:20])
            more = f"; and {len(compute) - 20} more" if len(compute) > 20 else ""
            out.append(f"shapes unknown after inference: {len(compute)} node(s) with multiply-accumulates not "
                       f"costed, their MACs are missing from the totals: {listed}{more}")
        if other:
            ops = ", ".join(f"{op} ({n})" for op, n in sorted(other.items()))
            out.append(f"shapes unknown after inference, not costed: {sum(other.values())} other node(s): {ops}")
        return out

    def _weight_note(self, node: Any) -> str:
        """``" (weight K x N: K*N MACs per input vector)"`` when a static operand of a matmul is sized."""
        for i in node.input:
            s = self.shapes.get(i) if i in self.const else None
            if s is not None and len(s) >= 2 and R.numel(s[-2:]) > 0:
                return f" (weight {'x'.join(map(str, s))}: {R.numel(s[-2:]):,} MACs per input vector)"
        return ""

    def describe(self, node: Any, index: int) -> Op | None:
        """The node as the fusion pass sees it; ``None`` for constant folding and shape computations."""
        ins = [i for i in node.input if i]
        op, domain = node.op_type, node.domain
        if op == "Constant" or (op in SHAPE_OPS and domain in STD_DOMAINS) or (
                all(i in self.const for i in ins) and op not in RANDOM_OPS and op not in CONTROL_OPS):
            self.const.update(o for o in node.output if o)  # constant folding / shape computation
            return None
        outs = tuple(o for o in node.output if o)
        label = op if domain in STD_DOMAINS else f"{domain}.{op}"
        if (domain in STD_DOMAINS and op in FREE_OPS) or (domain_key(domain) and op.lower() in R.QUANTIZE_OPS):
            return Op(label, tuple(ins), outs, [], fold="view", src=ins[0] if ins else None)
        name = _node_label(node, index)
        op_ = Op(label, tuple(ins), outs, functools.partial(self.node_rows, node, name))
        kind = fold_kind(op) if domain in STD_DOMAINS else None
        dynamic = [i for i in ins if i not in self.const]
        if kind is not None and len(dynamic) == 1:
            x = dynamic[0]
            if op == "Add":
                bias = next(i for i in ins if i != x) if len(ins) == 2 else None
                shape = self.shapes.get(bias) if bias is not None else None
                if shape is not None and self.shapes.get(node.output[0]) == self.shapes.get(x):
                    op_.fold, op_.src, op_.bias = kind, x, R.numel(shape)
            elif ins[0] == x:
                op_.fold, op_.src = kind, x
                if kind == "pool":
                    shape = self.shapes.get(node.output[0])
                    op_.pooled = float(R.numel(shape)) if shape is not None else 0.0
                    if shape is None:
                        op_.fold = None
        return op_

    def node_rows(self, node: Any, name: str) -> list[Row]:
        """The rows of one node that stays on its own: its handler's, or one unknown-op row. Never raises."""
        op, domain = node.op_type, node.domain
        handler = handler_for(domain, op)
        try:
            if handler is not None:
                return handler(self, node, name)
            self.unknown[op if domain in STD_DOMAINS else f"{domain}.{op}"] += 1
            return [self.digital(node, name, OpKind.OTHER, 1.0)]
        except _Unknown as exc:
            if handler is not None:
                self.unsized.append((op, name, f" (shape of {exc.args[0]!r} unknown){self._weight_note(node)}"))
        except DimensionError:  # an overflow, not a malformed node: the whole model is refused
            raise
        except Exception as exc:  # a malformed node must not stop the profile
            self.warnings.append(f"{op} {name!r}: {first_line(exc)}; counted as an empty digital op")
        return [R.digital_row(name, OpKind.OTHER, 0.0, 0.0, 0.0)]


# ---- handlers ---------------------------------------------------------------------------------------------

def _conv_handler(xi: int, wi: int, *, transposed: bool = False, nhwc: bool = False) -> Handler:
    def handle(w: Walker, node: Any, name: str) -> list[Row]:
        x, wt = list(w.shape(node.input[xi])), w.shape(node.input[wi])
        if nhwc:
            x = [x[0], x[-1], *x[1:-1]]
        groups = int(attr(node, "group", 1))
        y_name = node.output[0]
        if w.shapes.get(y_name) is not None and not nhwc:
            y = w.shape(y_name)
        else:
            y = conv_output_shape(x, wt, groups, transposed=transposed, **conv_attrs(node))
        return [R.conv_row(name, x, wt, y, groups, transposed=transposed, w_static=w.is_const(node.input[wi]))]

    return handle


def _gemm_handler(ai: int, bi: int) -> Handler:
    def handle(w: Walker, node: Any, name: str) -> list[Row]:
        a, b = w.shape(node.input[ai]), w.shape(node.input[bi])
        if attr(node, "transA", 0):
            a = a[::-1]
        if attr(node, "transB", 0):
            b = b[::-1]
        return [R.matmul_row(name, a, b, w.is_const(node.input[ai]), w.is_const(node.input[bi]))]

    return handle


def _matmul_handler(ai: int, bi: int) -> Handler:
    def handle(w: Walker, node: Any, name: str) -> list[Row]:
        a, b = node.input[ai], node.input[bi]
        return [R.matmul_row(name, w.shape(a), w.shape(b), w.is_const(a), w.is_const(b))]

    return handle


def _fused_matmul(w: Walker, node: Any, name: str) -> list[Row]:
    ins = list(node.input)
    a, b = list(w.shape(ins[0])), list(w.shape(ins[1]))
    if attr(node, "transA", 0) and len(a) >= 2:
        a[-2:] = a[-1], a[-2]
    if attr(node, "transB", 0) and len(b) >= 2:
        b[-2:] = b[-1], b[-2]
    return [R.matmul_row(name, a, b, w.is_const(ins[0]), w.is_const(ins[1]))]


def _matmul_nbits(w: Walker, node: Any, name: str) -> list[Row]:
    k_, n_ = int(attr(node, "K")), int(attr(node, "N"))
    return [R.matmul_row(name, w.shape(node.input[0]), (k_, n_), False, True)]


def _einsum(w: Walker, node: Any, name: str) -> list[Row]:
    real = [i for i in node.input if i]
    return R.einsum_rows(name, str(attr(node, "equation")), [w.shape(i) for i in real],
                         [w.is_const(i) for i in real])


def _rnn(w: Walker, node: Any, name: str) -> list[Row]:
    """Input and recurrent projections as two static layers, the gate arithmetic as one digital row."""
    x, wt, r = w.shape(node.input[0]), w.shape(node.input[1]), w.shape(node.input[2])
    layout = int(attr(node, "layout", 0))
    seq, batch = (x[0], x[1]) if layout == 0 else (x[1], x[0])
    dirs, gates_h, hidden = wt[0], wt[1], r[2]
    vec = seq * batch
    static_w, static_r = w.is_const(node.input[1]), w.is_const(node.input[2])
    proj = R.matmul_row(f"{name}.input", (vec, x[2]), (x[2], dirs * gates_h), False, static_w)
    if static_w:
        proj["params"] = float(R.numel(wt))
    rec = R.matmul_row(f"{name}.recurrent", (dirs, vec, hidden), (dirs, hidden, gates_h), False, static_r)
    gate_ops = {"LSTM": 35.0, "GRU": 30.0, "RNN": 6.0}[node.op_type]
    h_elems = float(vec * dirs * hidden)
    gates = R.digital_row(f"{name}.gates", OpKind.ELEMENTWISE, gate_ops * h_elems, vec * dirs * gates_h, h_elems)
    return [proj, rec, gates]


def _attention(w: Walker, node: Any, name: str) -> list[Row]:
    """Fused attention: (ORT's Attention: the QKV projection, then) QK^T, softmax and A V per head."""
    ins = list(node.input)
    heads = int(attr(node, "num_heads", 0) or attr(node, "q_num_heads", 0) or 1)
    rows: list[Row] = []
    if node.domain == MS and node.op_type == "Attention":
        x, wt = w.shape(ins[0]), w.shape(ins[1])  # x [B, S, D], w [D, 3D]
        rows.append(R.matmul_row(f"{name}.qkv", x, wt, False, w.is_const(ins[1])))
        b, s, hid = x[0], x[1], wt[1] // 3
        q_shape, kv_len, v_dim = (b, s, hid), s, hid
    else:
        q = w.shape(ins[0])
        k = w.shape(ins[1]) if len(ins) > 1 and ins[1] else q
        v = w.shape(ins[2]) if len(ins) > 2 and ins[2] else k
        if len(q) == 4:  # [B, H, S, d]
            heads = q[1]
            b, s, hid, kv_len, v_dim = q[0], q[2], q[1] * q[3], k[2], v[1] * v[3]
        else:
            b, s, hid, kv_len, v_dim = q[0], q[1], q[2], k[1], v[2]
        q_shape = (b, s, hid)
    d = hid // heads
    bh = q_shape[0] * heads
    rows.append(R.matmul_row(f"{name}.qk", (bh, s, d), (bh, d, kv_len), False, False))
    rows.append(R.digital_row(f"{name}.softmax", OpKind.SOFTMAX, 5.0 * bh * s * kv_len, bh * s * kv_len,
                              bh * s * kv_len))
    rows.append(R.matmul_row(f"{name}.av", (bh, s, kv_len), (bh, kv_len, v_dim // heads), False, False))
    return rows


def _pool(w: Walker, node: Any, name: str) -> list[Row]:
    window = math.prod(attr(node, "kernel_shape", [1]))
    out = float(w.numel(node.output[0]))
    ops = R.pool_ops(out, window) * (3 if node.op_type == "LpPool" else 1)
    return [R.digital_row(name, OpKind.POOL, ops, w.in_elems(node, out), out)]


def _reduce(w: Walker, node: Any, name: str) -> list[Row]:
    x = float(w.numel(node.input[0]))
    return [R.digital_row(name, OpKind.POOL, REDUCE_OPS[node.op_type] * x, x, w.out_elems(node))]


def _resize(w: Walker, node: Any, name: str) -> list[Row]:
    x, y = w.shape(node.input[0]), w.shape(node.output[0])
    resized = sum(1 for a, b in zip(x, y, strict=False) if a != b)
    mode = str(attr(node, "mode", "nearest"))
    return [w.digital(node, name, OpKind.ELEMENTWISE, R.resize_ops(mode, resized))]


def _norm(w: Walker, node: Any, name: str) -> list[Row]:
    x = float(w.numel(node.input[0]))
    out = w.out_elems(node)
    return [R.digital_row(name, OpKind.NORM, R.NORM_OPS[node.op_type.lower()] * x, w.in_elems(node, out), out)]


def _per_output(kind: OpKind, ops: float) -> Handler:
    """A digital op costing ``ops`` per output element."""
    def handle(w: Walker, node: Any, name: str) -> list[Row]:
        return [w.digital(node, name, kind, ops)]

    return handle


def _control(w: Walker, node: Any, name: str) -> list[Row]:
    w.warnings.append(f"{node.op_type} {name!r}: ops inside its subgraph(s) are not costed")
    return [R.digital_row(name, OpKind.OTHER, 0.0, 0.0, 0.0)]


def _table() -> dict[tuple[str, str], Handler]:
    table: dict[tuple[str, str], Handler] = {}

    def on(domains: tuple[str, ...], ops: tuple[str, ...] | frozenset[str], handler: Handler) -> None:
        for d in domains:
            for op in ops:
                table[(d, op)] = handler

    std, ms, both = ("std",), ("ms",), ("std", "ms")
    on(std, ("Conv", "ConvInteger"), _conv_handler(0, 1))
    on(ms, ("FusedConv",), _conv_handler(0, 1))
    on(ms, ("NhwcConv",), _conv_handler(0, 1, nhwc=True))
    on(std, ("QLinearConv",), _conv_handler(0, 3))
    on(std, ("ConvTranspose",), _conv_handler(0, 1, transposed=True))
    on(std, ("Gemm",), _gemm_handler(0, 1))
    on(ms, ("FusedGemm",), _gemm_handler(0, 1))
    on(ms, ("QGemm",), _gemm_handler(0, 3))
    on(std, ("MatMul", "MatMulInteger"), _matmul_handler(0, 1))
    on(std, ("QLinearMatMul",), _matmul_handler(0, 3))
    on(ms, ("FusedMatMul",), _fused_matmul)
    on(ms, ("MatMulNBits",), _matmul_nbits)
    on(std, ("Einsum",), _einsum)
    on(std, ("LSTM", "GRU", "RNN"), _rnn)
    on(both, ("Attention",), _attention)
    on(ms, ("MultiHeadAttention",), _attention)
    on(std, ("MaxPool", "AveragePool", "LpPool"), _pool)
    on(std, tuple(REDUCE_OPS), _reduce)
    on(std, ("Resize", "Upsample"), _resize)
    on(std, ("ConstantOfShape",), _per_output(OpKind.ELEMENTWISE, 0.0))
    on(ms, ("BiasAdd", "BiasDropout"), _per_output(OpKind.ELEMENTWISE, 1.0))
    on(ms, ("BiasSoftmax",), _per_output(OpKind.SOFTMAX, 6.0))
    on(std, RANDOM_OPS, _per_output(OpKind.ELEMENTWISE, 4.0))
    on(std, CONTROL_OPS, _control)
    return table


def _categories() -> dict[tuple[str, str], Handler]:
    """Lower-case op types shared with the torch adapter; the first category that names an op wins."""
    table: dict[tuple[str, str], Handler] = {}
    for key in R.NORM_OPS:
        for d in ("std", "ms"):
            table.setdefault((d, key), _norm)
    for key, ops in R.SOFTMAX_OPS.items():
        table.setdefault(("std", key), _per_output(OpKind.SOFTMAX, ops))
    for key in R.MOVE_OPS:
        table.setdefault(("std", key), _per_output(OpKind.ELEMENTWISE, 0.0))
    for key, ops in R.OPS_PER_ELEMENT.items():
        for d in ("std", "ms"):
            table.setdefault((d, key), _per_output(OpKind.ELEMENTWISE, ops))
    return table


HANDLERS: dict[tuple[str, str], Handler] = _table()
CATEGORIES: dict[tuple[str, str], Handler] = _categories()


def handler_for(domain: str, op: str) -> Handler | None:
    """The handler of an op type: its own entry first, then its category; ``None`` for an unknown op."""
    dom = domain_key(domain)
    if dom is None:
        return None
    return HANDLERS.get((dom, op)) or CATEGORIES.get((dom, op.lower()))

"""Workload from an ONNX model: ``from_onnx(path | ModelProto | bytes, input_shapes=None, batch=1)``.

How a graph becomes rows (the counting rules are in :mod:`nas_edge.workload._rows`):

1. **Load** without external weight data (only shapes are needed, so multi-GB models load fast; small integer
   tensors stored externally are read when their file is there, for shape computations). A missing file, a
   file that is not ONNX, a truncated or corrupted one raises :class:`OnnxError` with one readable line.
2. **Shapes.** Graph inputs get concrete shapes: from ``input_shapes`` (by input name; a key naming a
   symbolic dimension, e.g. ``{"sequence": 128}``, sets that symbol everywhere), else a symbolic *leading*
   dimension is the batch and is set to 1 — unless the work does not scale linearly with it (checked at 2
   for graphs with attention matmuls: the sequence axis of a sequence-first transformer), which raises
   :class:`OnnxShapeError`. Any other unknown dimension raises :class:`OnnxShapeError` naming the input and
   the option to give. Then ONNX shape inference (with data propagation) sizes every tensor;
   large initializers are passed to it as typed inputs so that it never copies weights.
3. **Static weights.** A tensor is static when it is an initializer, a ``Constant`` output, or computed
   only from static tensors (``Transpose``/``Reshape``/``Cast``/``DequantizeLinear`` of an initializer, a
   weight arriving through ``Constant`` nodes, ...). Such nodes are constant-folded (no row), as inference
   engines do; shape computations (``Shape`` and what is computed from it) likewise. Nodes whose outputs
   reach no graph output are dropped.
4. **Rows.** ``Conv``/``ConvTranspose``/``Gemm``/``MatMul``/``Einsum`` (and their quantized and ONNX
   Runtime ``com.microsoft`` fused forms) with a static operand are ``CONV``/``LINEAR`` rows; with two
   activations (attention ``QK^T`` and ``A V``) ``DYNAMIC_MATMUL`` rows with the heads as groups. A bias
   ``Add``, a ``BatchNormalization`` or a piecewise-linear activation (``Relu``, ``Clip``, ``LeakyRelu``,
   ``HardSigmoid``) right after a static layer, as its only consumer, is folded into it: inference engines
   and IMC output stages apply them as the layer's outputs are written.
   Element-wise ops, normalisations, softmax, pooling/reductions, resize and data movement are digital rows.
   Free ops (``Reshape``, ``Flatten``, ``Squeeze``, ``Unsqueeze``, ``Identity``, ``Dropout``) and the
   quantize / dequantize ops of activations have no row.
   An op it does not know becomes an ``OTHER`` row (one op per output element) and a warning; a node whose
   shapes stay unknown becomes an empty ``OTHER`` row and a warning. Neither is ever an error.
5. **Batch.** The workload is one inference with the symbolic batch set to 1, then ``.batched(batch)``.

Modules: this one loads the file and sizes the inputs; :mod:`nas_edge.workload._onnx_shapes` runs shape
inference and its fallbacks; :mod:`nas_edge.workload._onnx_walk` walks the graph, with a table of handlers
by op type.

The workload's ``op_types`` (one per row), ``warnings`` and ``batch`` are typed fields; ``workload.meta``
describes the source: ``source``, ``producer``, ``opset``, ``ir_version``, ``inputs`` (the shapes used),
``batch_symbolic``, ``initializer_params`` (all weights in the file, embedding tables and norms included)
and ``quantized_bits`` (:func:`quantized_bits`).

Quantized graphs: ``QuantizeLinear`` / ``DequantizeLinear`` of activations are the representation on a chip
that computes at that precision, not work: they have no row (as views), so an INT8 QDQ model costs what its
float model costs, at each hardware profile's own precision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_edge.errors import NasEdgeError, first_line
from nas_edge.workload._onnx_common import STD_DOMAINS, conv_output_shape, value_dims
from nas_edge.workload._onnx_shapes import infer_shapes
from nas_edge.workload._onnx_walk import Walker
from nas_edge.workload.table import DimensionError, OpKind, Workload

if TYPE_CHECKING:
    import onnx

InputShapes = Mapping[str, Sequence[int] | int]

_MAX_FILE_BYTES = 1 << 31  # protobuf refuses messages over 2 GiB; bigger models keep weights external


class OnnxError(NasEdgeError, ValueError):
    """A model that cannot be read or sized. ``str()`` is one line for the user."""


class OnnxShapeError(OnnxError):
    """Input shapes are not fixed and were not given."""


# ---- loading ----------------------------------------------------------------------------------------------

def load_model(source: Any) -> tuple[onnx.ModelProto, str, Path | None]:
    """``(model without external data, label for messages, directory of external data)``."""
    import onnx

    if isinstance(source, onnx.ModelProto):
        return source, "<ModelProto>", None
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _parse(bytes(source), "<bytes>"), "<bytes>", None
    if not isinstance(source, (str, Path)):
        raise OnnxError(f"expected a path, bytes or onnx.ModelProto, got {type(source).__name__}")
    path = Path(source).expanduser()
    label = str(source)
    if not path.exists():
        raise OnnxError(f"{label}: no such file")
    if not path.is_file():
        raise OnnxError(f"{label}: not a file (expected an .onnx model)")
    size = path.stat().st_size
    if size == 0:
        raise OnnxError(f"{label}: the file is empty, not an ONNX model")
    if size >= _MAX_FILE_BYTES:
        raise OnnxError(f"{label}: {size / 2**30:.1f} GiB in one file; ONNX models over 2 GiB keep their "
                        "weights as external data")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OnnxError(f"{label}: cannot read the file: {exc.strerror or exc}") from None
    return _parse(data, label), label, path.parent


def _parse(data: bytes, label: str) -> onnx.ModelProto:
    import onnx

    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise OnnxError(f"{label}: not a valid ONNX model, the file may be truncated or corrupted "
                        f"(protobuf: {first_line(exc)})") from None
    _check_structure(model, label)
    return model


def _check_structure(model: onnx.ModelProto, label: str) -> None:
    """Catch what protobuf lets through: text or random bytes that happen to parse, files cut short."""
    g = model.graph
    if not model.HasField("graph") or (not g.node and not g.output):
        raise OnnxError(f"{label}: not an ONNX model (no graph found)")
    if model.ir_version < 3 or model.ir_version > 64:
        raise OnnxError(f"{label}: not a valid ONNX model (ir_version {model.ir_version}); the file may be "
                        "corrupted")
    if not model.opset_import:
        raise OnnxError(f"{label}: the model declares no opset; the file may be truncated or corrupted")
    if not g.output:
        raise OnnxError(f"{label}: the graph has no outputs; the file may be truncated or corrupted")
    defined = {i.name for i in g.input} | {t.name for t in g.initializer} | {
        t.values.name for t in g.sparse_initializer} | {""}
    for node in g.node:
        defined.update(node.output)
    for node in g.node:
        for name in node.input:
            if name not in defined:
                raise OnnxError(f"{label}: node {node.name or node.op_type!r} reads {name!r}, which nothing "
                                "defines; the file may be truncated or corrupted")
    for out in g.output:
        if out.name not in defined:
            raise OnnxError(f"{label}: graph output {out.name!r} is never computed; the file may be "
                            "truncated or corrupted")
    if _topological_order(g) is None:
        raise OnnxError(f"{label}: the graph has a cycle (a node depends on its own output); not a valid ONNX "
                        "model")


def _topological_order(g: Any) -> list[int] | None:
    """Node indices in an order where every node comes after its producers (the file's order when it is
    already one, as ONNX requires); ``None`` for a cyclic graph."""
    producer: dict[str, int] = {}
    for i, node in enumerate(g.node):
        for o in node.output:
            if o:
                producer.setdefault(o, i)
    deps = [{producer[x] for x in node.input if x in producer} for node in g.node]
    if all(all(d < i for d in ds) for i, ds in enumerate(deps)):
        return list(range(len(g.node)))
    users: dict[int, list[int]] = {}
    for i, ds in enumerate(deps):
        for d in ds:
            users.setdefault(d, []).append(i)
    waiting = [len(ds) for ds in deps]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    order: list[int] = []
    while ready:
        i = ready.pop()
        order.append(i)
        for u in users.get(i, ()):
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.append(u)
    return order if len(order) == len(deps) else None


def _sorted_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model itself when its nodes are in topological order, else a copy whose nodes are."""
    import onnx

    order = _topological_order(model.graph)
    if order is None or order == list(range(len(model.graph.node))):
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    del copy.graph.node[:]
    copy.graph.node.extend(model.graph.node[i] for i in order)
    return copy


# ---- input shapes -----------------------------------------------------------------------------------------

def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``"name=1x3x224x224"`` (or ``1,3,224,224``) -> ``("name", (1, 3, 224, 224))``; ``"seq=128"`` -> (128,)."""
    name, eq, dims = text.partition("=")
    name, dims = name.strip(), dims.strip().replace(",", "x").replace("*", "x")
    try:
        shape = tuple(int(d) for d in dims.split("x") if d.strip())
    except ValueError:
        shape = ()
    if not eq or not name or not shape or min(shape) < 1:
        raise OnnxError(f"bad input shape {text!r}: expected NAME=DIMS with positive dims, e.g. "
                        "input=1x3x224x224 (or a symbolic dimension: sequence=128)")
    return name, shape


def _resolve_inputs(model: onnx.ModelProto, label: str, given: InputShapes | None, leading: int = 1
                    ) -> tuple[dict[str, tuple[int, ...]], bool]:
    """Concrete shapes of the graph inputs; ``(shapes, leading symbolic dimension seen)``. A symbolic leading
    dimension is taken as the batch and sized ``leading``."""
    g = model.graph
    inits = {t.name for t in g.initializer} | {t.values.name for t in g.sparse_initializer}
    inputs = [i for i in g.input if i.name not in inits]
    names = {i.name for i in inputs}
    given = dict(given or {})
    symbols: dict[str, int] = {}
    explicit: dict[str, tuple[int, ...]] = {}
    for key, value in given.items():
        given_dims = (int(value),) if isinstance(value, int) else tuple(int(v) for v in value)
        if not given_dims or min(given_dims) < 1:
            raise OnnxError(f"input shape for {key!r} must have positive dims, got {given_dims}")
        if key in names:
            explicit[key] = given_dims
        elif len(given_dims) == 1:
            symbols[key] = given_dims[0]
        else:
            what = (f"{key!r}, which is neither an input ({', '.join(sorted(names)) or 'none'}) nor a symbolic "
                    "dimension")
            raise OnnxError(f"{label}: input_shapes names {what}").for_cli(f"{label}: --input-shape names {what}")
    known_symbols = {d for i in inputs for d in (value_dims(i) or []) if isinstance(d, str)}
    unknown_symbols = set(symbols) - known_symbols
    if unknown_symbols:
        what = (f"{sorted(unknown_symbols)[0]!r}, which is neither an input ({', '.join(sorted(names)) or 'none'}) "
                f"nor a symbolic dimension ({', '.join(sorted(known_symbols)) or 'none'})")
        raise OnnxError(f"{label}: input_shapes names {what}").for_cli(f"{label}: --input-shape names {what}")
    out: dict[str, tuple[int, ...]] = {}
    batch_symbolic = False
    for inp in inputs:
        declared = value_dims(inp)
        if inp.name in explicit:
            if declared is not None and len(declared) != len(explicit[inp.name]):
                raise OnnxError(f"{label}: input {inp.name!r} has rank {len(declared)}, the given shape "
                                f"{'x'.join(map(str, explicit[inp.name]))} has rank {len(explicit[inp.name])}")
            out[inp.name] = explicit[inp.name]
            continue
        if not inp.type.HasField("tensor_type"):
            raise OnnxShapeError(f"{label}: input {inp.name!r} is not a tensor; its shape cannot be inferred")
        if declared is None:
            raise OnnxShapeError(
                f"{label}: input {inp.name!r} has no declared shape; give it with input_shapes={{{inp.name!r}: "
                "(...)}").for_cli(f"{label}: input {inp.name!r} has no declared shape; give it with "
                                  f"--input-shape {inp.name}=DIMS")
        dims: list[int] = []
        for axis, d in enumerate(declared):
            if isinstance(d, int) and d > 0:
                dims.append(d)
            elif isinstance(d, str) and d in symbols:
                dims.append(symbols[d])
            elif axis == 0:
                dims.append(leading)
                batch_symbolic = True
            else:
                what = f"'{d}'" if isinstance(d, str) else ("0" if d == 0 else "unknown")
                dims_given = [str(x) if isinstance(x, int) and x > 0 else ("1" if i == 0 else "N")
                              for i, x in enumerate(declared)]
                head = f"{label}: cannot infer shapes: input {inp.name!r} has a {what} dimension at axis {axis}"
                py_hint = f" or the symbol: input_shapes={{{d!r}: N}}" if isinstance(d, str) else ""
                cli_hint = f" or the symbol with --input-shape {d}=N" if isinstance(d, str) else ""
                raise OnnxShapeError(
                    f"{head}; give it with input_shapes={{{inp.name!r}: ({', '.join(dims_given)})}}{py_hint}"
                ).for_cli(f"{head}; give it with --input-shape {inp.name}={'x'.join(dims_given)}{cli_hint}")
        out[inp.name] = tuple(dims)
    return out, batch_symbolic


def quantized_bits(model: onnx.ModelProto) -> dict[str, int] | None:
    """Bit widths of a quantized (QDQ / QOperator) graph: ``{"weights": b, "activations": b}`` read from the
    integer types of quantized weights and of quantize ops' zero points / outputs; ``None`` for a float graph."""
    from onnx import TensorProto, helper

    g = model.graph
    types = {t.name: t.data_type for t in g.initializer}
    for vi in (*g.input, *g.value_info):
        if vi.type.HasField("tensor_type"):
            types.setdefault(vi.name, vi.type.tensor_type.elem_type)

    def bits(dtype: int | None) -> int | None:
        if dtype in (TensorProto.INT4, TensorProto.UINT4):
            return 4
        if dtype in (None, TensorProto.UNDEFINED, TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16,
                     TensorProto.BFLOAT16, TensorProto.STRING, TensorProto.BOOL):
            return None
        try:
            return 8 * helper.tensor_dtype_to_np_dtype(dtype).itemsize
        except (KeyError, TypeError, ValueError):
            return None

    weights = {t.name for t in g.initializer}
    found: dict[str, int] = {}
    for node in g.node:
        ins = list(node.input)
        if node.op_type == "DequantizeLinear" and ins and ins[0] in weights:
            b = bits(types.get(ins[0]))
            b = None if b == 32 else b  # int32 biases (ONNX Runtime's convention) are not the weights
            role = "weights"
        elif node.op_type == "QuantizeLinear":
            out_dtype = next((a.i for a in node.attribute if a.name == "output_dtype"), 0)
            b = bits(out_dtype) if out_dtype else bits(types.get(ins[2])) if len(ins) > 2 and ins[2] else 8
            role = "activations"
        elif node.op_type in ("QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger"):
            b = bits(types.get(ins[3] if node.op_type.startswith("QLinear") else ins[1]))
            role = "weights"
        else:
            continue
        if b is not None:
            found[role] = max(found.get(role, 0), b)
    return found or None


def _check_leading_is_batch(proto: onnx.ModelProto, label: str, input_shapes: InputShapes | None,
                            base_dir: Path | None, rows: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a symbolic leading dimension that is not a batch. A batch scales every row's work linearly; the
    sequence of a sequence-first transformer (``nn.TransformerEncoder`` with ``batch_first=False``, exported
    with a dynamic axis 0) scales attention quadratically, and sizing it 1 would drop almost all the work
    silently. Checked by costing the graph again with the leading dimension at 2 (only for graphs with
    activation x activation matmuls, where the difference shows)."""
    inputs2, _ = _resolve_inputs(proto, label, input_shapes, leading=2)
    shapes2, _ = infer_shapes(proto, inputs2, base_dir)
    walker2 = Walker(proto, shapes2)
    walker2.run()
    one = sum(float(r["macs"]) for r in rows)
    two = sum(float(r["macs"]) for r in walker2.rows)
    if len(walker2.rows) == len(rows) and math.isclose(two, 2 * one, rel_tol=1e-9):
        return
    symbolic = []
    for inp in proto.graph.input:
        dims = value_dims(inp)
        if dims and isinstance(dims[0], str):
            symbolic.append((inp.name, dims[0]))
    what = ", ".join(f"{name!r} axis 0 ('{d}')" for name, d in symbolic) or "a leading dimension"
    example = symbolic[0][1] if symbolic else "N"
    raise OnnxShapeError(
        f"{label}: the symbolic leading dimension of input {what} is not a batch: the multiply-accumulates do "
        f"not scale linearly with it ({one:.4g} at 1, {two:.4g} at 2), as with the sequence axis of a "
        f"sequence-first transformer; give its size with --input-shape {example}=N "
        f"(Python: input_shapes={{{example!r}: N}})")


def from_onnx(model: Any, input_shapes: InputShapes | None = None, batch: int = 1) -> Workload:
    """The workload of an ONNX model (a path, serialized bytes or an ``onnx.ModelProto``).

    ``input_shapes`` maps input names to shapes (or symbolic dimension names to sizes); ``batch`` sets how
    many inferences the workload covers (symbolic batch dimensions are sized 1 first). Raises
    :class:`OnnxError` (:class:`OnnxShapeError` when shapes are missing) with a one-line message.
    """
    if int(batch) < 1:
        raise OnnxError(f"batch must be >= 1, got {batch}")
    proto, label, base_dir = load_model(model)
    if label == "<ModelProto>":
        _check_structure(proto, label)
    try:
        proto = _sorted_model(proto)
        inputs, batch_symbolic = _resolve_inputs(proto, label, input_shapes)
        shapes, notes = infer_shapes(proto, inputs, base_dir)
        walker = Walker(proto, shapes)
        walker.run()
        if batch_symbolic and any(r["kind"] == OpKind.DYNAMIC_MATMUL for r in walker.rows):
            _check_leading_is_batch(proto, label, input_shapes, base_dir, walker.rows)
    except OnnxError:
        raise
    except DimensionError as exc:
        raise OnnxError(f"{label}: {exc}") from None
    except Exception as exc:  # a hostile file must give one line, never a traceback
        raise OnnxError(f"{label}: cannot read this model ({type(exc).__name__}: {first_line(exc, 300)}); the file "
                        "may be corrupted") from exc
    opset = next((o.version for o in proto.opset_import if o.domain in STD_DOMAINS), 0)
    meta = {
        "source": label,
        "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
        "opset": int(opset),
        "ir_version": int(proto.ir_version),
        "inputs": {k: list(v) for k, v in inputs.items()},
        "batch_symbolic": batch_symbolic,
        "initializer_params": float(sum(math.prod(t.dims) for t in proto.graph.initializer)),
        "quantized_bits": quantized_bits(proto),
    }
    return Workload.from_rows(walker.rows, meta=meta, warnings=[*notes, *walker.warnings]).batched(int(batch))


__all__ = ["OnnxError", "OnnxShapeError", "conv_output_shape", "from_onnx", "load_model", "parse_shape"]

"""Workload from an ONNX model: ``from_onnx(path | ModelProto | bytes, input_shapes=None, batch=1)``.

How a graph becomes rows (the counting rules are in :mod:`nas_edge.workload._rows`):

1. **Load** without external weight data (only shapes are needed, so multi-GB models load fast; small integer
   tensors stored externally are read when their file is there, for shape computations). A missing file, a
   file that is not ONNX, a truncated or corrupted one raises :class:`OnnxError` with one readable line.
2. **Shapes.** Graph inputs get concrete shapes: from ``input_shapes`` (by input name; a key naming a
   symbolic dimension, e.g. ``{"sequence": 128}``, sets that symbol everywhere), else a symbolic *leading*
   dimension is the batch and is set to 1. Any other unknown dimension raises :class:`OnnxShapeError` naming
   the input and the option to give. Then ONNX shape inference (with data propagation) sizes every tensor;
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
   Free ops (``Reshape``, ``Flatten``, ``Squeeze``, ``Unsqueeze``, ``Identity``, ``Dropout``) have no row.
   An op it does not know becomes an ``OTHER`` row (one op per output element) and a warning; a node whose
   shapes stay unknown becomes an empty ``OTHER`` row and a warning. Neither is ever an error.
5. **Batch.** The workload is one inference with the symbolic batch set to 1, then ``.batched(batch)``.

``workload.meta`` holds ``source``, ``producer``, ``opset``, ``ir_version``, ``inputs`` (the shapes used),
``op_types`` (one per row), ``warnings``, ``initializer_params`` (all weights in the file, embedding tables
and norms included) and ``batch``.
"""

from __future__ import annotations

import ast
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_edge.errors import NasEdgeError
from nas_edge.workload import _rows as R
from nas_edge.workload.table import OpKind, Workload

if TYPE_CHECKING:
    import onnx

InputShapes = Mapping[str, Sequence[int] | int]

_MAX_FILE_BYTES = 1 << 31  # protobuf refuses messages over 2 GiB; bigger models keep weights external
_KEEP_VALUE_ELEMS = 4096  # integer initializers up to this size keep their values for data propagation

FREE_OPS = frozenset(("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Optional",
                      "OptionalGetElement", "OptionalHasElement"))
SHAPE_OPS = frozenset(("Shape", "Size"))
RANDOM_OPS = frozenset(("RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                        "Bernoulli", "Multinomial"))
CONTROL_OPS = frozenset(("If", "Loop", "Scan"))
FUSED_ACTIVATIONS = ("Relu", "Clip", "LeakyRelu", "HardSigmoid")  # applied as a static layer's output is written
REDUCE_OPS = {"ReduceMean": 1.0, "ReduceSum": 1.0, "ReduceMax": 1.0, "ReduceMin": 1.0, "ReduceProd": 1.0,
              "ReduceL1": 2.0, "ReduceL2": 2.0, "ReduceSumSquare": 2.0, "ReduceLogSum": 1.0,
              "ReduceLogSumExp": 5.0, "ArgMax": 1.0, "ArgMin": 1.0, "TopK": 1.0, "GlobalAveragePool": 1.0,
              "GlobalMaxPool": 1.0, "GlobalLpPool": 3.0}
_STD_DOMAINS = ("", "ai.onnx")
_MS = "com.microsoft"


class OnnxError(NasEdgeError, ValueError):
    """A model that cannot be read or sized. ``str()`` is one line for the user."""


class OnnxShapeError(OnnxError):
    """Input shapes are not fixed and were not given."""


class _Unknown(Exception):
    """A shape the inference could not determine (internal)."""


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
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OnnxError(f"{label}: not a valid ONNX model, the file may be truncated or corrupted "
                        f"(protobuf: {reason})") from None
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


def _dims(value_info: Any) -> list[int | str | None] | None:
    t = value_info.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    out: list[int | str | None] = []
    for d in t.tensor_type.shape.dim:
        if d.HasField("dim_value") and d.dim_value >= 0:
            out.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            out.append(d.dim_param)
        else:
            out.append(None)
    return out


def _resolve_inputs(model: onnx.ModelProto, label: str, given: InputShapes | None
                    ) -> tuple[dict[str, tuple[int, ...]], bool]:
    """Concrete shapes of the graph inputs; ``(shapes, leading symbolic dimension seen)``."""
    g = model.graph
    inits = {t.name for t in g.initializer} | {t.values.name for t in g.sparse_initializer}
    inputs = [i for i in g.input if i.name not in inits]
    names = {i.name for i in inputs}
    given = dict(given or {})
    symbols: dict[str, int] = {}
    explicit: dict[str, tuple[int, ...]] = {}
    for key, value in given.items():
        dims = (int(value),) if isinstance(value, int) else tuple(int(v) for v in value)
        if not dims or min(dims) < 1:
            raise OnnxError(f"input shape for {key!r} must have positive dims, got {dims}")
        if key in names:
            explicit[key] = dims
        elif len(dims) == 1:
            symbols[key] = dims[0]
        else:
            raise OnnxError(f"{label}: --input-shape names {key!r}, which is neither an input "
                            f"({', '.join(sorted(names)) or 'none'}) nor a symbolic dimension")
    known_symbols = {d for i in inputs for d in (_dims(i) or []) if isinstance(d, str)}
    unknown_symbols = set(symbols) - known_symbols
    if unknown_symbols:
        raise OnnxError(f"{label}: --input-shape names {sorted(unknown_symbols)[0]!r}, which is neither an "
                        f"input ({', '.join(sorted(names)) or 'none'}) nor a symbolic dimension "
                        f"({', '.join(sorted(known_symbols)) or 'none'})")
    out: dict[str, tuple[int, ...]] = {}
    batch_symbolic = False
    for inp in inputs:
        declared = _dims(inp)
        if inp.name in explicit:
            if declared is not None and len(declared) != len(explicit[inp.name]):
                raise OnnxError(f"{label}: input {inp.name!r} has rank {len(declared)}, the given shape "
                                f"{'x'.join(map(str, explicit[inp.name]))} has rank {len(explicit[inp.name])}")
            out[inp.name] = explicit[inp.name]
            continue
        if not inp.type.HasField("tensor_type"):
            raise OnnxShapeError(f"{label}: input {inp.name!r} is not a tensor; its shape cannot be inferred")
        if declared is None:
            raise OnnxShapeError(f"{label}: input {inp.name!r} has no declared shape; give it with "
                                 f"--input-shape {inp.name}=DIMS (Python: input_shapes={{{inp.name!r}: (...)}})")
        dims: list[int] = []
        for axis, d in enumerate(declared):
            if isinstance(d, int) and d > 0:
                dims.append(d)
            elif isinstance(d, str) and d in symbols:
                dims.append(symbols[d])
            elif axis == 0:
                dims.append(1)
                batch_symbolic = True
            else:
                what = f"'{d}'" if isinstance(d, str) else ("0" if d == 0 else "unknown")
                hint = f" or the symbol with --input-shape {d}=N" if isinstance(d, str) else ""
                example = "x".join(str(x) if isinstance(x, int) and x > 0 else ("1" if i == 0 else "N")
                                   for i, x in enumerate(declared))
                raise OnnxShapeError(
                    f"{label}: cannot infer shapes: input {inp.name!r} has a {what} dimension at axis {axis}; "
                    f"give it with --input-shape {inp.name}={example}{hint} "
                    f"(Python: input_shapes={{{inp.name!r}: (...)}})")
        out[inp.name] = tuple(dims)
    return out, batch_symbolic


# ---- shape inference --------------------------------------------------------------------------------------

def _infer(model: onnx.ModelProto, inputs: Mapping[str, tuple[int, ...]], base_dir: Path | None
           ) -> tuple[dict[str, tuple[int, ...] | None], list[str]]:
    """Shapes of every tensor after ONNX shape inference on a weight-free copy of the graph."""
    import onnx
    from onnx import TensorProto, helper

    g = model.graph
    m = onnx.ModelProto()
    m.ir_version = model.ir_version
    m.opset_import.extend(model.opset_import)
    m.functions.extend(model.functions)
    ng = m.graph
    ng.name = g.name
    ng.node.extend(g.node)
    int_types = {TensorProto.INT64, TensorProto.INT32, TensorProto.INT16, TensorProto.INT8,
                 TensorProto.UINT8, TensorProto.BOOL}
    notes: list[str] = []
    for t in g.initializer:
        n = math.prod(t.dims)
        external = t.data_location == TensorProto.EXTERNAL
        if (t.data_type in int_types and n <= _KEEP_VALUE_ELEMS) or n <= 16:
            if not external:
                ng.initializer.append(t)
                continue
            loaded = _load_small_external(t, base_dir)
            if loaded is not None:
                ng.initializer.append(loaded)
                continue
            missing = next((e.value for e in t.external_data if e.key == "location"), "?")
            note = f"external data {missing!r} not readable: shapes computed from its tensors are unknown"
            if note not in notes:
                notes.append(note)
        ng.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    for st in g.sparse_initializer:
        ng.input.append(helper.make_tensor_value_info(st.values.name, st.values.data_type, list(st.dims)))
    for inp in g.input:
        if inp.name in inputs:
            elem = inp.type.tensor_type.elem_type or TensorProto.FLOAT
            ng.input.append(helper.make_tensor_value_info(inp.name, elem, list(inputs[inp.name])))
    for out in g.output:  # keep the element type, drop (possibly symbolic) dims: inference recomputes them
        vi = ng.output.add()
        vi.name = out.name
        if out.type.HasField("tensor_type"):
            vi.type.tensor_type.elem_type = out.type.tensor_type.elem_type
    shapes = _run_inference(m, notes)
    for t in g.initializer:
        shapes[t.name] = tuple(int(x) for x in t.dims)
    for name, dims in inputs.items():
        shapes[name] = dims
    def unsized() -> bool:
        return any(shapes.get(o) is None for node in g.node for o in node.output if o)

    if unsized():
        # Some shapes hang on small computed tensors (Where/Equal/ConstantOfShape chains of the legacy
        # exporter, ...) that data propagation does not evaluate: fold them with ONNX's reference ops, retry.
        folded = _fold_small_constants(m, shapes)
        if folded is not None:
            m = folded
            again = _run_inference(m, notes)
            shapes.update({k: v for k, v in again.items() if v is not None or k not in shapes})
    if unsized() and any(node.domain == _MS or node.op_type == "LayerNormalization" for node in g.node):
        # ONNX Runtime's fused ops (FusedConv, SkipLayerNormalization, Gelu, ...) are unknown to ONNX's
        # inference: infer on a copy where each is replaced by its standard equivalent
        standard = _standardize_contrib(m, shapes)
        again = _run_inference(standard, notes)
        shapes.update({k: v for k, v in again.items() if v is not None and shapes.get(k) is None})
    for _ in range(8):
        # what is left: size the fused ops with their own rules, hand that to ONNX's inference, repeat
        if not unsized() or not any(node.domain not in _STD_DOMAINS for node in g.node):
            break
        found = _contrib_shapes(g, shapes)
        if not found:
            break
        shapes.update(found)
        for name, dims in found.items():
            vi = m.graph.value_info.add()
            vi.CopyFrom(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims)))
        again = _run_inference(m, notes)
        shapes.update({k: v for k, v in again.items() if v is not None and shapes.get(k) is None})
    if unsized() and any(node.domain not in _STD_DOMAINS for node in g.node):
        for name, dims in _ort_symbolic_shapes(m).items():  # last resort: ONNX Runtime's own inference
            if shapes.get(name) is None:
                shapes[name] = dims
    return shapes, notes


def _standardize_contrib(m: onnx.ModelProto, shapes: Mapping[str, tuple[int, ...] | None]) -> onnx.ModelProto:
    """A copy of ``m`` for shape inference only: ONNX Runtime's ``com.microsoft`` fused ops replaced by
    standard ops with the same output shapes (FusedConv -> Conv, FusedGemm -> Gemm, FusedMatMul -> MatMul
    with transposes, Gelu-like and layer-norm-like ops -> Identity of their first input)."""
    import onnx
    from onnx import helper

    conv_attrs = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")
    new = onnx.ModelProto()
    new.CopyFrom(m)
    nodes = []
    for node in m.graph.node:
        op, ins, outs = node.op_type, list(node.input), list(node.output)
        if node.domain != _MS and op != "LayerNormalization":  # ORT also writes it below opset 17
            nodes.append(node)
            continue
        keep = lambda names, nd=node: [a for a in nd.attribute if a.name in names]  # noqa: E731
        if op == "FusedConv" and len(ins) >= 2:
            n = helper.make_node("Conv", ins[:2], outs[:1], name=node.name)
            n.attribute.extend(keep(conv_attrs))
            nodes.append(n)
        elif op == "FusedGemm" and len(ins) >= 2:
            n = helper.make_node("Gemm", ins[:2], outs[:1], name=node.name)
            n.attribute.extend(keep(("transA", "transB")))
            nodes.append(n)
        elif op == "FusedMatMul" and len(ins) >= 2:
            operands = []
            for i, flag in ((0, "transA"), (1, "transB")):
                rank = len(shapes.get(ins[i]) or ())
                if _attr(node, flag, 0) and rank < 2:
                    break  # rank unknown: leave this one to the fallbacks
                if _attr(node, flag, 0):
                    perm = [*range(rank - 2), rank - 1, rank - 2]
                    nodes.append(helper.make_node("Transpose", [ins[i]], [f"{outs[0]}__t{i}"], perm=perm))
                    operands.append(f"{outs[0]}__t{i}")
                else:
                    operands.append(ins[i])
            else:
                nodes.append(helper.make_node("MatMul", operands, outs[:1], name=node.name))
        elif op in _SAME_SHAPE_CONTRIB and ins and ins[0]:
            for k, o in enumerate(outs):
                if o and (k == 0 or (op.startswith("Skip") and k == 3)):  # output 3: input + skip (+ bias)
                    nodes.append(helper.make_node("Identity", [ins[0]], [o]))
        else:
            nodes.append(node)
    del new.graph.node[:]
    new.graph.node.extend(nodes)
    return new


_SAME_SHAPE_CONTRIB = frozenset((
    "Gelu", "FastGelu", "BiasGelu", "QuickGelu", "BiasAdd", "BiasSoftmax", "BiasDropout", "SkipLayerNormalization",
    "SkipSimplifiedLayerNormalization", "SimplifiedLayerNormalization", "LayerNormalization", "FusedGelu",
))


def _contrib_shapes(g: Any, shapes: Mapping[str, tuple[int, ...] | None]) -> dict[str, tuple[int, ...]]:
    """Output shapes of ONNX Runtime ``com.microsoft`` ops whose inputs are sized and outputs are not."""
    found: dict[str, tuple[int, ...]] = {}
    known = lambda n: found.get(n) or shapes.get(n)  # noqa: E731
    for node in g.node:
        if node.domain != _MS or not node.output or known(node.output[0]) is not None:
            continue
        ins = [known(i) if i else None for i in node.input]
        op = node.op_type
        try:
            if op in ("FusedConv", "NhwcConv") and ins[0] and ins[1] and op == "FusedConv":
                out = conv_output_shape(ins[0], ins[1], int(_attr(node, "group", 1)), **_conv_attrs(node))
            elif op == "FusedGemm" and ins[0] and ins[1]:
                a = ins[0][::-1] if _attr(node, "transA", 0) else ins[0]
                b = ins[1][::-1] if _attr(node, "transB", 0) else ins[1]
                out = (a[0], b[1])
            elif op == "FusedMatMul" and ins[0] and ins[1]:
                a, b = list(ins[0]), list(ins[1])
                if _attr(node, "transA", 0):
                    a[-2:] = a[-1], a[-2]
                if _attr(node, "transB", 0):
                    b[-2:] = b[-1], b[-2]
                out = (*R.broadcast(a[:-2], b[:-2]), a[-2], b[-1])
            elif op in _SAME_SHAPE_CONTRIB and ins and ins[0]:
                out = tuple(ins[0])
            elif op in ("Attention", "MultiHeadAttention") and ins and ins[0] and len(ins[0]) == 3:
                hidden = ins[1][1] // 3 if op == "Attention" and len(ins) > 1 and ins[1] else ins[0][2]
                out = (ins[0][0], ins[0][1], hidden)
            else:
                continue
        except (ValueError, IndexError, TypeError):
            continue
        found[node.output[0]] = tuple(int(d) for d in out)
    return found


def _ort_symbolic_shapes(m: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Concrete shapes from ``onnxruntime/tools/symbolic_shape_infer.py`` (loaded from its file, so that
    ``onnxruntime.tools`` and the torch it imports stay out); empty when it is missing or fails."""
    import importlib.util

    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin).parent / "tools" / "symbolic_shape_infer.py"
    try:
        loader = importlib.util.spec_from_file_location("_nas_edge_symbolic_shape_infer", path)
        module = importlib.util.module_from_spec(loader)  # type: ignore[arg-type]
        loader.loader.exec_module(module)  # type: ignore[union-attr]
        inferred = module.SymbolicShapeInference.infer_shapes(m, auto_merge=True, guess_output_rank=True)
    except Exception:  # an old or broken onnxruntime, or a graph it cannot follow
        return {}
    out: dict[str, tuple[int, ...]] = {}
    for vi in (*inferred.graph.value_info, *inferred.graph.output):
        d = _dims(vi)
        if d is not None and all(isinstance(x, int) for x in d):
            out[vi.name] = tuple(d)  # type: ignore[arg-type]
    return out


def _run_inference(m: onnx.ModelProto, notes: list[str]) -> dict[str, tuple[int, ...] | None]:
    import onnx

    inferred = None
    for data_prop in (True, False):
        try:
            inferred = onnx.shape_inference.infer_shapes(m, check_type=False, strict_mode=False,
                                                         data_prop=data_prop)
            break
        except Exception as exc:  # a bad node must not stop the profile
            notes.append(f"ONNX shape inference failed ({str(exc).splitlines()[0][:200]})")
    shapes: dict[str, tuple[int, ...] | None] = {}
    graph = inferred.graph if inferred is not None else m.graph
    for vi in (*graph.input, *graph.value_info, *graph.output):
        d = _dims(vi)
        shapes[vi.name] = tuple(d) if d is not None and all(isinstance(x, int) for x in d) else None  # type: ignore[arg-type]
    return shapes


def _fold_small_constants(m: onnx.ModelProto, shapes: Mapping[str, tuple[int, ...] | None]
                          ) -> onnx.ModelProto | None:
    """A copy of ``m`` whose small constant subgraphs (<= _KEEP_VALUE_ELEMS elements) are initializers."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    from onnx.reference.ops import load_op

    opsets = {o.domain or "": o.version for o in m.opset_import}
    params = {"log": lambda *a: None, "opsets": opsets, "verbose": 0, "new_ops": None,
              "existing_functions": {}, "evaluator_cls": None}
    values: dict[str, Any] = {}
    for t in m.graph.initializer:
        try:
            values[t.name] = numpy_helper.to_array(t)
        except Exception:  # a corrupted tensor: what depends on it stays unsized
            continue
    folded: set[int] = set()
    for idx, node in enumerate(m.graph.node):
        ins = [i for i in node.input if i]
        if node.op_type in RANDOM_OPS or node.op_type in CONTROL_OPS or node.domain not in _STD_DOMAINS:
            continue
        if not _small_result(node, shapes, values):
            continue  # never materialise a large tensor just to learn a shape
        try:
            if node.op_type in SHAPE_OPS:
                x = shapes.get(ins[0])
                if x is None:
                    continue
                start, end = _attr(node, "start", 0), _attr(node, "end", None)
                outs = [np.array(x[start:end] if node.op_type == "Shape" else math.prod(x), dtype=np.int64)]
            elif all(i in values for i in ins):
                op = load_op(node.domain, node.op_type, opsets.get(node.domain or "", 1))
                outs = list(op(node, params).run(*(values[i] for i in ins)))
            else:
                continue
        except Exception:  # an op the reference runtime cannot evaluate: leave it to inference
            continue
        if len(outs) != len([o for o in node.output]) or any(
                not isinstance(v, np.ndarray) or v.size > _KEEP_VALUE_ELEMS for v in outs):
            continue
        values.update(zip(node.output, outs, strict=True))
        folded.add(idx)
    if not folded:
        return None
    new = onnx.ModelProto()
    new.CopyFrom(m)
    del new.graph.node[:]
    new.graph.node.extend(n for i, n in enumerate(m.graph.node) if i not in folded)
    for i in sorted(folded):
        for o in m.graph.node[i].output:
            if o:
                new.graph.initializer.append(numpy_helper.from_array(np.asarray(values[o]), o))
    return new


_GROWING_OPS = frozenset(("ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Upsample", "Pad", "OneHot",
                          "EyeLike", "CenterCropPad", "Col2Im", "ScatterND", "ScatterElements"))


def _small_result(node: Any, shapes: Mapping[str, tuple[int, ...] | None], values: Mapping[str, Any]) -> bool:
    """Whether evaluating ``node`` on small constants is known to give small outputs."""
    known = [shapes.get(o) for o in node.output if o]
    if known and all(s is not None for s in known):
        return all(math.prod(s) <= _KEEP_VALUE_ELEMS for s in known)  # type: ignore[arg-type]
    if node.op_type == "ConstantOfShape" and node.input and node.input[0] in values:
        dims = values[node.input[0]].reshape(-1)
        return bool((dims >= 0).all()) and math.prod(int(d) for d in dims) <= _KEEP_VALUE_ELEMS
    return node.op_type not in _GROWING_OPS


def _load_small_external(t: Any, base_dir: Path | None) -> Any:
    if base_dir is None:
        return None
    from onnx import TensorProto
    from onnx.external_data_helper import load_external_data_for_tensor

    copy = TensorProto()
    copy.CopyFrom(t)
    try:
        load_external_data_for_tensor(copy, str(base_dir))
    except Exception:
        return None
    copy.data_location = TensorProto.DEFAULT
    del copy.external_data[:]
    return copy


# ---- the walk ---------------------------------------------------------------------------------------------

def _attr(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            v = helper.get_attribute_value(a)
            return v.decode() if isinstance(v, bytes) else v
    return default


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


class _Walker:
    def __init__(self, model: onnx.ModelProto, shapes: dict[str, tuple[int, ...] | None]) -> None:
        self.g = model.graph
        self.shapes = shapes
        self.const: set[str] = {t.name for t in self.g.initializer} | {
            t.values.name for t in self.g.sparse_initializer}
        self.rows: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.unknown: Counter[str] = Counter()
        self.unsized: list[str] = []
        self.producer: dict[str, int] = {}  # tensor -> static row it is the (folded) output of
        self.consumers: Counter[str] = Counter()
        self.graph_outputs = {o.name for o in self.g.output}

    # helpers
    def shape(self, name: str) -> tuple[int, ...]:
        s = self.shapes.get(name)
        if s is None:
            raise _Unknown(name)
        return s

    def numel(self, name: str) -> int:
        return R.numel(self.shape(name))

    def is_const(self, name: str) -> bool:
        return name in self.const

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
        for index, node in enumerate(self.live_nodes()):
            ins = [i for i in node.input if i]
            op, domain = node.op_type, node.domain
            if op == "Constant" or (op in SHAPE_OPS and domain in _STD_DOMAINS) or (
                    all(i in self.const for i in ins) and op not in RANDOM_OPS and op not in CONTROL_OPS):
                self.const.update(o for o in node.output if o)  # constant folding / shape computation
                continue
            if domain in _STD_DOMAINS and op in FREE_OPS:
                if ins and ins[0] in self.producer and self.consumers[ins[0]] == 1:
                    self.producer[node.output[0]] = self.producer[ins[0]]
                continue
            name = _node_label(node, index)
            try:
                new = self._rows(node, name)
            except _Unknown as exc:
                self.unsized.append(f"{op} {name!r} (shape of {exc.args[0]!r})")
                new = [R.digital_row(name, OpKind.OTHER, 0.0, 0.0, 0.0)]
            except Exception as exc:  # a malformed node must not stop the profile
                self.warnings.append(f"{op} {name!r}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                                     "; counted as an empty digital op")
                new = [R.digital_row(name, OpKind.OTHER, 0.0, 0.0, 0.0)]
            for row in new:
                if row["kind"] <= int(OpKind.DYNAMIC_MATMUL) and (row["k"] < 1 or row["n"] < 1):
                    row = R.digital_row(row["name"], OpKind.OTHER, 0.0, 0.0, 0.0)  # empty tensor
                row["op"] = op if domain in _STD_DOMAINS else f"{domain}.{op}"
                self.rows.append(row)
            if len(new) == 1 and new[0]["kind"] in (int(OpKind.CONV), int(OpKind.LINEAR)):
                self.producer[node.output[0]] = len(self.rows) - 1
        if self.unknown:
            ops = ", ".join(f"{op} ({n})" for op, n in sorted(self.unknown.items()))
            self.warnings.append(f"unknown op types counted as digital ops (1 op per output element): {ops}")
            if any(op.startswith("com.microsoft.nchwc.") for op in self.unknown):
                self.warnings.append("com.microsoft.nchwc ops come from a model saved by ONNX Runtime with all "
                                     "layout optimisations for one machine; profile the original model, or one "
                                     "saved at ORT_ENABLE_EXTENDED")
        if self.unsized:
            more = f"; and {len(self.unsized) - 5} more" if len(self.unsized) > 5 else ""
            shown = "; ".join(self.unsized[:5]) + more
            self.warnings.append(f"shapes unknown after inference, not costed: {shown}")

    # folding of a bias Add / BatchNormalization into the static layer before it
    def _fold(self, node: Any) -> bool:
        ins = [i for i in node.input if i]
        if node.op_type == "Add" and len(ins) == 2:
            for x, b in ((ins[0], ins[1]), (ins[1], ins[0])):
                r = self.producer.get(x)
                if r is not None and b in self.const and self.consumers[x] == 1 and x not in self.graph_outputs:
                    bias = self.shapes.get(b)
                    if bias is not None and R.numel(bias) == self.rows[r]["n"] and self.shapes.get(
                            node.output[0]) == self.shapes.get(x):
                        self.producer[node.output[0]] = r
                        return True
        if node.op_type in ("BatchNormalization", *FUSED_ACTIVATIONS) and ins:
            r = self.producer.get(ins[0])
            if r is not None and self.consumers[ins[0]] == 1 and ins[0] not in self.graph_outputs and all(
                    i in self.const for i in ins[1:]):
                self.producer[node.output[0]] = r
                return True
        return False

    def _in_elems(self, node: Any, out_elems: float) -> float:
        total = 0.0
        for i in node.input:
            if not i or i not in self.shapes or self.shapes[i] is None:
                continue
            n = float(R.numel(self.shapes[i]))  # type: ignore[arg-type]
            total += min(n, out_elems) if i in self.const else n
        return total

    def _out_elems(self, node: Any) -> float:
        return float(sum(self.numel(o) for o in node.output if o))

    def _digital(self, node: Any, name: str, kind: OpKind, ops_per_out: float) -> dict[str, Any]:
        out = self._out_elems(node)
        return R.digital_row(name, kind, ops_per_out * out, self._in_elems(node, out), out)

    def _rows(self, node: Any, name: str) -> list[dict[str, Any]]:
        op, domain = node.op_type, node.domain
        ins = list(node.input)
        std = domain in _STD_DOMAINS
        ms = domain == _MS
        if std and op in ("Add", "BatchNormalization", *FUSED_ACTIVATIONS) and self._fold(node):
            return []
        if (std and op in ("Conv", "ConvInteger")) or (ms and op in ("FusedConv", "NhwcConv")):
            return [self._conv(node, name, 0, 1, nhwc=op == "NhwcConv")]
        if std and op == "QLinearConv":
            return [self._conv(node, name, 0, 3)]
        if std and op == "ConvTranspose":
            return [self._conv(node, name, 0, 1, transposed=True)]
        if (std and op == "Gemm") or (ms and op == "FusedGemm"):
            return [self._gemm(node, name, 0, 1)]
        if ms and op == "QGemm":
            return [self._gemm(node, name, 0, 3)]
        if std and op in ("MatMul", "MatMulInteger"):
            return [R.matmul_row(name, self.shape(ins[0]), self.shape(ins[1]), self.is_const(ins[0]),
                                 self.is_const(ins[1]))]
        if std and op == "QLinearMatMul":
            return [R.matmul_row(name, self.shape(ins[0]), self.shape(ins[3]), self.is_const(ins[0]),
                                 self.is_const(ins[3]))]
        if ms and op == "FusedMatMul":
            a, b = list(self.shape(ins[0])), list(self.shape(ins[1]))
            if _attr(node, "transA", 0) and len(a) >= 2:
                a[-2:] = a[-1], a[-2]
            if _attr(node, "transB", 0) and len(b) >= 2:
                b[-2:] = b[-1], b[-2]
            return [R.matmul_row(name, a, b, self.is_const(ins[0]), self.is_const(ins[1]))]
        if ms and op == "MatMulNBits":
            a = self.shape(ins[0])
            k_, n_ = int(_attr(node, "K")), int(_attr(node, "N"))
            return [R.matmul_row(name, a, (k_, n_), False, True)]
        if std and op == "Einsum":
            real = [i for i in ins if i]
            return R.einsum_rows(name, str(_attr(node, "equation")), [self.shape(i) for i in real],
                                 [self.is_const(i) for i in real])
        if std and op in ("LSTM", "GRU", "RNN"):
            return self._rnn(node, name)
        if (std and op == "Attention") or (ms and op in ("Attention", "MultiHeadAttention")):
            return self._attention(node, name)
        key = op.lower()
        if std and op in ("MaxPool", "AveragePool", "LpPool"):
            window = math.prod(_attr(node, "kernel_shape", [1]))
            out = float(self.numel(node.output[0]))
            return [R.digital_row(name, OpKind.POOL, R.pool_ops(out, window) * (3 if op == "LpPool" else 1),
                                  self._in_elems(node, out), out)]
        if std and op in REDUCE_OPS:
            x = float(self.numel(ins[0]))
            out = self._out_elems(node)
            return [R.digital_row(name, OpKind.POOL, REDUCE_OPS[op] * x, x, out)]
        if std and op in ("Resize", "Upsample"):
            x, y = self.shape(ins[0]), self.shape(node.output[0])
            resized = sum(1 for a, b in zip(x, y, strict=False) if a != b)
            mode = str(_attr(node, "mode", "nearest"))
            return [self._digital(node, name, OpKind.ELEMENTWISE, R.resize_ops(mode, resized))]
        if (std or ms) and key in R.NORM_OPS:
            x = float(self.numel(ins[0]))
            out = self._out_elems(node)
            return [R.digital_row(name, OpKind.NORM, R.NORM_OPS[key] * x, self._in_elems(node, out), out)]
        if std and key in R.SOFTMAX_OPS:
            return [self._digital(node, name, OpKind.SOFTMAX, R.SOFTMAX_OPS[key])]
        if std and key in R.MOVE_OPS:
            return [self._digital(node, name, OpKind.ELEMENTWISE, 0.0)]
        if std and op == "ConstantOfShape":
            return [self._digital(node, name, OpKind.ELEMENTWISE, 0.0)]
        if (std or ms) and key in R.OPS_PER_ELEMENT:
            return [self._digital(node, name, OpKind.ELEMENTWISE, R.OPS_PER_ELEMENT[key])]
        if ms and op in ("BiasAdd", "BiasSoftmax", "BiasDropout"):
            kind = OpKind.SOFTMAX if op == "BiasSoftmax" else OpKind.ELEMENTWISE
            return [self._digital(node, name, kind, 6.0 if op == "BiasSoftmax" else 1.0)]
        if std and op in RANDOM_OPS:
            return [self._digital(node, name, OpKind.ELEMENTWISE, 4.0)]
        if std and op in CONTROL_OPS:
            self.warnings.append(f"{op} {name!r}: ops inside its subgraph(s) are not costed")
            return [R.digital_row(name, OpKind.OTHER, 0.0, 0.0, 0.0)]
        self.unknown[op if std else f"{domain}.{op}"] += 1
        try:
            return [self._digital(node, name, OpKind.OTHER, 1.0)]
        except _Unknown:
            return [R.digital_row(name, OpKind.OTHER, 0.0, 0.0, 0.0)]

    def _conv(self, node: Any, name: str, xi: int, wi: int, *, transposed: bool = False, nhwc: bool = False
              ) -> dict[str, Any]:
        x, w = list(self.shape(node.input[xi])), self.shape(node.input[wi])
        if nhwc:
            x = [x[0], x[-1], *x[1:-1]]
        groups = int(_attr(node, "group", 1))
        y_name = node.output[0]
        if self.shapes.get(y_name) is not None and not nhwc:
            y = self.shape(y_name)
        else:
            y = conv_output_shape(x, w, groups, transposed=transposed, **_conv_attrs(node))
        return R.conv_row(name, x, w, y, groups, transposed=transposed, w_static=self.is_const(node.input[wi]))

    def _gemm(self, node: Any, name: str, ai: int, bi: int) -> dict[str, Any]:
        a, b = self.shape(node.input[ai]), self.shape(node.input[bi])
        if _attr(node, "transA", 0):
            a = a[::-1]
        if _attr(node, "transB", 0):
            b = b[::-1]
        return R.matmul_row(name, a, b, self.is_const(node.input[ai]), self.is_const(node.input[bi]))

    def _rnn(self, node: Any, name: str) -> list[dict[str, Any]]:
        """Input and recurrent projections as two static layers, the gate arithmetic as one digital row."""
        x, w, r = self.shape(node.input[0]), self.shape(node.input[1]), self.shape(node.input[2])
        layout = int(_attr(node, "layout", 0))
        seq, batch = (x[0], x[1]) if layout == 0 else (x[1], x[0])
        dirs, gates_h, hidden = w[0], w[1], r[2]
        vec = seq * batch
        static_w, static_r = self.is_const(node.input[1]), self.is_const(node.input[2])
        proj = R.matmul_row(f"{name}.input", (vec, x[2]), (x[2], dirs * gates_h), False, static_w)
        if static_w:
            proj["params"] = float(R.numel(w))
        rec = R.matmul_row(f"{name}.recurrent", (dirs, vec, hidden), (dirs, hidden, gates_h), False, static_r)
        gate_ops = {"LSTM": 35.0, "GRU": 30.0, "RNN": 6.0}[node.op_type]
        h_elems = float(vec * dirs * hidden)
        gates = R.digital_row(f"{name}.gates", OpKind.ELEMENTWISE, gate_ops * h_elems, vec * dirs * gates_h,
                              h_elems)
        return [proj, rec, gates]

    def _attention(self, node: Any, name: str) -> list[dict[str, Any]]:
        """Fused attention: (ORT's Attention: the QKV projection, then) QK^T, softmax and A V per head."""
        ins = list(node.input)
        heads = int(_attr(node, "num_heads", 0) or _attr(node, "q_num_heads", 0) or 1)
        rows: list[dict[str, Any]] = []
        if node.domain == _MS and node.op_type == "Attention":
            x, w = self.shape(ins[0]), self.shape(ins[1])  # x [B, S, D], w [D, 3D]
            rows.append(R.matmul_row(f"{name}.qkv", x, w, False, self.is_const(ins[1])))
            b, s, hid = x[0], x[1], w[1] // 3
            q_shape, kv_len, v_dim = (b, s, hid), s, hid
        else:
            q = self.shape(ins[0])
            k = self.shape(ins[1]) if len(ins) > 1 and ins[1] else q
            v = self.shape(ins[2]) if len(ins) > 2 and ins[2] else k
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


def _conv_attrs(node: Any) -> dict[str, Any]:
    return {"strides": _attr(node, "strides"), "pads": _attr(node, "pads"), "dilations": _attr(node, "dilations"),
            "auto_pad": str(_attr(node, "auto_pad", "NOTSET")), "output_padding": _attr(node, "output_padding"),
            "output_shape": _attr(node, "output_shape"), "kernel_shape": _attr(node, "kernel_shape")}


def conv_output_shape(x: Sequence[int], w: Sequence[int], groups: int = 1, *, transposed: bool = False,
                      strides: Sequence[int] | None = None, pads: Sequence[int] | None = None,
                      dilations: Sequence[int] | None = None, auto_pad: str = "NOTSET",
                      output_padding: Sequence[int] | None = None, output_shape: Sequence[int] | None = None,
                      kernel_shape: Sequence[int] | None = None) -> tuple[int, ...]:
    """Output shape of ONNX ``Conv`` / ``ConvTranspose`` from the input and weight shapes and attributes."""
    nd = len(x) - 2
    ks = list(kernel_shape or w[2:])
    s = list(strides or [1] * nd)
    d = list(dilations or [1] * nd)
    p = list(pads or [0] * (2 * nd))
    op = list(output_padding or [0] * nd)
    cout = w[1] * groups if transposed else w[0]
    spatial = []
    for i in range(nd):
        eff = (ks[i] - 1) * d[i] + 1
        if transposed:
            if output_shape:
                spatial.append(int(output_shape[-nd + i]))
            elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
                spatial.append(x[2 + i] * s[i])
            else:
                spatial.append(s[i] * (x[2 + i] - 1) + op[i] + eff - p[i] - p[i + nd])
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            spatial.append(-(-x[2 + i] // s[i]))
        elif auto_pad == "VALID":
            spatial.append((x[2 + i] - eff) // s[i] + 1)
        else:
            spatial.append((x[2 + i] + p[i] + p[i + nd] - eff) // s[i] + 1)
    if min(spatial, default=1) < 1:
        raise ValueError(f"convolution output would be empty ({spatial})")
    return (x[0], cout, *spatial)


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
        shapes, notes = _infer(proto, inputs, base_dir)
        walker = _Walker(proto, shapes)
        walker.run()
    except OnnxError:
        raise
    except Exception as exc:  # a hostile file must give one line, never a traceback
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise OnnxError(f"{label}: cannot read this model ({type(exc).__name__}: {reason}); the file may be "
                        "corrupted") from exc
    opset = next((o.version for o in proto.opset_import if o.domain in _STD_DOMAINS), 0)
    meta = {
        "source": label,
        "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
        "opset": int(opset),
        "ir_version": int(proto.ir_version),
        "inputs": {k: list(v) for k, v in inputs.items()},
        "batch_symbolic": batch_symbolic,
        "op_types": tuple(r.pop("op") for r in walker.rows),
        "warnings": [*notes, *walker.warnings],
        "initializer_params": float(sum(math.prod(t.dims) for t in proto.graph.initializer)),
    }
    return Workload.from_rows(walker.rows, meta=meta).batched(int(batch))


__all__ = ["OnnxError", "OnnxShapeError", "conv_output_shape", "from_onnx", "load_model", "parse_shape"]

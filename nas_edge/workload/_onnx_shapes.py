"""Shape inference for the ONNX adapter: ONNX's own inference on a weight-free copy, and the fallbacks that
size what it leaves unknown.

:func:`infer_shapes` runs, in order, until every tensor is sized or nothing more can be learned:

1. ONNX shape inference with data propagation (large initializers passed as typed inputs, so that weights
   are never copied; small integer tensors kept, for shape computations);
2. folding of small constant subgraphs with ONNX's reference ops (the legacy exporter's
   ``Where``/``Equal``/``ConstantOfShape`` chains that data propagation does not evaluate), then again 1;
3. a copy where ONNX Runtime's ``com.microsoft`` fused ops are replaced by standard ops of the same output
   shapes, then again 1;
4. the fused ops sized by their own rules, handed to 1 as value infos (repeated while it helps);
5. ONNX Runtime's symbolic shape inference (``onnxruntime/tools/symbolic_shape_infer.py``), last.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_edge.errors import first_line
from nas_edge.workload import _rows as R
from nas_edge.workload._onnx_common import (
    CONTROL_OPS,
    KEEP_VALUE_ELEMS,
    MS,
    RANDOM_OPS,
    SHAPE_OPS,
    STD_DOMAINS,
    attr,
    conv_attrs,
    conv_output_shape,
    value_dims,
)

if TYPE_CHECKING:
    import onnx

Shapes = dict[str, tuple[int, ...] | None]


def infer_shapes(model: onnx.ModelProto, inputs: Mapping[str, tuple[int, ...]], base_dir: Path | None
                 ) -> tuple[Shapes, list[str]]:
    """Shapes of every tensor (``None`` where still unknown) and notes on what could not be read."""
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
        if (t.data_type in int_types and n <= KEEP_VALUE_ELEMS) or n <= 16:
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
        folded = _fold_small_constants(m, shapes, notes)
        if folded is not None:
            m = folded
            again = _run_inference(m, notes)
            shapes.update({k: v for k, v in again.items() if v is not None or k not in shapes})
    if unsized() and any(node.domain == MS or node.op_type == "LayerNormalization" for node in g.node):
        # ONNX Runtime's fused ops (FusedConv, SkipLayerNormalization, Gelu, ...) are unknown to ONNX's
        # inference: infer on a copy where each is replaced by its standard equivalent
        standard = _standardize_contrib(m, shapes)
        again = _run_inference(standard, notes)
        shapes.update({k: v for k, v in again.items() if v is not None and shapes.get(k) is None})
    for _ in range(8):
        # what is left: size the fused ops with their own rules, hand that to ONNX's inference, repeat
        if not unsized() or not any(node.domain not in STD_DOMAINS for node in g.node):
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
    if unsized() and any(node.domain not in STD_DOMAINS for node in g.node):
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
        if node.domain != MS and op != "LayerNormalization":  # ORT also writes it below opset 17
            nodes.append(node)
            continue
        def keep(names: tuple[str, ...], nd: Any = node) -> list[Any]:
            return [a for a in nd.attribute if a.name in names]

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
                if attr(node, flag, 0) and rank < 2:
                    break  # rank unknown: leave this one to the fallbacks
                if attr(node, flag, 0):
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

    def known(name: str) -> tuple[int, ...] | None:
        return found.get(name) or shapes.get(name)

    for node in g.node:
        if node.domain != MS or not node.output or known(node.output[0]) is not None:
            continue
        ins = [known(i) if i else None for i in node.input]
        op = node.op_type
        try:
            if op in ("FusedConv", "NhwcConv") and ins[0] and ins[1] and op == "FusedConv":
                out = conv_output_shape(ins[0], ins[1], int(attr(node, "group", 1)), **conv_attrs(node))
            elif op == "FusedGemm" and ins[0] and ins[1]:
                ga = ins[0][::-1] if attr(node, "transA", 0) else ins[0]
                gb = ins[1][::-1] if attr(node, "transB", 0) else ins[1]
                out = (ga[0], gb[1])
            elif op == "FusedMatMul" and ins[0] and ins[1]:
                a, b = list(ins[0]), list(ins[1])
                if attr(node, "transA", 0):
                    a[-2:] = a[-1], a[-2]
                if attr(node, "transB", 0):
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
        d = value_dims(vi)
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
            notes.append(f"ONNX shape inference failed ({first_line(exc, 200)})")
    shapes: dict[str, tuple[int, ...] | None] = {}
    graph = inferred.graph if inferred is not None else m.graph
    for vi in (*graph.input, *graph.value_info, *graph.output):
        d = value_dims(vi)
        shapes[vi.name] = tuple(d) if d is not None and all(isinstance(x, int) for x in d) else None  # type: ignore[arg-type]
    return shapes


def _fold_small_constants(m: onnx.ModelProto, shapes: Mapping[str, tuple[int, ...] | None],
                          notes: list[str] | None = None) -> onnx.ModelProto | None:
    """A copy of ``m`` whose small constant subgraphs (<= KEEP_VALUE_ELEMS elements) are initializers.

    A node is evaluated only when its result is known to be small: from inferred shapes, or else from a bound
    computed from its inputs' shapes (a broadcasting ``Sum`` of three small constants can have 10⁹ elements:
    a 17 KB file once made ``profile`` allocate 4.3 GB). What is skipped for its size is named in ``notes``."""
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
        if node.op_type in RANDOM_OPS or node.op_type in CONTROL_OPS or node.domain not in STD_DOMAINS:
            continue
        if not _small_result(node, shapes, values):
            bound = _result_bound(node, values) if all(i in values for i in ins) else None
            if bound is not None and bound > KEEP_VALUE_ELEMS and notes is not None and len(notes) < 20:
                notes.append(f"constant folding skipped at {node.op_type} {node.name or node.output[0]!r}: its "
                             f"result would have {bound:.3g} elements (limit {KEEP_VALUE_ELEMS})")
            continue  # never materialise a large tensor just to learn a shape
        try:
            if node.op_type in SHAPE_OPS:
                x = shapes.get(ins[0])
                if x is None:
                    continue
                start, end = attr(node, "start", 0), attr(node, "end", None)
                outs = [np.array(x[start:end] if node.op_type == "Shape" else math.prod(x), dtype=np.int64)]
            elif all(i in values for i in ins):
                op = load_op(node.domain, node.op_type, opsets.get(node.domain or "", 1))
                outs = list(op(node, params).run(*(values[i] for i in ins)))
            else:
                continue
        except Exception:  # an op the reference runtime cannot evaluate: leave it to inference
            continue
        if len(outs) != len([o for o in node.output]) or any(
                not isinstance(v, np.ndarray) or v.size > KEEP_VALUE_ELEMS for v in outs):
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


# ops whose result has at most as many elements as their inputs together (what a bound needs to know)
_NOT_LARGER_OPS = frozenset((
    "Identity", "Cast", "CastLike", "Neg", "Abs", "Not", "Sqrt", "Exp", "Log", "Floor", "Ceil", "Round", "Sign",
    "Reciprocal", "Relu", "Sigmoid", "Tanh", "IsNaN", "IsInf", "Clip", "BitwiseNot", "Reshape", "Flatten",
    "Squeeze", "Unsqueeze", "Transpose", "Slice", "Concat", "Split", "ReduceSum", "ReduceProd", "ReduceMax",
    "ReduceMin", "ReduceMean", "ArgMax", "ArgMin", "CumSum", "GatherElements", "ScatterND", "ScatterElements",
    "TopK", "Trilu", "Softmax"))
_BROADCAST_OPS = frozenset((
    "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Sum", "Max", "Min", "Mean", "And", "Or", "Xor", "Equal", "Less",
    "Greater", "LessOrEqual", "GreaterOrEqual", "Where", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
    "PRelu"))


def _small_result(node: Any, shapes: Mapping[str, tuple[int, ...] | None], values: Mapping[str, Any]) -> bool:
    """Whether evaluating ``node`` on small constants is known to give small outputs."""
    known = [shapes.get(o) for o in node.output if o]
    if known and all(s is not None for s in known):
        return all(math.prod(s) <= KEEP_VALUE_ELEMS for s in known)  # type: ignore[arg-type]
    if node.op_type in SHAPE_OPS:
        return True
    ins = [i for i in node.input if i]
    bound = _result_bound(node, values) if all(i in values for i in ins) else None
    return bound is not None and bound <= KEEP_VALUE_ELEMS


def _result_bound(node: Any, values: Mapping[str, Any]) -> int | None:
    """An upper bound on the elements of ``node``'s outputs from its constant inputs; ``None``: unknown."""
    import numpy as np

    arrays = [np.asarray(values[i]) for i in node.input if i]
    shapes = [a.shape for a in arrays]
    op = node.op_type
    try:
        if op in _BROADCAST_OPS:
            return math.prod(np.broadcast_shapes(*shapes)) if shapes else None
        if op in _NOT_LARGER_OPS:
            return sum(math.prod(s) for s in shapes)
        if op == "NonZero":
            return math.prod(shapes[0]) * max(1, len(shapes[0]))
        if op == "Gather":
            data, idx = shapes[0], shapes[1]
            axis = attr(node, "axis", 0) % max(1, len(data))
            return math.prod(data[:axis]) * math.prod(idx) * math.prod(data[axis + 1:])
        if op == "MatMul":
            a = shapes[0] if len(shapes[0]) > 1 else (1, *shapes[0])
            b = shapes[1] if len(shapes[1]) > 1 else (*shapes[1], 1)
            return int(math.prod(np.broadcast_shapes(a[:-2], b[:-2]))) * int(a[-2]) * int(b[-1])
        if op == "ConstantOfShape":
            dims = [int(d) for d in arrays[0].reshape(-1)]
            return math.prod(dims) if all(d >= 0 for d in dims) else None
        if op == "Expand":
            return math.prod(np.broadcast_shapes(shapes[0], tuple(int(d) for d in arrays[1].reshape(-1))))
        if op == "Tile":
            return math.prod(shapes[0]) * math.prod(max(0, int(r)) for r in arrays[1].reshape(-1))
        if op == "Range":
            start, limit, delta = (float(a.reshape(-1)[0]) for a in arrays[:3])
            return max(0, math.ceil((limit - start) / delta)) if delta else None
    except (ValueError, IndexError, TypeError, OverflowError, ZeroDivisionError):
        return None
    return None  # an op whose result size is not bounded here: not evaluated without its inferred shape


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


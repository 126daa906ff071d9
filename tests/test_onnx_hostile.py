"""ONNX files built to hurt (issue 12): constant folding that would materialise gigabytes, and dimensions
beyond int64. Each is refused in one line, or read within bounded memory, never 0 MACs with exit 0."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from test_onnx_adapter_helpers import conv_model, make, vi
from typer.testing import CliRunner

from nas_edge.cli import app
from nas_edge.workload import DimensionError, Workload
from nas_edge.workload._onnx_shapes import _result_bound, infer_shapes
from nas_edge.workload.onnx_adapter import OnnxError, from_onnx


def folding_bomb(n: int, last: int) -> onnx.ModelProto:
    """Three small int32 constants, reshaped through a ``Where`` chain that shape inference cannot evaluate
    (so their shapes are unknown until folding) and summed with broadcasting: ``n x n x last`` elements."""
    inits = [numpy_helper.from_array(np.array([True]), "cond")]
    nodes = []
    for name, size, shape in (("a", n, (n, 1, 1)), ("b", n, (1, n, 1)), ("c", last, (1, 1, last))):
        inits += [numpy_helper.from_array(np.ones(size, "int32"), f"{name}0"),
                  numpy_helper.from_array(np.array(shape, "int64"), f"{name}_shape")]
        nodes += [helper.make_node("Where", ["cond", f"{name}_shape", f"{name}_shape"], [f"{name}_s"]),
                  helper.make_node("Reshape", [f"{name}0", f"{name}_s"], [name])]
    nodes += [helper.make_node("Sum", ["a", "b", "c"], ["s"]),
              helper.make_node("Cast", ["s"], ["sf"], to=TensorProto.FLOAT),
              helper.make_node("Add", ["x", "sf"], ["y"])]
    return make(nodes, [vi("x", [1, n, n, last])], [vi("y", None)], inits)


def test_constant_folding_never_materialises_a_huge_broadcast() -> None:
    """Issue 12.8: a 16.8 KB file took ``profile`` to 4.27 GB (folding a broadcasting Sum of small constants).
    Here 512 x 512 x 256 int32 = 268 MB would be allocated; the fold is skipped and said, the shape still known."""
    model = folding_bomb(512, 256)
    assert model.ByteSize() < 16 * 1024
    tracemalloc.start()
    try:
        shapes, notes = infer_shapes(model, {"x": (1, 512, 512, 256)}, None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MB"
    assert any("constant folding skipped at Sum 's'" in n and "6.71e+07 elements" in n for n in notes), notes
    assert shapes["s"] == (512, 512, 256) and shapes["y"] == (1, 512, 512, 256)  # inference sized it anyway
    w = from_onnx(model)
    assert any("constant folding skipped" in m for m in w.warnings)


def test_small_constant_chains_are_still_folded() -> None:
    from nas_edge.workload._onnx_shapes import _fold_small_constants

    for n, folds in ((4, True), (512, False)):
        model, notes = folding_bomb(n, 2), []
        folded = _fold_small_constants(model, {}, notes)  # nothing inferred: every bound from the inputs
        assert folded is not None  # the Where / Reshape chain is small either way
        names = {t.name for t in folded.graph.initializer}
        assert {"a", "b", "c"} <= names and ("s" in names) == folds and bool(notes) != folds, (n, notes)


_REF_OPS = ["Add", "Mul", "Sum", "Where", "Gather", "MatMul", "Concat", "Expand", "Tile", "Range",
            "ConstantOfShape"]
dims = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)


@st.composite
def small_node(draw: st.DrawFn) -> tuple[onnx.NodeProto, dict[str, np.ndarray]]:
    op = draw(st.sampled_from(_REF_OPS))
    a = np.ones(draw(dims), "int64")
    if op in ("Add", "Mul", "Sum", "Where"):
        shape = draw(st.sampled_from([a.shape, (1,) * len(a.shape), tuple(reversed(a.shape))]))
        ins = {"a": (a > 0) if op == "Where" else a, "b": np.ones(shape, "int64")}
        if op == "Where":
            ins["c"] = np.ones(a.shape[-1:], "int64")
    elif op == "Gather":
        ins = {"a": a, "b": np.zeros(draw(dims), "int64")}
    elif op == "MatMul":
        k = a.shape[-1]
        ins = {"a": a, "b": np.ones((k, draw(st.integers(1, 5))), "int64")}
    elif op == "Concat":
        ins = {"a": a, "b": a}
    elif op == "Expand":
        ins = {"a": a, "b": np.array([draw(st.integers(1, 4)), *a.shape], "int64")}
    elif op == "Tile":
        ins = {"a": a, "b": np.array([draw(st.integers(0, 3)) for _ in a.shape], "int64")}
    elif op == "Range":
        ins = {"a": np.array(draw(st.integers(-5, 5))), "b": np.array(draw(st.integers(-5, 20))),
               "c": np.array(draw(st.sampled_from([1, 2, 3, -1])))}
    else:
        ins = {"a": np.array(a.shape, "int64")}
    attrs = {"axis": 0} if op in ("Gather", "Concat") else {}
    node = helper.make_node(op, list(ins), ["out"], **attrs)
    if op == "Sum" and draw(st.booleans()):
        node.input.append("a")
    return node, ins


@settings(max_examples=60)
@given(small_node())
def test_the_fold_bound_is_never_below_the_result(case: tuple[onnx.NodeProto, dict[str, np.ndarray]]) -> None:
    """The bound a fold is refused by must hold for every op it bounds: computed by ONNX's reference ops."""
    from onnx.reference.ops import load_op

    node, ins = case
    bound = _result_bound(node, ins)
    params = {"log": lambda *a: None, "opsets": {"": 18}, "verbose": 0, "new_ops": None,
              "existing_functions": {}, "evaluator_cls": None}
    try:
        out = load_op("", node.op_type, 18)(node, params).run(*(ins[i] for i in node.input))
    except Exception:  # inputs the op itself refuses (shapes that do not broadcast): nothing to bound
        return
    assert bound is not None and bound >= np.asarray(out[0]).size, (node.op_type, bound)


def test_a_weight_of_2_to_the_63_is_refused() -> None:
    """Issue 12.10: int64 overflow in a (2^63-1) x 1 weight was counted as an empty op: 0 MACs with exit 0."""
    w = helper.make_tensor_value_info("w", TensorProto.FLOAT, [2**63 - 1, 1])
    model = make([helper.make_node("MatMul", ["x", "w"], ["y"])], [vi("x", [1, 2**63 - 1]), w], [vi("y", None)])
    with pytest.raises(OnnxError, match=r"tensor dimensions too large \(9\.22e\+18 elements; at most 4\.61e\+18\)"):
        from_onnx(model)


def test_a_batch_beyond_int64_is_refused() -> None:
    """Issue 12.10: ``--batch 2^63-1`` gave the error ``m=-64`` (the vector count overflowed)."""
    base = Workload.from_layers([{"type": "linear", "in_features": 64, "out_features": 10, "tokens": 64}])
    with pytest.raises(DimensionError, match="batch 9223372036854775807 is too large"):
        base.batched(2**63 - 1)
    assert base.batched(1000).m[0] == 64_000


@pytest.mark.parametrize("args", [["--batch", str(2**63 - 1)], ["--input-shape", f"x={2**62}x4x8x8"]])
def test_profile_refuses_huge_batches_and_input_shapes_in_one_line(tmp_path: Path, args: list[str]) -> None:
    model = tmp_path / "m.onnx"
    onnx.save(conv_model(4, 8, 8, batch="N"), model)
    r = CliRunner().invoke(app, ["profile", str(model), "-H", "neurosim-rram-22nm", *args])
    assert r.exit_code == 1 and r.stderr.startswith("error: ") and "too large" in r.stderr, r.output
    assert len(r.stderr.strip().splitlines()) == 1


"""Workload.from_onnx on hand-built graphs: every op family, opsets 13-21, external data, bad input."""

from __future__ import annotations

import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from test_onnx_adapter_helpers import (
    conv_model,
    init,
    ints,
    make,
    mlp_attention_macs,
    mlp_attention_model,
    vi,
)

from nas_edge.workload import OpKind, Workload
from nas_edge.workload._rows import einsum_rows, matmul_row
from nas_edge.workload.onnx_adapter import OnnxError, OnnxShapeError, conv_output_shape, from_onnx, parse_shape

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ort_outputs(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def static_rows(w: Workload) -> list[tuple[int, int, int, int, int]]:
    return [(int(w.kind[i]), int(w.k[i]), int(w.n[i]), int(w.groups[i]), int(w.m[i]))
            for i in range(len(w)) if w.kind[i] <= int(OpKind.DYNAMIC_MATMUL)]


# ---- convolutions -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("groups, cout", [(1, 16), (2, 16), (8, 8), (8, 16)])
def test_conv_groups_and_depthwise(groups: int, cout: int) -> None:
    w = from_onnx(conv_model(8, cout, 16, 3, groups=groups))
    (row,) = w.rows()
    assert row["kind"] == "conv" and row["groups"] == groups
    assert row["k"] == 8 // groups * 9 and row["n"] == cout and row["m"] == 16 * 16 and row["kernel"] == 9
    assert row["macs"] == 16 * 16 * (8 // groups) * 9 * cout
    assert row["params"] == cout * (8 // groups) * 9


@FAST
@given(cin_g=st.integers(1, 4), groups=st.sampled_from([1, 2, 4]), mult=st.integers(1, 3),
       size=st.integers(3, 20), kernel=st.integers(1, 5), stride=st.integers(1, 3), dilation=st.integers(1, 2),
       pad=st.integers(0, 2), auto=st.sampled_from([None, "SAME_UPPER", "SAME_LOWER", "VALID"]))
def test_conv_vectors_match_onnxruntime(cin_g: int, groups: int, mult: int, size: int, kernel: int, stride: int,
                                        dilation: int, pad: int, auto: str | None) -> None:
    """For any conv, the adapter's vectors (output pixels) and MACs match the output ORT computes."""
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        dilation = 1  # onnxruntime does not run dilated SAME convolutions
    room = size + (2 * pad if auto is None else 0 if auto == "VALID" else kernel)
    if (kernel - 1) * dilation + 1 > room:
        return
    cin, cout = cin_g * groups, mult * groups
    model = conv_model(cin, cout, size, kernel, groups=groups, strides=stride, pads=pad, dilation=dilation,
                       auto_pad=auto)
    (y,) = ort_outputs(model, {"x": np.zeros((1, cin, size, size), np.float32)})
    w = from_onnx(model)
    assert int(w.m[0]) == y.shape[2] * y.shape[3]
    assert w.macs[0] == y.shape[2] * y.shape[3] * cin_g * kernel * kernel * cout
    # the attribute-only formula (used when inference leaves the output unsized) agrees too
    attrs = {"strides": [stride] * 2, "dilations": [dilation] * 2,
             "pads": None if auto else [pad] * 4, "auto_pad": auto or "NOTSET"}
    assert conv_output_shape((1, cin, size, size), (cout, cin_g, kernel, kernel), groups, **attrs) == y.shape


def test_conv_transpose_counts_true_macs() -> None:
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[4, 4], strides=[2, 2],
                            pads=[1, 1, 1, 1], group=2)
    model = make([node], [vi("x", [1, 8, 10, 10])], [vi("y", None)], [init("w", [8, 6, 4, 4])])
    (y,) = ort_outputs(model, {"x": np.zeros((1, 8, 10, 10), np.float32)})
    (row,) = from_onnx(model).rows()
    assert y.shape == (1, 12, 20, 20)
    assert row["kind"] == "conv" and row["groups"] == 2 and row["kernel"] == 1
    assert row["k"] == 4 and row["n"] == 12 * 16 and row["m"] == 100
    assert row["macs"] == 10 * 10 * 8 * 6 * 16  # every input pixel meets Cout/g x kh x kw weights
    assert row["params"] == 8 * 6 * 16
    assert conv_output_shape((1, 8, 10, 10), (8, 6, 4, 4), 2, transposed=True, strides=[2, 2],
                             pads=[1, 1, 1, 1]) == y.shape


def test_conv1d_and_bias_batchnorm_relu_fold() -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3], pads=[1, 1]),
             helper.make_node("Add", ["c", "b"], ["cb"]),
             helper.make_node("BatchNormalization", ["cb", "g", "beta", "mu", "var"], ["bn"]),
             helper.make_node("Relu", ["bn"], ["y"])]
    model = make(nodes, [vi("x", [1, 4, 32])], [vi("y", None)],
                 [init("w", [8, 4, 3]), init("b", [1, 8, 1]), init("g", [8]), init("beta", [8]), init("mu", [8]),
                  init("var", [8])])
    w = from_onnx(model)
    assert w.op_types == ("Conv",)  # bias, batch norm and ReLU are applied as the conv writes
    assert w.rows()[0]["macs"] == 32 * 4 * 3 * 8


def test_no_fold_when_the_conv_output_is_used_twice() -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Add", ["c", "r"], ["y"])]
    model = make(nodes, [vi("x", [1, 4, 8, 8])], [vi("y", None)], [init("w", [4, 4, 1, 1])])
    assert from_onnx(model).op_types == ("Conv", "Relu", "Add")


# ---- matmuls ----------------------------------------------------------------------------------------------

def test_gemm_trans_b_static_and_trans_a() -> None:
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1),
             helper.make_node("Gemm", ["wt", "h"], ["y"], transA=1)]  # static on the left: Y = W^T H
    model = make(nodes, [vi("x", [5, 64])], [vi("y", None)], [init("w", [32, 64]), init("b", [32]),
                                                                  init("wt", [5, 7])])
    a, b = from_onnx(model).rows()
    assert (a["kind"], a["k"], a["n"], a["m"], a["params"]) == ("linear", 64, 32, 5, 64 * 32)
    # wt^T is 7x5, times h (5x32): a 5 -> 7 layer applied to 32 column vectors
    assert (b["kind"], b["k"], b["n"], b["m"], b["macs"]) == ("linear", 5, 7, 32, 7 * 5 * 32)


def test_static_weights_through_constant_transpose_reshape_cast_dequantize() -> None:
    wq = numpy_helper.from_array(np.ones((16, 8), np.int8), "wq")
    nodes = [
        helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.ones(8 * 16, np.float32), "c")),
        helper.make_node("Reshape", ["c", "shape"], ["c2"]),
        helper.make_node("Transpose", ["c2"], ["w1"], perm=[1, 0]),  # 8x16 from 16x8
        helper.make_node("MatMul", ["x", "w1"], ["h1"]),
        helper.make_node("DequantizeLinear", ["wq", "scale"], ["w2f"]),
        helper.make_node("Cast", ["w2f"], ["w2"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["h1", "w2"], ["y"]),
    ]
    model = make(nodes, [vi("x", [1, 3, 8])], [vi("y", None)],
                 [ints("shape", [16, 8]), wq, numpy_helper.from_array(np.array(0.1, np.float32), "scale")])
    w = from_onnx(model)
    assert [r["kind"] for r in w.rows()] == ["linear", "linear"]
    assert static_rows(w) == [(1, 8, 16, 1, 3), (1, 16, 8, 1, 3)]
    assert w.op_types == ("MatMul", "MatMul")  # the weight computations are constant-folded


def test_attention_matmuls_are_dynamic_with_heads_as_groups() -> None:
    w = from_onnx(mlp_attention_model(18))
    dyn = [r for r in w.rows() if r["kind"] == "dynamic_matmul"]
    assert [(r["k"], r["n"], r["groups"], r["m"]) for r in dyn] == [(8, 16 * 4, 4, 16), (16, 8 * 4, 4, 16)]
    assert sum(r["params"] for r in dyn) == 0
    lin = [r for r in w.rows() if r["kind"] == "linear"]
    assert len(lin) == 6 and all(r["m"] == 16 for r in lin)
    assert w.total_macs == mlp_attention_macs()


@pytest.mark.parametrize("opset", range(13, 22))
def test_opsets_13_to_21(opset: int) -> None:
    model = mlp_attention_model(opset)
    (y,) = ort_outputs(model, {"x": np.zeros((1, 16, 32), np.float32)})  # a valid model at this opset
    assert y.shape == (1, 32)
    w = from_onnx(model)
    assert w.meta["opset"] == opset and w.warnings == ()
    assert w.total_macs == mlp_attention_macs()
    assert static_rows(w) == static_rows(from_onnx(mlp_attention_model(21)))


@FAST
@given(batch=st.lists(st.integers(1, 3), max_size=2), m=st.integers(1, 5), k=st.integers(1, 5),
       n=st.integers(1, 5), heads=st.integers(1, 3), mode=st.sampled_from(["static_b", "static_a", "dynamic"]))
def test_matmul_rule_holds_for_any_shapes(batch: list[int], m: int, k: int, n: int, heads: int, mode: str) -> None:
    """m * k * n == MACs == the product NumPy's matmul does, whichever operand is the weight."""
    a_shape, b_shape = (*batch, heads, m, k), (heads, k, n)
    row = matmul_row("x", a_shape, b_shape, mode == "static_a", mode == "static_b")
    out = np.matmul(np.zeros(a_shape), np.zeros(b_shape))
    assert row["macs"] == out.size * k == row["m"] * row["k"] * row["n"]
    assert row["out_elems"] == out.size and row["n"] % row["groups"] == 0


def test_einsum_static_dynamic_and_ellipsis() -> None:
    nodes = [helper.make_node("Einsum", ["x", "w"], ["h"], equation="bsd,df->bsf"),
             helper.make_node("Reshape", ["h", "split"], ["q"]),
             helper.make_node("Einsum", ["q", "q"], ["s"], equation="bqhd,bkhd->bhqk"),
             helper.make_node("Einsum", ["s"], ["y"], equation="...ij->...i")]
    model = make(nodes, [vi("x", [1, 10, 12])], [vi("y", None)], [init("w", [12, 24]), ints("split", [1, 10, 4, 6])])
    (y,) = ort_outputs(model, {"x": np.zeros((1, 10, 12), np.float32)})
    rows = from_onnx(model).rows()
    assert (rows[0]["kind"], rows[0]["k"], rows[0]["n"], rows[0]["m"]) == ("linear", 12, 24, 10)
    assert (rows[1]["kind"], rows[1]["k"], rows[1]["groups"]) == ("dynamic_matmul", 6, 4)
    assert rows[1]["macs"] == 10 * 10 * 4 * 6
    assert rows[2]["kind"] == "pool" and rows[2]["out_elems"] == y.size


@FAST
@given(sizes=st.lists(st.integers(1, 4), min_size=5, max_size=5), data=st.data())
def test_einsum_rule_matches_numpy(sizes: list[int], data: st.DataObject) -> None:
    letters = "abcde"
    a = "".join(data.draw(st.permutations(letters))[: data.draw(st.integers(1, 4))])
    b = "".join(data.draw(st.permutations(letters))[: data.draw(st.integers(1, 4))])
    out = "".join(c for c in letters if c in a + b and data.draw(st.booleans()))
    eq = f"{a},{b}->{out}"
    size = dict(zip(letters, sizes, strict=True))
    sa, sb = [size[c] for c in a], [size[c] for c in b]
    res = np.einsum(eq, np.zeros(sa), np.zeros(sb))
    (row,) = einsum_rows("e", eq, [sa, sb], [False, data.draw(st.booleans())])
    assert row["macs"] == math.prod(size[c] for c in set(a + b))
    assert row["out_elems"] == res.size
    assert row["macs"] == row["m"] * row["k"] * row["n"]


# ---- digital ops ------------------------------------------------------------------------------------------

def test_digital_ops_counts() -> None:
    nodes = [
        helper.make_node("Sigmoid", ["x"], ["a"]),
        helper.make_node("MaxPool", ["a"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g"]),
        helper.make_node("Resize", ["p", "", "scales"], ["r"], mode="linear"),
        helper.make_node("Softmax", ["r"], ["s"], axis=1),
        helper.make_node("Transpose", ["s"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("InstanceNormalization", ["x", "gamma", "beta"], ["n"]),
        helper.make_node("Concat", ["t", "n2"], ["y"], axis=3),
        helper.make_node("Transpose", ["n"], ["n2"], perm=[0, 2, 3, 1]),
    ]
    nodes = [*nodes[:7], nodes[8], nodes[7]]
    model = make(nodes, [vi("x", [1, 4, 8, 8])], [vi("y", None), vi("g", None)],
                 [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"), init("gamma", [4]),
                  init("beta", [4])])
    rows = {r["name"]: r for r in from_onnx(model).rows()}
    kinds = [r["kind"] for r in from_onnx(model).rows()]
    assert kinds == ["elementwise", "pool", "pool", "elementwise", "softmax", "elementwise", "norm", "elementwise",
                     "elementwise"]
    assert rows["Sigmoid_0"]["macs"] == 5 * 256
    assert rows["MaxPool_1"]["macs"] == 64 * 4 and rows["MaxPool_1"]["in_elems"] == 256
    assert rows["GlobalAveragePool_2"]["macs"] == 64
    assert rows["Resize_3"]["macs"] == 7 * 256  # bilinear over two axes: 4 multiplies and 3 adds
    assert rows["Softmax_4"]["macs"] == 5 * 256
    assert rows["Transpose_5"]["macs"] == 0 and rows["Transpose_5"]["out_elems"] == 256


def test_unknown_op_is_a_warning_not_a_crash() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("FancyOp", ["a"], ["b"], domain="com.example"),
             helper.make_node("Mul", ["b", "b"], ["y"])]
    model = make(nodes, [vi("x", [2, 8])], [vi("y", None)], extra_domains=[("com.example", 1)])
    w = from_onnx(model)
    assert [r["kind"] for r in w.rows()] == ["elementwise", "other", "other"]
    assert any("com.example.FancyOp (1)" in m for m in w.warnings)
    assert any("shapes unknown" in m for m in w.warnings)


def test_dead_nodes_and_shape_subgraphs_cost_nothing() -> None:
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["b"], axis=0),
             helper.make_node("Unsqueeze", ["b", "zero1"], ["b1"]),
             helper.make_node("Concat", ["b1", "rest"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("Exp", ["x"], ["dead"]),
             helper.make_node("Relu", ["r"], ["y"])]
    model = make(nodes, [vi("x", ["N", 4, 4])], [vi("y", None)],
                 [numpy_helper.from_array(np.array(0, np.int64), "zero"), ints("zero1", [0]), ints("rest", [16])])
    (y,) = ort_outputs(model, {"x": np.zeros((2, 4, 4), np.float32)})
    assert y.shape == (2, 16)
    w = from_onnx(model, batch=3)
    assert w.op_types == ("Relu",) and w.rows()[0]["macs"] == 3 * 16


# ---- shapes, batch --------------------------------------------------------------------------------------

def test_symbolic_batch_and_batch_option() -> None:
    one = from_onnx(conv_model(batch="N"))
    four = from_onnx(conv_model(batch="N"), batch=4)
    assert one.meta["inputs"] == {"x": [1, 8, 16, 16]} and one.meta["batch_symbolic"]
    assert four.total_macs == 4 * one.total_macs and four.batch == 4
    assert static_rows(four)[0][4] == 4 * static_rows(one)[0][4]


def test_unknown_non_batch_dim_needs_input_shapes() -> None:
    model = mlp_attention_model(18, batch="N")
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "seq"
    with pytest.raises(OnnxShapeError, match=r"input_shapes=\{'x': \(1, N, 32\)\}.*input_shapes=\{'seq': N\}") as info:
        from_onnx(model)
    assert "--input-shape" not in str(info.value)  # Python words in Python; the command line's in cli_message
    assert "--input-shape x=1xNx32 or the symbol with --input-shape seq=N" in info.value.cli_message
    by_input = from_onnx(model, input_shapes={"x": (1, 16, 32)})
    by_symbol = from_onnx(model, input_shapes={"seq": 16})
    assert by_input.total_macs == by_symbol.total_macs == mlp_attention_macs()
    with pytest.raises(OnnxError, match="input_shapes names 'nope', which is neither an input") as info:
        from_onnx(model, input_shapes={"nope": 3})
    assert info.value.cli_message.endswith(str(info.value).split("input_shapes names ")[1])
    with pytest.raises(OnnxError, match="rank"):
        from_onnx(model, input_shapes={"x": (16, 32)})


def test_input_without_shape() -> None:
    model = make([helper.make_node("Relu", ["x"], ["y"])], [vi("x", None)], [vi("y", None)])
    with pytest.raises(OnnxShapeError, match=r"no declared shape; give it with input_shapes=\{'x': \(...\)\}") as info:
        from_onnx(model)
    assert "--input-shape x=DIMS" in info.value.cli_message and "--" not in str(info.value)
    assert from_onnx(model, input_shapes={"x": (2, 3)}).rows()[0]["macs"] == 6


@pytest.mark.parametrize("text, expected", [("x=1x3x224x224", ("x", (1, 3, 224, 224))), ("seq=128", ("seq", (128,))),
                                            ("a.b=2,3", ("a.b", (2, 3)))])
def test_parse_shape(text: str, expected: tuple) -> None:
    assert parse_shape(text) == expected


@pytest.mark.parametrize("text", ["x", "x=", "=3", "x=ax3", "x=0x3", "x=-1"])
def test_parse_shape_rejects(text: str) -> None:
    with pytest.raises(OnnxError, match="NAME=DIMS"):
        parse_shape(text)


# ---- files ------------------------------------------------------------------------------------------------

def test_external_data_model(tmp_path) -> None:
    model = mlp_attention_model(18)
    onnx.save_model(model, tmp_path / "m.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                    location="m.data", size_threshold=0)
    assert (tmp_path / "m.data").stat().st_size > 25_000
    assert (tmp_path / "m.onnx").stat().st_size < 10_000
    w = from_onnx(tmp_path / "m.onnx")  # small int tensors (reshape targets) are read from m.data
    assert w.total_macs == mlp_attention_macs() and w.warnings == ()
    (tmp_path / "m.data").unlink()  # weight shapes are in the graph, but the reshape targets were in m.data
    lost = from_onnx(tmp_path / "m.onnx")
    assert any("external data 'm.data' not readable" in m for m in lost.warnings)
    assert any("shapes unknown" in m for m in lost.warnings)
    assert lost.total_macs < mlp_attention_macs()


def test_path_bytes_and_proto_agree(tmp_path) -> None:
    model = mlp_attention_model(17)
    onnx.save(model, tmp_path / "m.onnx")
    results = [from_onnx(src) for src in (model, model.SerializeToString(), tmp_path / "m.onnx",
                                          str(tmp_path / "m.onnx"))]
    assert len({(w.total_macs, len(w)) for w in results}) == 1


@pytest.mark.parametrize("content, message", [
    (None, "no such file"), (b"", "empty"), (b"hello, this is a text file\n", "not"),
    (bytes(range(256)) * 8, "not"), (b"\x08\x07\x12\x05torch", "no graph"),
])
def test_bad_files(tmp_path, content: bytes | None, message: str) -> None:
    path = tmp_path / "bad.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(OnnxError, match=message):
        from_onnx(path)


def test_directory_is_not_a_model(tmp_path) -> None:
    with pytest.raises(OnnxError, match="not a file"):
        from_onnx(tmp_path)


@settings(max_examples=40, deadline=None)
@given(cut=st.floats(0.0, 0.999))
def test_truncated_model_is_an_onnx_error(cut: float) -> None:
    data = mlp_attention_model(18).SerializeToString()
    with pytest.raises(OnnxError):
        from_onnx(data[: int(len(data) * cut)])


@settings(max_examples=40, deadline=None)
@given(pos=st.floats(0.0, 0.999), junk=st.binary(min_size=8, max_size=64))
def test_corrupted_model_never_crashes(pos: float, junk: bytes) -> None:
    """Overwritten bytes give a clear OnnxError or (if they only hit weight values) a workload."""
    data = bytearray(mlp_attention_model(18).SerializeToString())
    at = int(len(data) * pos)
    data[at:at + len(junk)] = junk
    try:
        w = from_onnx(bytes(data))
    except OnnxError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(w, Workload)


def test_unsorted_graph_is_sorted_and_a_cycle_refused() -> None:
    model = mlp_attention_model(18)
    nodes = list(model.graph.node)
    shuffled = make(list(reversed(nodes)), list(model.graph.input), list(model.graph.output),
                    list(model.graph.initializer))
    assert from_onnx(shuffled).total_macs == mlp_attention_macs()
    assert shuffled.graph.node[0].op_type == nodes[-1].op_type  # the caller's proto is left as it was
    cyclic = make([helper.make_node("Relu", ["y"], ["a"]), helper.make_node("Add", ["a", "x"], ["y"])],
                  [vi("x", [2])], [vi("y", None)])
    with pytest.raises(OnnxError, match="cycle"):
        from_onnx(cyclic)


def test_dimensions_beyond_int64_are_refused() -> None:
    """Issue 12.10: such a layer was counted as an empty op, and the model reported 0 MACs with exit 0."""
    with pytest.raises(OnnxError, match=r"'conv': tensor dimensions too large \(1\.84e\+19 elements"):
        from_onnx(conv_model(size=2**32))  # 2^64 output pixels


def _ort_optimized(model: onnx.ModelProto, path) -> onnx.ModelProto:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    opts.optimized_model_filepath = str(path)
    opts.log_severity_level = 3
    ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return onnx.load(str(path))


def test_onnxruntime_optimized_models_count_the_same(tmp_path) -> None:
    """Models saved by ONNX Runtime carry its fused com.microsoft ops (FusedConv, FusedMatMul, Gelu, ...)."""
    gelu = make([helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Add", ["h", "b1"], ["hb"]),
                 helper.make_node("Div", ["hb", "sqrt2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                 helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", ["hb", "e1"], ["g0"]),
                 helper.make_node("Mul", ["g0", "half"], ["g"]), helper.make_node("MatMul", ["g", "w2"], ["y"])],
                [vi("x", [1, 16, 32])], [vi("y", None)],
                [init("w1", [32, 64]), init("b1", [64]), init("w2", [64, 32]),
                 *(numpy_helper.from_array(np.array(v, np.float32), n)
                   for n, v in (("sqrt2", 2 ** 0.5), ("one", 1.0), ("half", 0.5)))], opset=14)
    conv = make([helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1] * 4),
                 helper.make_node("Relu", ["c"], ["r"]),
                 helper.make_node("Conv", ["r", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1] * 4, group=8),
                 helper.make_node("Sigmoid", ["c2"], ["y"])],
                [vi("x", [1, 8, 16, 16])], [vi("y", None)], [init("w", [8, 8, 3, 3]), init("w2", [8, 1, 3, 3])])
    for i, model in enumerate((mlp_attention_model(17), gelu, conv)):
        optimized = _ort_optimized(model, tmp_path / f"opt{i}.onnx")
        if i:
            assert any(n.domain == "com.microsoft" for n in optimized.graph.node)
        a, b = from_onnx(model), from_onnx(optimized)
        assert b.warnings == ()
        assert a.total_macs == b.total_macs and sorted(static_rows(a)) == sorted(static_rows(b))


def test_onnxruntime_symbolic_inference_is_the_last_resort() -> None:
    """EmbedLayerNormalization (ORT's fused BERT embeddings) has no rule here: ORT's own inference sizes it."""
    emb = helper.make_node("EmbedLayerNormalization", ["ids", "seg", "we", "pe", "se", "g", "b"], ["emb", "mask"],
                           domain="com.microsoft", epsilon=1e-12)
    model = make([emb, helper.make_node("MatMul", ["emb", "w"], ["y"])],
                 [vi("ids", [1, 16], TensorProto.INT32), vi("seg", [1, 16], TensorProto.INT32)], [vi("y", None)],
                 [init("we", [100, 32]), init("pe", [64, 32]), init("se", [2, 32]), init("g", [32]), init("b", [32]),
                  init("w", [32, 8])], extra_domains=[("com.microsoft", 1)])
    w = from_onnx(model)
    assert w.warnings == () and w.total_macs == 16 * 32 * 8
    assert [r["kind"] for r in w.rows()] == ["norm", "linear"]

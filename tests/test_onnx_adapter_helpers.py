"""Hand-built ONNX models for the adapter, profiling and CLI tests (no test functions here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 10  # onnxruntime 1.32 rejects onnx 1.23's default IR version 14


def vi(name: str, shape: Sequence[int | str | None] | None, elem: int = TensorProto.FLOAT) -> Any:
    return helper.make_tensor_value_info(name, elem, None if shape is None else list(shape))


def init(name: str, shape: Sequence[int], dtype: Any = np.float32, seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape).astype(dtype) if np.dtype(dtype).kind == "f" else \
        rng.integers(-8, 8, shape).astype(dtype)
    return numpy_helper.from_array(data, name)


def ints(name: str, values: Sequence[int]) -> Any:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def make(nodes: Sequence[Any], inputs: Sequence[Any], outputs: Sequence[Any], inits: Sequence[Any] = (),
         opset: int = 18, extra_domains: Sequence[tuple[str, int]] = ()) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "g", list(inputs), list(outputs), list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                    *(helper.make_opsetid(d, v) for d, v in extra_domains)])
    model.ir_version = IR_VERSION
    return model


def conv_model(cin: int = 8, cout: int = 16, size: int = 16, kernel: int = 3, *, groups: int = 1,
               strides: int = 1, pads: int | None = None, dilation: int = 1, auto_pad: str | None = None,
               batch: int | str = 1, opset: int = 18) -> onnx.ModelProto:
    attrs: dict[str, Any] = {"kernel_shape": [kernel, kernel], "strides": [strides, strides],
                             "dilations": [dilation, dilation], "group": groups}
    if auto_pad:
        attrs["auto_pad"] = auto_pad
    else:
        p = kernel // 2 if pads is None else pads
        attrs["pads"] = [p, p, p, p]
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", **attrs)
    return make([node], [vi("x", [batch, cin, size, size])], [vi("y", None)],
                [init("w", [cout, cin // groups, kernel, kernel]), init("b", [cout])], opset=opset)


def mlp_attention_model(opset: int = 18, *, tokens: int = 16, dim: int = 32, heads: int = 4,
                        batch: int | str = "N") -> onnx.ModelProto:
    """A small transformer block written the way exporters write it, valid at opsets 13..21.

    LayerNorm (decomposed below opset 17), Q/K/V MatMul with (transposed-initializer / Constant / Reshape'd)
    weights, bias Add, heads by Reshape + Transpose, QK^T MatMul, Softmax, AV MatMul, output Gemm-free
    projection, ReduceMean (axes attribute below 18, input from 18), residual Add, Relu MLP.
    """
    d = dim // heads
    nodes, inits = [], []
    if opset >= 17:
        nodes.append(helper.make_node("LayerNormalization", ["x", "ln_g", "ln_b"], ["h"], axis=-1))
        inits += [init("ln_g", [dim]), init("ln_b", [dim])]
    else:
        nodes += [helper.make_node("Mul", ["x", "ln_g"], ["h"])]
        inits += [init("ln_g", [dim])]
    # Q: MatMul with an initializer; K: MatMul with Transpose(initializer) (legacy exporter);
    # V: weight from a Constant node, reshaped (static through Reshape)
    nodes.append(helper.make_node("MatMul", ["h", "wq"], ["q0"]))
    nodes.append(helper.make_node("Add", ["q0", "bq"], ["q"]))
    nodes.append(helper.make_node("Transpose", ["wk_t"], ["wk"], perm=[1, 0]))
    nodes.append(helper.make_node("MatMul", ["h", "wk"], ["k"]))
    wv = np.random.default_rng(3).standard_normal(dim * dim).astype(np.float32)
    nodes.append(helper.make_node("Constant", [], ["wv_flat"], value=numpy_helper.from_array(wv, "wv_flat")))
    nodes.append(helper.make_node("Reshape", ["wv_flat", "wv_shape"], ["wv"]))
    nodes.append(helper.make_node("MatMul", ["h", "wv"], ["v"]))
    inits += [init("wq", [dim, dim], seed=1), init("bq", [dim]), init("wk_t", [dim, dim], seed=2),
              ints("wv_shape", [dim, dim]), ints("heads_shape", [0, tokens, heads, d])]
    for t in ("q", "k", "v"):
        nodes.append(helper.make_node("Reshape", [t, "heads_shape"], [f"{t}_r"]))
        perm = [0, 2, 3, 1] if t == "k" else [0, 2, 1, 3]
        nodes.append(helper.make_node("Transpose", [f"{t}_r"], [f"{t}_h"], perm=perm))
    nodes.append(helper.make_node("MatMul", ["q_h", "k_h"], ["scores"]))
    nodes.append(helper.make_node("Softmax", ["scores"], ["probs"], axis=-1))
    nodes.append(helper.make_node("MatMul", ["probs", "v_h"], ["ctx_h"]))
    nodes.append(helper.make_node("Transpose", ["ctx_h"], ["ctx_t"], perm=[0, 2, 1, 3]))
    nodes.append(helper.make_node("Reshape", ["ctx_t", "merge_shape"], ["ctx"]))
    nodes.append(helper.make_node("MatMul", ["ctx", "wo"], ["attn"]))
    nodes.append(helper.make_node("Add", ["x", "attn"], ["res"]))
    nodes.append(helper.make_node("MatMul", ["res", "w1"], ["f1"]))
    nodes.append(helper.make_node("Relu", ["f1"], ["f1r"]))
    nodes.append(helper.make_node("MatMul", ["f1r", "w2"], ["f2"]))
    nodes.append(helper.make_node("Add", ["res", "f2"], ["y"]))
    if opset >= 18:
        nodes.append(helper.make_node("ReduceMean", ["y", "axes"], ["pooled"], keepdims=0))
        inits.append(ints("axes", [1]))
    else:
        nodes.append(helper.make_node("ReduceMean", ["y"], ["pooled"], axes=[1], keepdims=0))
    inits += [ints("merge_shape", [0, tokens, dim]), init("wo", [dim, dim], seed=4), init("w1", [dim, 2 * dim], seed=5),
              init("w2", [2 * dim, dim], seed=6)]
    return make(nodes, [vi("x", [batch, tokens, dim])], [vi("pooled", None)], inits, opset=opset)


def mlp_attention_macs(tokens: int = 16, dim: int = 32, heads: int = 4) -> int:
    """MACs of :func:`mlp_attention_model` at batch 1."""
    return tokens * dim * dim * 4 + 2 * tokens * tokens * dim + 2 * tokens * dim * 2 * dim

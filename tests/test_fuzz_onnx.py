"""Hostile ONNX files: mutated and truncated valid models, random bytes, huge declared dimensions and cyclic
graphs give a Workload or one clear OnnxError/WorkloadError, within a time bound, never a traceback."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from nas_edge.workload import WorkloadError
from nas_edge.workload.onnx_adapter import OnnxError, from_onnx

TIME_BOUND_S = 5.0
_settings = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def small_model(batch: int | str = 1, size: int = 8) -> onnx.ModelProto:
    import numpy as np

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype("float32"), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype("float32"), "w2")
    fc = numpy_helper.from_array(rng.standard_normal((4 * size * size, 10)).astype("float32"), "fc")
    shape = numpy_helper.from_array(np.array([-1, 4 * size * size], dtype="int64"), "shape")
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=4),
        helper.make_node("Reshape", ["c2", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "fc"], ["y"]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, size, size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[w1, w2, fc, shape])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


VALID = small_model().SerializeToString()


def _try(data_or_model, tmp_path: Path | None = None) -> None:
    t0 = time.perf_counter()
    try:
        w = from_onnx(data_or_model)
    except (OnnxError, WorkloadError) as exc:
        msg = str(exc)
        assert msg and "\n" not in msg.strip() and len(msg) < 2000, msg
    else:
        w.validate()  # a workload that comes back is one the cost kernels accept
        assert len(w.names) == len(w) and math.isfinite(w.total_macs) and w.total_macs >= 0
    assert time.perf_counter() - t0 < TIME_BOUND_S


def test_valid_model_is_read():
    w = from_onnx(VALID)
    assert w.total_macs == 3 * 9 * 4 * 64 + 9 * 4 * 64 + 4 * 64 * 10


@st.composite
def mutated(draw):
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    return bytes(data)


truncated = st.integers(0, len(VALID) - 1).map(lambda n: VALID[:n])
random_bytes = st.binary(max_size=2000)
hostile = st.one_of(mutated(), truncated, random_bytes)


@settings(max_examples=120, **_settings)
@given(data=hostile)
def test_fuzz_onnx_loader_quick(data):
    _try(data)


@pytest.mark.slow
@settings(max_examples=1000, **_settings)
@given(data=hostile)
def test_fuzz_onnx_loader(data):
    _try(data)


@pytest.mark.parametrize("dims", [[10**12, 3, 8, 8], [1, 3, 2**31, 2**31], [1, 3, 0, 8], [-5, 3, 8, 8]])
def test_huge_or_impossible_declared_dims(dims):
    m = small_model()
    for d, value in zip(m.graph.input[0].type.tensor_type.shape.dim, dims, strict=True):
        d.dim_value = value
    _try(m)


def test_cyclic_graph_is_refused():
    m = small_model()
    m.graph.node[0].input[0] = "y"  # the first conv now reads the graph's own output
    with pytest.raises(OnnxError):
        from_onnx(m)


def test_self_loop_is_refused():
    m = small_model()
    m.graph.node[1].input[0] = "r1"  # Relu reads its own output
    with pytest.raises(OnnxError):
        from_onnx(m)


def test_cli_on_garbage_prints_one_line(tmp_path):
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(VALID[: len(VALID) // 2])
    exe = Path(sys.executable).parent / "nas-edge"
    r = subprocess.run([str(exe), "profile", str(bad), "--hardware", "neurosim-rram-22nm"], capture_output=True,
                       text=True, check=False, timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr and str(bad) in r.stderr

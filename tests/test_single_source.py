"""Rules written once and used by several rooms: each test would catch a second copy drifting away."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nas_edge._json import finite_or_none, json_safe
from nas_edge.cost import estimate
from nas_edge.hardware import profile_from_dict, profile_to_dict
from nas_edge.hardware.schema import MAPPINGS, PROGRAMMING_NOISE_MODELS
from nas_edge.workload import Workload
from nas_edge.workload.table import conv_out_size


@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 40), kernel=st.integers(1, 7), stride=st.integers(1, 4), begin=st.integers(0, 3),
       end=st.integers(0, 3), dilation=st.integers(1, 3))
def test_conv_out_size_is_torchs(size: int, kernel: int, stride: int, begin: int, end: int, dilation: int) -> None:
    torch = pytest.importorskip("torch")
    eff = dilation * (kernel - 1) + 1
    expected = conv_out_size(size, kernel, stride, (begin, end), dilation)
    if size + begin + end < eff:
        assert expected < 1
        return
    x = torch.nn.functional.pad(torch.zeros(1, 1, size), (begin, end))
    y = torch.nn.functional.conv1d(x, torch.zeros(1, 1, kernel), stride=stride, dilation=dilation)
    assert y.shape[-1] == expected
    if begin == end:
        assert conv_out_size(size, kernel, stride, begin, dilation) == expected


@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 30), kernel=st.integers(1, 5), stride=st.integers(1, 3), begin=st.integers(0, 2),
       end=st.integers(0, 2), dilation=st.integers(1, 2), auto_pad=st.sampled_from(["NOTSET", "VALID"]))
def test_the_onnx_adapter_sizes_convolutions_by_the_same_rule(size: int, kernel: int, stride: int, begin: int,
                                                              end: int, dilation: int, auto_pad: str) -> None:
    from nas_edge.workload.onnx_adapter import conv_output_shape

    pads = (begin, end) if auto_pad == "NOTSET" else (0, 0)
    expected = conv_out_size(size, kernel, stride, pads, dilation)
    attrs: dict[str, object] = {"strides": [stride], "dilations": [dilation], "auto_pad": auto_pad}
    if auto_pad == "NOTSET":
        attrs["pads"] = [begin, end]
    if expected < 1:
        with pytest.raises(ValueError, match="empty"):
            conv_output_shape((1, 2, size), (3, 2, kernel), **attrs)  # type: ignore[arg-type]
    else:
        assert conv_output_shape((1, 2, size), (3, 2, kernel), **attrs) == (1, 3, expected)  # type: ignore[arg-type]


@pytest.mark.parametrize("mapping", MAPPINGS)
def test_every_cell_mapping_is_costed_and_simulated(mapping: str) -> None:
    """The profile schema, the cost kernels and the analog simulation read the same mapping names."""
    from nas_edge.analog import AnalogConfig

    data = profile_to_dict(profile_from_dict({"base": "neurosim-rram-22nm", "name": "m", "provenance": "test"}))
    data.pop("base", None)
    data["array"]["mapping"] = mapping
    prof = profile_from_dict(data)
    w = Workload.from_layers([{"type": "linear", "in_features": 300, "out_features": 40}])
    assert estimate(w, prof).totals["arrays_used"] >= 1
    assert AnalogConfig.from_profile(prof).mapping == mapping
    for noise in PROGRAMMING_NOISE_MODELS:
        assert AnalogConfig(mapping=mapping, programming_noise=noise).programming_noise == noise  # type: ignore[arg-type]


def test_analog_defaults_are_the_profile_schemas() -> None:
    from nas_edge.analog import AnalogConfig
    from nas_edge.hardware.schema import NoiseSpec

    ideal = AnalogConfig()
    for name, field in NoiseSpec.model_fields.items():
        assert getattr(ideal, name) == field.default, name


_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(), st.text(max_size=5),
                  st.sampled_from([np.float32(np.nan), np.float64(np.inf), np.int64(3), np.bool_(True)]),
                  hnp.arrays(np.float64, st.integers(0, 3)))
_nested = st.recursive(_leaf, lambda c: st.lists(c, max_size=3) | st.tuples(c, c)
                       | st.dictionaries(st.text(max_size=3), c, max_size=3), max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(value=_nested)
def test_json_safe_output_is_json(value: object) -> None:
    strict = json_safe(value, finite=True)
    assert json.loads(json.dumps(strict, allow_nan=False)) == strict  # files: no NaN, plain types
    loose = json_safe(value)
    json.dumps(loose)  # user attributes: NaN kept as a float
    from nas_edge.export.report import clean
    from nas_edge.spaces import json_safe as spaces_json_safe

    assert clean(value) == strict and spaces_json_safe is json_safe


def test_finite_or_none() -> None:
    assert finite_or_none(np.float32(1.5)) == 1.5 and finite_or_none(2) == 2.0
    assert finite_or_none(math.nan) is None and finite_or_none(np.inf) is None and finite_or_none("1") is None


def test_export_bakes_in_the_training_normalisation() -> None:
    """The exported graph's (x - mean) / std is the normalisation the network was trained with."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from nas_edge.analog.evaluate import tensors as analog_tensors
    from nas_edge.evaluate import load_data
    from nas_edge.evaluate.data import input_stats
    from nas_edge.evaluate.train import tensors
    from nas_edge.export._verify import Preprocess

    data = load_data("digits")
    xt, _, xv, _ = tensors(data, 200)
    assert analog_tensors is tensors
    baked = Preprocess(torch.nn.Identity(), *input_stats(data.x_train, 200))  # what the network sees
    torch.testing.assert_close(baked(torch.from_numpy(data.x_val).float()), xv, rtol=1e-6, atol=1e-6)
    assert abs(float(xt.mean())) < 1e-5 and abs(float(xt.std()) - 1) < 1e-2


def test_export_and_calibration_measure_with_the_same_session_options(tmp_path: object) -> None:
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from nas_edge.export._verify import session
    from nas_edge.hardware.calibrate import session as calib_session

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)
    path = tmp_path / "m.onnx"  # type: ignore[operator]
    onnx.save(model, str(path))
    a, b = session(path, 2).get_session_options(), calib_session(str(path), 2).get_session_options()
    for opt in ("intra_op_num_threads", "inter_op_num_threads", "execution_mode", "graph_optimization_level"):
        assert getattr(a, opt) == getattr(b, opt), opt
    assert a.intra_op_num_threads == 2

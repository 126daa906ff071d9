"""One network, one cost: the zoo, from_torch and from_onnx (both exporters) give the same rows for VGG-8,
ResNet-18 and MobileNetV2, and so the same cost; the fusion rules of nas_edge.workload._fuse, case by case."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from test_onnx_adapter_helpers import init, ints, make, vi

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402
from torch import nn  # noqa: E402

from nas_edge.cost import estimate  # noqa: E402
from nas_edge.models import create_model, example_input  # noqa: E402
from nas_edge.workload import COLUMNS, OpKind, Workload, zoo  # noqa: E402

NETWORKS: dict[str, Callable[[], Workload]] = {"vgg8": zoo.vgg8, "resnet18": zoo.resnet18,
                                                "mobilenet_v2": zoo.mobilenet_v2}
PROFILES = ("neurosim-rram-22nm", "neurosim-sram-22nm", "isaac-reram-32nm", "mobile-cpu-a78", "npu-int8-4tops")


def export(model: Any, x: Any, *, dynamo: bool) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, dynamo=dynamo, verbose=False)
    return buf.getvalue()


def assert_same_rows(a: Workload, b: Workload, what: str) -> None:
    assert len(a) == len(b), f"{what}: {len(a)} rows vs {len(b)}"
    for c in COLUMNS:
        bad = np.flatnonzero(getattr(a, c) != getattr(b, c))
        assert bad.size == 0, f"{what}: column {c} differs at row {bad[0]} ({a.names[bad[0]]} / {b.names[bad[0]]})"


@pytest.fixture(scope="module")
def sources(torch_one_thread: None) -> dict[str, dict[str, Workload]]:
    out = {}
    for name, analytic in NETWORKS.items():
        model, x = create_model(name), example_input(name)
        out[name] = {"zoo": analytic(), "torch": Workload.from_torch(model, x),
                     "onnx": Workload.from_onnx(export(model, x, dynamo=True)),
                     "onnx-legacy": Workload.from_onnx(export(model, x, dynamo=False))}
    return out


@pytest.mark.parametrize("name", list(NETWORKS))
def test_three_sources_agree_row_by_row(sources: dict[str, dict[str, Workload]], name: str) -> None:
    ws = sources[name]
    for other in ("torch", "onnx", "onnx-legacy"):
        assert_same_rows(ws["zoo"], ws[other], f"{name}: zoo vs {other}")
    assert ws["zoo"].names == ws["torch"].names  # the zoo names rows by the builders' module paths


@pytest.mark.parametrize("name", list(NETWORKS))
def test_three_sources_cost_the_same(sources: dict[str, dict[str, Workload]], name: str) -> None:
    for profile in PROFILES:
        ref = estimate(sources[name]["zoo"], profile).totals
        for other in ("torch", "onnx", "onnx-legacy"):
            got = estimate(sources[name][other], profile).totals
            for key, value in ref.items():
                assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-300), (name, other, profile, key)


def test_the_networks_are_what_their_papers_say(sources: dict[str, dict[str, Workload]]) -> None:
    assert 2 * sources["vgg8"]["zoo"].total_macs == pytest.approx(1.2318e9, rel=1e-4)  # NeuroSim's VGG-8
    assert len(sources["vgg8"]["zoo"]) == 8  # NeuroSim's NetWork_VGG8.csv, layer for layer
    assert sources["resnet18"]["zoo"].total_macs == pytest.approx(1.814e9, rel=1e-3)
    assert sources["mobilenet_v2"]["zoo"].total_macs == pytest.approx(300.8e6, rel=1e-3)
    for name in NETWORKS:  # every conv / linear weight matrix is a row's params; biases and norms fold away
        weights = sum(p.numel() for p in create_model(name).parameters() if p.dim() > 1)
        assert sources[name]["zoo"].total_params == weights, name


# ---- the fusion rules, one at a time (hand-built ONNX graphs and small modules) ----------------------------

def _conv_then(nodes: list[Any], outputs: list[Any], opset: int = 18) -> Workload:
    conv = helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    return Workload.from_onnx(make([conv, *nodes], [vi("x", [1, 4, 8, 8])], outputs, [init("w", [6, 4, 3, 3])],
                                   opset=opset))


def test_relu_and_max_pool_join_the_conv() -> None:
    w = _conv_then([helper.make_node("Relu", ["c"], ["r"]),
                    helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
                   [vi("y", None)])
    assert [OpKind(int(k)).name for k in w.kind] == ["CONV"]
    assert w.out_elems[0] == 6 * 4 * 4 and w.in_elems[0] == 4 * 8 * 8


def test_global_pooling_and_mean_join_the_conv() -> None:
    for node in (helper.make_node("GlobalAveragePool", ["c"], ["y"]),
                 helper.make_node("ReduceMean", ["c", "axes"], ["y"], keepdims=0)):
        conv = helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        w = Workload.from_onnx(make([conv, node], [vi("x", [1, 4, 8, 8])], [vi("y", None)],
                                    [init("w", [6, 4, 3, 3]), ints("axes", [2, 3])]))
        assert len(w) == 1 and w.out_elems[0] == 6, node.op_type


def test_a_pool_whose_input_is_read_twice_stays_a_row() -> None:
    """Squeeze-excite: the conv's output is pooled and also scaled, so it is written in full."""
    w = _conv_then([helper.make_node("GlobalAveragePool", ["c"], ["s"]),
                    helper.make_node("Mul", ["c", "s"], ["y"])], [vi("y", None)])
    assert [OpKind(int(k)).name for k in w.kind] == ["CONV", "POOL", "ELEMENTWISE"]
    assert w.out_elems[0] == 6 * 8 * 8


def test_an_output_that_is_also_a_graph_output_is_not_fused() -> None:
    w = _conv_then([helper.make_node("Relu", ["c"], ["y"])], [vi("y", None), vi("c", None)])
    assert [OpKind(int(k)).name for k in w.kind] == ["CONV", "ELEMENTWISE"]


class _Twice(nn.Module):
    """The conv output is read by the ReLU and by the add: the ReLU cannot run in the conv's output stage."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: Any) -> Any:
        c = self.conv(x)
        return torch.relu(c) + c


class _Pooled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, padding=1)

    def forward(self, x: Any) -> Any:
        return nn.functional.max_pool2d(torch.relu_(self.conv(x)), 2)  # an in-place ReLU, then a pool


@pytest.mark.parametrize("module", [_Twice, _Pooled])
def test_torch_and_onnx_fold_the_same_way(module: type, torch_one_thread: None) -> None:
    m, x = module().eval(), torch.randn(1, 4, 8, 8)
    wt, wo = Workload.from_torch(m, x), Workload.from_onnx(export(m, x, dynamo=False))
    assert_same_rows(wt, wo, module.__name__)
    if module is _Twice:
        assert [OpKind(int(k)).name for k in wt.kind] == ["CONV", "ELEMENTWISE", "ELEMENTWISE"]
    else:
        assert len(wt) == 1 and wt.out_elems[0] == 6 * 4 * 4


def test_from_layers_pooled_size() -> None:
    w = Workload.from_layers([{"type": "conv", "in_channels": 3, "out_channels": 8, "kernel": 3, "in_size": 8,
                               "pooled_size": 4}])
    assert w.out_elems[0] == 8 * 16 and w.m[0] == 64
    from nas_edge.workload import WorkloadError

    with pytest.raises(WorkloadError, match="pooled_size"):
        Workload.from_layers([{"type": "conv", "in_channels": 3, "out_channels": 8, "kernel": 3, "in_size": 8,
                               "pooled_size": 9}])

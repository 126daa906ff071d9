"""Workload.from_torch agrees with from_onnx on the same model (both exporters), and with the analytic zoo."""

from __future__ import annotations

import io
import warnings

import pytest
import torch
from torch import nn

from nas_edge.models import create_model
from nas_edge.workload import OpKind, Workload, zoo
from nas_edge.workload.torch_adapter import TorchTraceError, from_torch


def export(model: nn.Module, x: torch.Tensor, *, dynamo: bool) -> bytes:
    """ONNX bytes from torch's dynamo exporter (the default, opset 18+) or the legacy TorchScript one."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if dynamo:
            return torch.onnx.export(model, (x,), dynamo=True, verbose=False).model_proto.SerializeToString()
        buf = io.BytesIO()
        torch.onnx.export(model, (x,), buf, dynamo=False, opset_version=14)
        return buf.getvalue()


def static_matrices(w: Workload) -> list[tuple[int, int, int, int, int]]:
    """(kind, k, n, groups, vectors) of every matmul-kind row, order-independent."""
    return sorted((int(w.kind[i]), int(w.k[i]), int(w.n[i]), int(w.groups[i]), int(w.m[i]))
                  for i in range(len(w)) if w.kind[i] <= int(OpKind.DYNAMIC_MATMUL))


class TinyCNN(nn.Module):
    """Stride-2 stem, depthwise-separable blocks with a residual, a transposed conv, pooling, a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.pw = nn.Sequential(nn.Conv2d(16, 16, 1, bias=False), nn.BatchNorm2d(16))
        self.dw2 = nn.Conv2d(16, 32, 5, 2, 2, groups=16)  # depthwise with channel multiplier 2
        self.up = nn.ConvTranspose2d(32, 8, 4, 2, 1)
        self.head = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = x + self.pw(self.dw(x))
        x = torch.relu(self.up(self.dw2(x)))
        return self.head(x.mean((2, 3)))


def small_bert(attention: str) -> nn.Module:
    return create_model("bert_mini", layers=2, hidden=64, heads=4, vocab_size=500, attention=attention)


def tokens(n: int = 16) -> torch.Tensor:
    return torch.randint(0, 500, (1, n), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("dynamo", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_cnn_with_depthwise_convs_agrees_with_onnx(dynamo: bool) -> None:
    model, x = TinyCNN().eval(), torch.randn(1, 3, 32, 32)
    wt = from_torch(model, x)
    wo = Workload.from_onnx(export(model, x, dynamo=dynamo))
    assert wt.total_macs == wo.total_macs
    assert static_matrices(wt) == static_matrices(wo)
    kinds = [(r["groups"], r["k"], r["kernel"]) for r in wt.rows() if r["kind"] == "conv"]
    assert (16, 9, 9) in kinds and (16, 25, 25) in kinds  # depthwise, and depthwise x2
    # the transposed conv: every input pixel (8 x 8) meets a 32 x (8 x 16) matrix
    assert any(r["k"] == 32 and r["n"] == 8 * 16 and r["m"] == 64 for r in wt.rows())


@pytest.mark.parametrize("attention, dynamo", [("sdpa", False), ("explicit", False),
                                               pytest.param("sdpa", True, marks=pytest.mark.slow)])
def test_transformer_encoder_agrees_with_onnx(attention: str, dynamo: bool) -> None:
    model, x = small_bert(attention), tokens()
    wt = from_torch(model, x)
    wo = Workload.from_onnx(export(model, x, dynamo=dynamo))
    assert wt.total_macs == wo.total_macs
    assert static_matrices(wt) == static_matrices(wo)
    dyn = [r for r in wt.rows() if r["kind"] == "dynamic_matmul"]
    assert len(dyn) == 4 and all(r["groups"] == 4 and r["m"] == 16 for r in dyn)
    assert sum(r["kind"] == "linear" for r in wt.rows()) == 2 * 6 + 1  # q k v o ff1 ff2 per layer, pooler


def test_pytorch_transformer_layer_fast_path_is_seen_op_by_op() -> None:
    layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, dropout=0.0).eval()
    x = torch.randn(1, 10, 32)
    for device in ("meta", "real"):
        w = from_torch(layer, x, device=device)
        kinds = [r["kind"] for r in w.rows()]
        assert kinds.count("dynamic_matmul") == 2 and kinds.count("linear") == 4, device
        assert not any("fused PyTorch kernel" in m for m in w.warnings)
    assert w.total_macs == 10 * 32 * 96 + 2 * 10 * 10 * 32 + 10 * 32 * 32 + 2 * 10 * 32 * 64


def test_meta_and_real_runs_agree_and_leave_the_module_alone() -> None:
    model = TinyCNN().train()
    x = torch.randn(1, 3, 32, 32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    meta, real = from_torch(model, x, device="meta"), from_torch(model, x, device="real")
    assert meta.meta["device"] == "meta" and real.meta["device"] == "real"
    assert static_matrices(meta) == static_matrices(real) and meta.total_macs == real.total_macs
    assert model.training and all(m.training for m in model.modules())  # flags restored
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN stats untouched
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_data_dependent_module_falls_back_to_a_real_run() -> None:
    class Gate(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.a(x)
            return self.b(h) if h.sum() > -1e9 else h  # needs values: not possible on meta

    w = from_torch(Gate(), torch.randn(2, 8))
    assert w.meta["device"] == "real" and static_matrices(w) == [(1, 8, 4, 1, 2), (1, 8, 8, 1, 2)]
    with pytest.raises(TorchTraceError, match="meta"):
        from_torch(Gate(), torch.randn(2, 8), device="meta")


def test_batch_and_inputs() -> None:
    model, x = TinyCNN().eval(), torch.randn(1, 3, 32, 32)
    one, three = from_torch(model, x), Workload.from_torch(model, (x,), batch=3)
    assert three.total_macs == 3 * one.total_macs and three.batch == 3
    assert from_torch(model, {"x": x}).total_macs == one.total_macs
    with pytest.raises(ValueError, match="no tensor"):
        from_torch(model, (3,))
    with pytest.raises(TorchTraceError, match="failed on the example input"):
        from_torch(model, torch.randn(1, 5, 32, 32))


@pytest.mark.parametrize("name, analytic, size", [("resnet18", zoo.resnet18, 64), ("vgg8", zoo.vgg8, 32)])
def test_torch_agrees_with_the_analytic_zoo(name: str, analytic, size: int) -> None:
    """The three ways of making a workload agree (the ONNX way is checked in test_models)."""
    w = from_torch(create_model(name), torch.randn(1, 3, size, size))
    ref = analytic(input_size=size)
    static = lambda wl: sorted((int(wl.k[i]), int(wl.n[i]), int(wl.m[i]), int(wl.groups[i]))  # noqa: E731
                               for i in range(len(wl)) if wl.static_mask[i])
    assert static(w) == static(ref)
    assert w.total_macs == ref.total_macs and w.total_params == ref.total_params


def test_lstm_agrees_with_onnx() -> None:
    model, x = nn.LSTM(32, 16, batch_first=True, bidirectional=True).eval(), torch.randn(1, 10, 32)
    real = from_torch(model, x, device="real")
    onnx_w = Workload.from_onnx(export(model, x, dynamo=False))
    macs = 10 * 2 * (32 * 64 + 16 * 64)  # steps x directions x (input + recurrent projections, 4 gates)
    assert real.total_macs == onnx_w.total_macs == macs
    assert real.warnings == () and onnx_w.warnings == ()
    # on meta the LSTM runs step by step; the first step's recurrent product with the zero state is constant
    assert from_torch(model, x, device="meta").total_macs == macs - 2 * 16 * 64

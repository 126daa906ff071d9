"""Graph forms users bring: INT8 QDQ models (quantize/dequantize are the representation, not work) and legacy
TorchScript exports of nn.TransformerEncoder with dynamic axes (attention matmuls counted); when shapes stay
unknown, the warning names the nodes with MACs that could not be costed."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from onnx import helper
from test_onnx_adapter_helpers import init, make, vi

from nas_edge.cost import estimate
from nas_edge.workload import COLUMNS, OpKind, Workload
from nas_edge.workload.onnx_adapter import OnnxShapeError

torch = pytest.importorskip("torch")
nn = torch.nn


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU())
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


def _export(model, args, **kw) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, buf, dynamo=False, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def cnn_fp32_and_qdq(tmp_path_factory: pytest.TempPathFactory, torch_one_thread: None) -> tuple[Path, Path]:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    d = tmp_path_factory.mktemp("qdq")
    fp32, qdq = d / "fp32.onnx", d / "qdq.onnx"
    torch.manual_seed(0)
    fp32.write_bytes(_export(SmallCNN().eval(), (torch.randn(1, 3, 16, 16),), input_names=["x"]))

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.batches = iter([{"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_static(str(fp32), str(qdq), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    return fp32, qdq


def test_qdq_model_costs_what_the_float_model_costs(cnn_fp32_and_qdq: tuple[Path, Path]) -> None:
    fp32, qdq = (Workload.from_onnx(p) for p in cnn_fp32_and_qdq)
    assert "QuantizeLinear" not in qdq.op_types and "DequantizeLinear" not in qdq.op_types
    assert len(qdq) == len(fp32) and all(np.array_equal(getattr(qdq, c), getattr(fp32, c)) for c in COLUMNS)
    assert qdq.meta["quantized_bits"] == {"weights": 8, "activations": 8} and fp32.meta["quantized_bits"] is None
    for profile in ("neurosim-rram-22nm", "npu-int8-4tops", "mobile-cpu-a78"):
        assert estimate(qdq, profile)["energy_uj"] == pytest.approx(estimate(fp32, profile)["energy_uj"], rel=1e-12)


def test_qat_fake_quant_in_torch_is_free_too(torch_one_thread: None) -> None:
    class Fake(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)

        def forward(self, x):
            x = torch.fake_quantize_per_tensor_affine(x, 0.1, 0, -128, 127)
            return torch.fake_quantize_per_tensor_affine(torch.relu(self.conv(x)), 0.1, 0, -128, 127)

    x = torch.randn(1, 3, 8, 8)
    w = Workload.from_torch(Fake(), x)
    assert [OpKind(int(k)).name for k in w.kind] == ["CONV"]


def test_legacy_export_of_transformer_encoder_counts_attention(torch_one_thread: None) -> None:
    layers, d, seq = 2, 64, 16
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 4, 128, batch_first=True), layers).eval()
    x = torch.randn(1, seq, d)
    data = _export(enc, (x,), input_names=["x"], dynamic_axes={"x": {0: "batch", 1: "seq"}})
    wo = Workload.from_onnx(data, input_shapes={"seq": seq})
    wt = Workload.from_torch(enc, x)
    attention = 2 * layers * seq * seq * d  # QK^T and A V, every head
    assert wo.total_macs == wt.total_macs == layers * seq * (4 * d * d + 2 * d * 128) + attention
    assert sum(wo.kind == int(OpKind.DYNAMIC_MATMUL)) == 2 * layers and wo.warnings == ()


def test_sequence_first_legacy_export_with_a_dynamic_leading_axis_is_refused_not_truncated(
        torch_one_thread: None) -> None:
    """nn.TransformerEncoder is sequence-first by default: a dynamic axis 0 is its sequence, not a batch. Sized 1
    as a batch it used to drop 99 % of the work silently (0.46 M of 58.7 M MACs at d=128, seq=128); it is refused
    with the symbol to give, and given, the MACs equal from_torch's."""
    layers, d, ff, seq = 1, 32, 64, 12
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 4, ff), layers, enable_nested_tensor=False).eval()
    x = torch.randn(seq, 1, d)
    data = _export(enc, (x,), input_names=["x"], dynamic_axes={"x": {0: "seq"}})
    with pytest.raises(OnnxShapeError, match=r"'x' axis 0 \('seq'\) is not a batch.*--input-shape seq=N"):
        Workload.from_onnx(data)
    expected = layers * seq * (4 * d * d + 2 * d * ff) + 2 * layers * seq * seq * d
    assert Workload.from_onnx(data, input_shapes={"seq": seq}).total_macs == Workload.from_torch(enc, x).total_macs
    assert Workload.from_torch(enc, x).total_macs == expected
    # a batch-first export with a dynamic batch is a batch: sized 1, no refusal
    enc_bf = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 4, ff, batch_first=True), layers,
                                   enable_nested_tensor=False).eval()
    data_bf = _export(enc_bf, (x.transpose(0, 1),), input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    assert Workload.from_onnx(data_bf).total_macs == expected


def test_unsized_matmuls_are_named_with_what_is_known() -> None:
    """A custom op ONNX cannot size feeds an attention-like MatMul and a projection: both named, not Transposes."""
    nodes = [helper.make_node("Mystery", ["x"], ["h"], domain="com.example"),
             helper.make_node("Transpose", ["h"], ["ht"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["h", "ht"], ["scores"], name="qk"),
             helper.make_node("MatMul", ["scores", "w"], ["y"], name="proj")]
    model = make(nodes, [vi("x", [1, 16, 32])], [vi("y", None)], [init("w", [16, 32])],
                 extra_domains=[("com.example", 1)])
    w = Workload.from_onnx(model)
    text = " ".join(w.warnings)
    assert "2 node(s) with multiply-accumulates not costed" in text and "MACs are missing" in text
    assert "MatMul 'qk'" in text and "MatMul 'proj'" in text and "16x32: 512 MACs per input vector" in text
    assert "Transpose (1)" in text

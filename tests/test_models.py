"""Well-known networks built from their published definitions: parameters and MACs match the papers, and
each exports to ONNX and profiles on IMC and edge hardware."""

from __future__ import annotations

import io
import warnings

import pytest
import torch

from nas_edge.models import create_model, example_input, list_models, model_info
from nas_edge.profiling import profile_onnx
from nas_edge.workload import OpKind
from nas_edge.workload.torch_adapter import from_torch


def on_meta(name: str, **kwargs: object) -> torch.nn.Module:
    """The model with shape-only parameters: instant even for BERT-base and ViT-B."""
    with torch.device("meta"):
        return create_model(name, **kwargs)


def test_registry() -> None:
    assert {"resnet18", "mobilenet_v2", "bert_base", "vit_b16"} <= set(list_models())
    assert set(list_models("cnn")) | set(list_models("transformer")) == set(list_models())
    with pytest.raises(KeyError, match="unknown model"):
        model_info("alexnet")


@pytest.mark.parametrize("name", [n for n in list_models() if model_info(n).published_params])
def test_parameters_match_published_counts(name: str) -> None:
    model = on_meta(name)
    assert sum(p.numel() for p in model.parameters()) == model_info(name).published_params


@pytest.mark.parametrize("name", [n for n in list_models() if model_info(n).published_macs])
def test_macs_match_published_figures(name: str) -> None:
    info = model_info(name)
    shape = (1, *info.input_shape)
    x = torch.zeros(shape, dtype=torch.int64) if info.input_kind == "tokens" else torch.zeros(shape)
    w = from_torch(on_meta(name), x)
    assert w.total_macs == pytest.approx(info.published_macs, rel=0.01)


def test_resnet18_and_mobilenet_v2_headline_figures() -> None:
    r18 = from_torch(on_meta("resnet18"), torch.zeros(1, 3, 224, 224))
    mb2 = from_torch(on_meta("mobilenet_v2"), torch.zeros(1, 3, 224, 224))
    assert r18.total_macs / 1e9 == pytest.approx(1.82, abs=0.01)  # 1.814 G
    assert r18.total_params / 1e6 == pytest.approx(11.7, abs=0.05)  # conv + FC weights: 11.68 M
    assert mb2.total_macs / 1e6 == pytest.approx(300, rel=0.01)  # 300.8 M
    assert mb2.total_params / 1e6 == pytest.approx(3.5, abs=0.05)  # 3.47 M (3.50 M with BN and biases)
    dw = [r for r in mb2.rows() if r["kind"] == "conv" and r["groups"] > 1]
    assert len(dw) == 17 and all(r["k"] == 9 for r in dw)


def _export(model: torch.nn.Module, x: torch.Tensor, *, dynamo: bool) -> bytes:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if dynamo:
            return torch.onnx.export(model, (x,), dynamo=True, verbose=False).model_proto.SerializeToString()
        buf = io.BytesIO()
        torch.onnx.export(model, (x,), buf, dynamo=False, opset_version=17)
        return buf.getvalue()


EXPORTS = {  # CNNs at 224 with the (fast) legacy exporter; transformers made small, with the dynamo one
    "resnet18": ({}, (3, 224, 224), False),
    "mobilenet_v2": ({}, (3, 224, 224), False),
    "bert_mini": ({"layers": 2, "vocab_size": 1000}, (32,), True),
    "vit_ti16": ({"depth": 2, "image_size": 64}, (3, 64, 64), True),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPORTS))
def test_export_and_profile(name: str) -> None:
    kwargs, shape, dynamo = EXPORTS[name]
    model = create_model(name, **kwargs)
    x = example_input(name, shape=shape)
    if "vocab_size" in kwargs:
        x = x % kwargs["vocab_size"]
    onnx_bytes = _export(model, x, dynamo=dynamo)
    result = profile_onnx(onnx_bytes, ["neurosim-rram-22nm", "mobile-cpu-a78"])
    wt = from_torch(model, x)
    w = result.workload
    assert w.total_macs == wt.total_macs and w.total_params == wt.total_params
    if not kwargs:  # the published size: ResNet-18 1.814 G, MobileNetV2 300.8 M MACs through ONNX
        assert w.total_macs == pytest.approx(model_info(name).published_macs, rel=0.01)
    assert result.warnings == []
    imc, cpu = result.hardware
    assert imc.totals["energy_uj"] > 0 and cpu.totals["latency_ms"] > 0
    assert imc.layer("arrays")[w.static_mask].min() >= 1  # every static layer is mapped on crossbars
    assert (imc.layer("arrays")[~w.static_mask] == 0).all()
    if model_info(name).family == "transformer":
        assert (w.kind == int(OpKind.DYNAMIC_MATMUL)).sum() == 2 * 2  # QK^T and AV in each of 2 blocks

"""Well-known networks built in PyTorch from their published definitions, with random weights.

A timm-style registry: :func:`list_models` names them, :func:`create_model` builds one (torch is imported
only then), :func:`example_input` gives a matching input, and :func:`model_info` the published figures
(MACs and parameters, with their source) that the tests check the builders against. No pretrained weights
are ever downloaded.

>>> from nas_edge.models import create_model, example_input
>>> net = create_model("mobilenet_v2")            # doctest: +SKIP
>>> x = example_input("mobilenet_v2")             # (1, 3, 224, 224)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any


@dataclass(frozen=True)
class ModelInfo:
    """Registry entry: where the builder lives, its input, and its published figures."""

    name: str
    builder: str  # "module:function" inside nas_edge.models
    family: str  # "cnn" or "transformer"
    input_kind: str  # "image" (float N x C x H x W) or "tokens" (int64 N x S)
    input_shape: tuple[int, ...]  # default input without the batch dimension
    published_macs: float | None = None  # at input_shape
    published_params: float | None = None
    source: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    vocab_size: int = 0


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(info: ModelInfo) -> ModelInfo:
    """Add a model to the registry (names are unique)."""
    if info.name in _REGISTRY:
        raise ValueError(f"model {info.name!r} is already registered")
    _REGISTRY[info.name] = info
    return info


def list_models(family: str | None = None) -> list[str]:
    """Registered model names, optionally only one family ('cnn' or 'transformer')."""
    return sorted(n for n, i in _REGISTRY.items() if family is None or i.family == family)


def model_info(name: str) -> ModelInfo:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(list_models())}") from None


def create_model(name: str, **kwargs: Any) -> Any:
    """Build a registered model (an ``nn.Module`` in eval mode, random weights); ``kwargs`` override."""
    info = model_info(name)
    module_name, fn = info.builder.split(":")
    builder = getattr(import_module(f"nas_edge.models.{module_name}"), fn)
    return builder(**{**info.kwargs, **kwargs}).eval()


def example_input(name: str, *, batch: int = 1, shape: tuple[int, ...] | None = None, seed: int = 0) -> Any:
    """A random input for a registered model: ``batch x input_shape`` (or ``batch x shape``)."""
    import torch

    info = model_info(name)
    dims = (batch, *(shape or info.input_shape))
    gen = torch.Generator().manual_seed(seed)
    if info.input_kind == "tokens":
        return torch.randint(0, info.vocab_size, dims, generator=gen, dtype=torch.int64)
    return torch.randn(dims, generator=gen)


_HE = "He et al., Deep Residual Learning, CVPR 2016 (Table 1); torchvision parameter count"
for _name, _blocks, _macs, _params in (
    ("resnet18", "basic", 1.814e9, 11_689_512),
    ("resnet34", "basic", 3.664e9, 21_797_672),
    ("resnet50", "bottleneck", 4.089e9, 25_557_032),
):
    register_model(ModelInfo(_name, f"resnet:{_name}", "cnn", "image", (3, 224, 224), _macs, _params, _HE))
register_model(ModelInfo(
    "mobilenet_v2", "mobilenet:mobilenet_v2", "cnn", "image", (3, 224, 224), 300e6, 3_504_872,
    "Sandler et al., MobileNetV2, CVPR 2018 (Table 2, width 1.0: 300 M multiply-adds, 3.4 M params); "
    "torchvision parameter count 3,504,872"))
register_model(ModelInfo(
    "vgg8", "vgg:vgg8", "cnn", "image", (3, 32, 32), 616e6, None,
    "DNN+NeuroSim V1.4 VGG-8 (CIFAR-10): 1.2318 GOP = 616 M MACs"))
register_model(ModelInfo(
    "bert_base", "transformer:bert", "transformer", "tokens", (128,), 11.17e9, 109_482_240,
    "Devlin et al., BERT, NAACL 2019 (BERT-base: L=12, H=768, A=12, 110 M params); Hugging Face "
    "BertModel count 109,482,240; MACs = 12 x S x H x (12 H + 2 S) at S=128",
    kwargs={"layers": 12, "hidden": 768, "heads": 12}, vocab_size=30522))
register_model(ModelInfo(
    "bert_mini", "transformer:bert", "transformer", "tokens", (128,), None, 11_170_560,
    "Turc et al., Well-Read Students Learn Better, 2019 (BERT-Mini: L=4, H=256, 11.3 M params)",
    kwargs={"layers": 4, "hidden": 256, "heads": 4}, vocab_size=30522))
register_model(ModelInfo(
    "vit_b16", "transformer:vit", "transformer", "image", (3, 224, 224), 17.56e9, 86_567_656,
    "Dosovitskiy et al., An Image is Worth 16x16 Words, ICLR 2021 (ViT-Base/16: 86 M params); "
    "torchvision: 17.56 GFLOPS (multiply-adds), 86,567,656 params",
    kwargs={"dim": 768, "depth": 12, "heads": 12}))
register_model(ModelInfo(
    "vit_ti16", "transformer:vit", "transformer", "image", (3, 224, 224), 1.26e9, 5_717_416,
    "Touvron et al., DeiT, ICML 2021 (DeiT-Ti = ViT-Ti/16: 5 M params, 1.3 GFLOPs); timm count 5,717,416",
    kwargs={"dim": 192, "depth": 12, "heads": 3}))

__all__ = ["ModelInfo", "create_model", "example_input", "list_models", "model_info", "register_model"]

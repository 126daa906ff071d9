"""Transformer space: a ViT-style pre-norm encoder on image patches, or the same encoder on token sequences.

Images ``(C, H, W)`` are cut into ``patch x patch`` patches by a strided convolution; token sequences
``(L,)`` of ids below ``vocab_size`` go through an embedding table. Then learned position embeddings,
``depth`` encoder blocks (LayerNorm, multi-head self-attention, LayerNorm, MLP with GELU), a final
LayerNorm, mean pooling over tokens and a linear classifier.

Parameters: ``vit_patch`` (images only), ``vit_embed``, ``vit_depth``, ``vit_heads``, ``vit_mlp_ratio``.
Attention's QK^T and A.V are activation x activation matmuls (``DYNAMIC_MATMUL`` rows): on an IMC chip
they run on the digital unit, which is what makes transformers cost differently from CNNs there.
Rows follow the torch/ONNX adapters' conventions (``layers(arch)`` equals ``Workload.from_torch(build(arch))``):
LayerNorm 7 ops per element (its weight and bias are read as inputs), the 1/sqrt(d) scale 1, softmax 5,
GELU 8; the embedding lookup is a gather (bytes, no ops; its table is not a crossbar weight).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

from nas_edge.spaces._rows import ELEMENTWISE, NORM, POOL, SOFTMAX, Rows
from nas_edge.spaces.base import Architecture, NetworkSpace, SpaceError, register_space
from nas_edge.workload.table import Workload


@dataclasses.dataclass(frozen=True)
class TransformerArchitecture(Architecture):
    space: ClassVar[str] = "transformer"

    patch_size: int  # 0 for token sequences
    embed_dim: int
    depth: int
    heads: int
    mlp_ratio: int

    def summary(self) -> str:
        patch = f"p{self.patch_size} " if self.patch_size else ""
        return f"{patch}d{self.embed_dim} L{self.depth} h{self.heads} mlp{self.mlp_ratio}"


def _default_patches(h: int, w: int) -> tuple[int, ...]:
    out = tuple(p for p in (1, 2, 4, 8, 16, 32) if h % p == 0 and w % p == 0 and 4 <= (h // p) * (w // p) <= 256)
    return out or (max(p for p in (1, 2, 4, 8, 16, 32) if h % p == 0 and w % p == 0),)


@register_space
class TransformerSpace(NetworkSpace):
    """ViT-style encoder for images ``(C, H, W)`` or token sequences ``(L,)`` (give ``vocab_size``).

    Options: ``patch_sizes`` (must divide H and W), ``embed_dims``, ``max_depth``, ``heads`` (each must
    divide each embedding width), ``mlp_ratios``.
    """

    name: ClassVar[str] = "transformer"
    arch_type: ClassVar[type[Architecture]] = TransformerArchitecture

    def __init__(
        self,
        *,
        input_shape: Sequence[int] = (1, 8, 8),
        num_classes: int = 10,
        vocab_size: int | None = None,
        patch_sizes: Sequence[int] | None = None,
        embed_dims: Sequence[int] = (32, 48, 64, 96, 128),
        max_depth: int = 4,
        heads: Sequence[int] = (1, 2, 4),
        mlp_ratios: Sequence[int] = (1, 2, 4),
    ) -> None:
        self.input_shape = tuple(int(v) for v in input_shape)
        self.num_classes = int(num_classes)
        self.vocab_size = None if vocab_size is None else int(vocab_size)
        if self.vocab_size is not None:
            if len(self.input_shape) != 1 or self.input_shape[0] < 1 or self.vocab_size < 1:
                raise SpaceError(f"transformer on tokens: input_shape must be (L,), got {self.input_shape}")
            self.patch_sizes: tuple[int, ...] = ()
        else:
            if len(self.input_shape) != 3 or min(self.input_shape) < 1:
                raise SpaceError(f"transformer on images: input_shape must be (C, H, W), got {self.input_shape}"
                                 " (for token sequences give vocab_size)")
            _, h, w = self.input_shape
            self.patch_sizes = tuple(int(p) for p in (patch_sizes or _default_patches(h, w)))
            bad = [p for p in self.patch_sizes if p < 1 or h % p or w % p]
            if bad:
                raise SpaceError(f"transformer: patch sizes {bad} do not divide the image size {h}x{w}")
        self.embed_dims = tuple(int(d) for d in embed_dims)
        self.heads = tuple(int(h) for h in heads)
        self.mlp_ratios = tuple(int(r) for r in mlp_ratios)
        self.max_depth = int(max_depth)
        bad_pairs = [(d, h) for d in self.embed_dims for h in self.heads if h < 1 or d % h]
        if bad_pairs:
            raise SpaceError(f"transformer: every head count must divide every embedding width; {bad_pairs}")
        if self.num_classes < 2 or self.max_depth < 1 or min(self.embed_dims) < 1 or min(self.mlp_ratios) < 1:
            raise SpaceError("transformer: need num_classes >= 2, max_depth >= 1, positive widths and ratios")
        self._dists = self._make_distributions()

    def config(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "num_classes": self.num_classes,
                "vocab_size": self.vocab_size, "patch_sizes": list(self.patch_sizes),
                "embed_dims": list(self.embed_dims), "max_depth": self.max_depth, "heads": list(self.heads),
                "mlp_ratios": list(self.mlp_ratios)}

    def _make_distributions(self) -> dict[str, BaseDistribution]:
        d: dict[str, BaseDistribution] = {}
        if self.patch_sizes:
            d["vit_patch"] = CategoricalDistribution(self.patch_sizes)
        d["vit_embed"] = CategoricalDistribution(self.embed_dims)
        d["vit_depth"] = IntDistribution(1, self.max_depth)
        d["vit_heads"] = CategoricalDistribution(self.heads)
        d["vit_mlp_ratio"] = CategoricalDistribution(self.mlp_ratios)
        return d

    def distributions(self) -> dict[str, BaseDistribution]:
        return dict(self._dists)

    def from_params(self, params: Mapping[str, Any]) -> TransformerArchitecture:
        self._check_params(params)
        return TransformerArchitecture(
            patch_size=int(params["vit_patch"]) if self.patch_sizes else 0, embed_dim=int(params["vit_embed"]),
            depth=int(params["vit_depth"]), heads=int(params["vit_heads"]),
            mlp_ratio=int(params["vit_mlp_ratio"]))

    def to_params(self, arch: Architecture) -> dict[str, Any]:
        a = self._own(arch, TransformerArchitecture)
        params: dict[str, Any] = {"vit_embed": a.embed_dim, "vit_depth": a.depth, "vit_heads": a.heads,
                                  "vit_mlp_ratio": a.mlp_ratio}
        if self.patch_sizes:
            params = {"vit_patch": a.patch_size, **params}
        self._check_params(params)
        return params

    def tokens(self, arch: TransformerArchitecture, input_shape: Sequence[int] | None = None) -> int:
        """Sequence length the encoder sees."""
        shape = tuple(input_shape or self.input_shape)
        if self.vocab_size is not None:
            return shape[0]
        return (shape[1] // arch.patch_size) * (shape[2] // arch.patch_size)

    def layers(self, arch: Architecture, input_shape: Sequence[int] | None = None) -> Workload:
        a = self._own(arch, TransformerArchitecture)
        shape = tuple(input_shape or self.input_shape)
        d, heads, hid = a.embed_dim, a.heads, a.embed_dim * a.mlp_ratio
        t = self.tokens(a, shape)
        td, dh = t * d, d // heads
        r = Rows()
        if self.vocab_size is not None:
            r.op(ELEMENTWISE, "embed", td, 0, t + td)  # a gather: bytes, no ops
        else:
            if a.patch_size < 1 or shape[1] % a.patch_size or shape[2] % a.patch_size:
                raise SpaceError(f"patch size {a.patch_size} does not divide the image {shape[1]}x{shape[2]}")
            r.conv("patch_embed", shape[0], d, a.patch_size, shape[1], shape[2], a.patch_size, padding=0)
        r.op(ELEMENTWISE, "pos_add", td, 1, 2 * td)
        for i in range(a.depth):
            n = f"block{i}"
            r.op(NORM, f"{n}.norm1", td, 7, td + 2 * d)
            r.linear(f"{n}.attn.qkv", d, 3 * d, t)
            r.matmul(f"{n}.attn.scores", t, dh, t, heads)
            r.op(ELEMENTWISE, f"{n}.attn.scale", heads * t * t)
            r.op(SOFTMAX, f"{n}.attn.softmax", heads * t * t, 5)
            r.matmul(f"{n}.attn.context", t, t, dh, heads)
            if heads > 1:  # heads back side by side: a copy (bytes, no ops)
                r.op(ELEMENTWISE, f"{n}.attn.merge_heads", td, 0, td)
            r.linear(f"{n}.attn.proj", d, d, t)
            r.op(ELEMENTWISE, f"{n}.add1", td, 1, 2 * td)
            r.op(NORM, f"{n}.norm2", td, 7, td + 2 * d)
            r.linear(f"{n}.fc1", d, hid, t)
            r.op(ELEMENTWISE, f"{n}.gelu", t * hid, 8)
            r.linear(f"{n}.fc2", hid, d, t)
            r.op(ELEMENTWISE, f"{n}.add2", td, 1, 2 * td)
        r.op(NORM, "norm", td, 7, td + 2 * d)
        r.op(POOL, "pool", d, t, td)
        r.linear("head", d, self.num_classes)
        return r.workload({"network": "transformer"})

    def build(self, arch: Architecture) -> Any:
        from nas_edge.spaces._nn import build_transformer

        return build_transformer(self, self._own(arch, TransformerArchitecture))

    def example_input(self, batch: int = 1) -> Any:
        import torch

        if self.vocab_size is not None:
            return torch.zeros((batch, *self.input_shape), dtype=torch.long)
        return torch.zeros((batch, *self.input_shape))

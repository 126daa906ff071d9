"""Transformer encoders: a BERT-style encoder (Devlin et al., 2019) and a Vision Transformer (Dosovitskiy et
al., 2021). Attention is either PyTorch's fused ``scaled_dot_product_attention`` or written out as
``softmax(q k^T / sqrt(d)) v`` (``attention="explicit"``); both export to the same ONNX MatMul/Softmax pattern.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    """Multi-head self-attention with separate query/key/value projections (BERT) or one fused ``qkv``
    projection (ViT); the parameter count is the same."""

    def __init__(self, dim: int, heads: int, *, fused_qkv: bool = False, attention: str = "sdpa") -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not a multiple of heads {heads}")
        if attention not in ("sdpa", "explicit"):
            raise ValueError("attention must be 'sdpa' or 'explicit'")
        self.heads, self.head_dim, self.attention = heads, dim // heads, attention
        if fused_qkv:
            self.qkv = nn.Linear(dim, 3 * dim)
        else:
            self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        b, s, _ = t.shape
        return t.reshape(b, s, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        if hasattr(self, "qkv"):
            q, k, v = self.qkv(x).reshape(b, s, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        else:
            q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        if self.attention == "sdpa":
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)
            out = torch.matmul(scores.softmax(dim=-1), v)
        return self.proj(out.transpose(1, 2).reshape(b, s, d))


class EncoderBlock(nn.Module):
    """Attention and a GELU MLP, each with a residual; post-norm (BERT) or pre-norm (ViT)."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, *, pre_norm: bool, fused_qkv: bool,
                 attention: str = "sdpa", eps: float = 1e-12) -> None:
        super().__init__()
        self.pre_norm = pre_norm
        self.attn = SelfAttention(dim, heads, fused_qkv=fused_qkv, attention=attention)
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=eps), nn.LayerNorm(dim, eps=eps)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))
        x = self.norm1(x + self.attn(x))
        return self.norm2(x + self.mlp(x))


class BertEncoder(nn.Module):
    """BERT: word + position + token-type embeddings, post-norm encoder blocks, tanh pooler on [CLS].

    ``forward(input_ids)`` (token type 0 everywhere, no padding mask) returns ``(sequence, pooled)``.
    """

    def __init__(self, *, vocab_size: int = 30522, layers: int = 12, hidden: int = 768, heads: int = 12,
                 intermediate: int | None = None, max_positions: int = 512, type_vocab: int = 2,
                 attention: str = "sdpa") -> None:
        super().__init__()
        self.word = nn.Embedding(vocab_size, hidden)
        self.position = nn.Embedding(max_positions, hidden)
        self.token_type = nn.Embedding(type_vocab, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.blocks = nn.ModuleList(
            EncoderBlock(hidden, heads, intermediate or 4 * hidden, pre_norm=False, fused_qkv=False,
                         attention=attention) for _ in range(layers))
        self.pooler = nn.Linear(hidden, hidden)

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = input_ids.shape[1]
        pos = torch.arange(s, device=input_ids.device)
        x = self.word(input_ids) + self.position(pos)[None] + self.token_type.weight[0]
        x = self.norm(x)
        for block in self.blocks:
            x = block(x)
        return x, torch.tanh(self.pooler(x[:, 0]))


class VisionTransformer(nn.Module):
    """ViT: 16x16 patch embedding (a strided conv), [CLS] token, learned positions, pre-norm blocks, linear
    head on the final [CLS] token."""

    def __init__(self, *, image_size: int = 224, patch: int = 16, dim: int = 768, depth: int = 12,
                 heads: int = 12, mlp_ratio: int = 4, num_classes: int = 1000, in_channels: int = 3,
                 attention: str = "sdpa") -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(in_channels, dim, patch, patch)
        tokens = (image_size // patch) ** 2 + 1
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.Sequential(*(
            EncoderBlock(dim, heads, dim * mlp_ratio, pre_norm=True, fused_qkv=True, attention=attention,
                         eps=1e-6) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def bert(**kwargs: object) -> BertEncoder:
    return BertEncoder(**kwargs)  # type: ignore[arg-type]


def vit(**kwargs: object) -> VisionTransformer:
    return VisionTransformer(**kwargs)  # type: ignore[arg-type]

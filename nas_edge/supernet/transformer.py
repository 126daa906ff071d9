"""The transformer space's supernet: elastic depth, embedding width, heads and MLP ratio with weight
entanglement (AutoFormer, HAT): every layer holds one weight at the largest width, and a subnet of width
``d`` takes its first ``d`` features (the first ``d`` of each of the query, key and value projections), a
subnet of depth ``L`` the first ``L`` blocks. Heads only regroup those features (no weights of their own).

On images each patch size has its own patch embedding and position table (a different kernel and a different
number of tokens), both entangled over the width; token sequences share one embedding table.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from nas_edge.spaces.base import Architecture
from nas_edge.spaces.transformer import TransformerArchitecture, TransformerSpace
from nas_edge.supernet.base import Supernet, register_supernet
from nas_edge.supernet.elastic import ElasticConv, ElasticLinear, ElasticNorm, State, prefixed


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.dim = dim
        self.norm1 = ElasticNorm(dim)
        self.qkv = ElasticLinear(dim, 3 * dim)
        self.proj = ElasticLinear(dim, dim)
        self.norm2 = ElasticNorm(dim)
        self.fc1 = ElasticLinear(dim, hidden)
        self.fc2 = ElasticLinear(hidden, dim)

    def state(self, d: int, hidden: int) -> State:
        qkv_w = self.qkv.weight.view(3, self.dim, self.dim)[:, :d, :d].reshape(3 * d, d)
        qkv_b = self.qkv.bias.view(3, self.dim)[:, :d].reshape(3 * d)
        return {**prefixed("norm1", self.norm1.state(d)), "attn.qkv.weight": qkv_w, "attn.qkv.bias": qkv_b,
                **prefixed("attn.proj", self.proj.state(d, d)), **prefixed("norm2", self.norm2.state(d)),
                **prefixed("fc1", self.fc1.state(hidden, d)), **prefixed("fc2", self.fc2.state(d, hidden))}


@register_supernet
class TransformerSupernet(Supernet):
    space_name = "transformer"
    choice_params = ("vit_patch",)
    space: TransformerSpace

    def __init__(self, space: TransformerSpace) -> None:
        super().__init__(space)
        dim = max(space.embed_dims)
        self.embed: nn.Embedding | nn.ModuleDict
        if space.vocab_size is not None:
            self.embed = nn.Embedding(space.vocab_size, dim)
            self.pos = nn.ParameterDict({"0": self._pos(space.input_shape[0], dim)})
        else:
            channels, h, w = space.input_shape
            self.embed = nn.ModuleDict({str(p): ElasticConv(channels, dim, (p,), bias=True)
                                        for p in space.patch_sizes})
            self.pos = nn.ParameterDict({str(p): self._pos((h // p) * (w // p), dim) for p in space.patch_sizes})
        self.blocks = nn.ModuleList(EncoderBlock(dim, dim * max(space.mlp_ratios)) for _ in range(space.max_depth))
        self.norm = ElasticNorm(dim)
        self.head = ElasticLinear(dim, space.num_classes)

    @staticmethod
    def _pos(tokens: int, dim: int) -> nn.Parameter:
        pos = nn.Parameter(torch.zeros(1, tokens, dim))
        nn.init.trunc_normal_(pos, std=0.02)
        return pos

    def subnet_state(self, arch: Architecture) -> State:
        a = self.space._own(arch, TransformerArchitecture)
        d = a.embed_dim
        if isinstance(self.embed, nn.Embedding):
            state: State = {"embed.weight": self.embed.weight[:, :d], "pos": self.pos["0"][..., :d]}
        else:
            conv = self.embed[str(a.patch_size)]
            assert isinstance(conv, ElasticConv) and conv.bias is not None
            state = {"embed.weight": conv.weight_for(d, conv.weight.shape[1], a.patch_size),
                     "embed.bias": conv.bias[:d], "pos": self.pos[str(a.patch_size)][..., :d]}
        for i in range(a.depth):
            block = cast(EncoderBlock, self.blocks[i])
            state.update(prefixed(f"blocks.{i}", block.state(d, d * a.mlp_ratio)))
        state.update(prefixed("norm", self.norm.state(d)))
        state.update(prefixed("head", self.head.state(self.space.num_classes, d)))
        return state

"""torch modules of the spaces. Imported only by ``build()``: the rest of ``nas_edge.spaces`` needs no torch."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from nas_edge.spaces.cnn import Block, CNNArchitecture, CNNSpace
    from nas_edge.spaces.transformer import TransformerArchitecture, TransformerSpace


class Resize(nn.Module):
    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    mods: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                             nn.BatchNorm2d(cout)]
    if act:
        mods.append(nn.ReLU())
    return nn.Sequential(*mods)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.reduce = nn.Linear(channels, squeeze)
        self.act = nn.ReLU()
        self.expand = nn.Linear(squeeze, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3))
        s = torch.sigmoid(self.expand(self.act(self.reduce(s))))
        return x * s[:, :, None, None]


class CNNBlock(nn.Module):
    """mbconv, dense or residual block (see :mod:`nas_edge.spaces.cnn`)."""

    def __init__(self, b: Block, se_channels: int) -> None:
        super().__init__()
        self.kind, self.skip = b.block, b.skip
        k, s = b.kernel, b.stride
        self.shortcut: nn.Module | None = None
        if b.block == "mbconv":
            mid = b.mid
            body: list[nn.Module] = [conv_bn(b.cin, mid, 1)] if b.expand != 1 else []
            body.append(conv_bn(mid, mid, k, s, groups=mid))
            if b.se:
                body.append(SqueezeExcite(mid, se_channels))
            body.append(conv_bn(mid, b.cout, 1, act=False))
        elif b.block == "dense":
            body = [conv_bn(b.cin, b.cout, k, s)]
            if b.se:
                body.append(SqueezeExcite(b.cout, se_channels))
            self.skip = False
        else:
            body = [conv_bn(b.cin, b.cout, k, s), conv_bn(b.cout, b.cout, k, act=False)]
            if b.se:
                body.append(SqueezeExcite(b.cout, se_channels))
            if not b.skip:
                self.shortcut = conv_bn(b.cin, b.cout, 1, s, act=False)
        self.body = nn.Sequential(*body)
        self.act = nn.ReLU() if b.block == "residual" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.kind == "residual":
            sc = x if self.shortcut is None else self.shortcut(x)
            return self.act(out + sc)  # type: ignore[misc]
        return out + x if self.skip else out


class CNN(nn.Module):
    def __init__(self, space: CNNSpace, arch: CNNArchitecture) -> None:
        from nas_edge.spaces.cnn import se_channels

        super().__init__()
        c_in, h_in, w_in = space.input_shape
        size = space.input_size(arch)
        self.resize = Resize(size) if size != (h_in, w_in) else nn.Identity()
        self.stem = conv_bn(c_in, arch.stem_width, 3, space.stem_stride)
        blocks = space.blocks(arch)
        self.blocks = nn.Sequential(*(CNNBlock(b, se_channels(b.mid if b.block == "mbconv" else b.cout))
                                      for b in blocks))
        last = blocks[-1].cout if blocks else arch.stem_width
        self.classifier = nn.Linear(last, space.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(self.resize(x)))
        return self.classifier(x.mean(dim=(2, 3)))


def build_cnn(space: CNNSpace, arch: CNNArchitecture) -> CNN:
    return CNN(space, arch)


class Attention(nn.Module):
    """Multi-head self-attention written out (QK^T and A.V as explicit matmuls, visible to tracers)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.scale = heads, 1.0 / math.sqrt(dim // heads)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * self.scale, dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, t, d)
        return self.proj(out)


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(self.act(self.fc1(self.norm2(x))))


class Transformer(nn.Module):
    """ViT-style pre-norm encoder on image patches or on token ids; mean pooling, linear head."""

    def __init__(self, space: TransformerSpace, arch: TransformerArchitecture) -> None:
        super().__init__()
        d = arch.embed_dim
        self.tokens_mode = space.vocab_size is not None
        if self.tokens_mode:
            self.embed: nn.Module = nn.Embedding(space.vocab_size, d)  # type: ignore[arg-type]
        else:
            self.embed = nn.Conv2d(space.input_shape[0], d, arch.patch_size, arch.patch_size)
        self.pos = nn.Parameter(torch.zeros(1, space.tokens(arch), d))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.Sequential(*(EncoderBlock(d, arch.heads, d * arch.mlp_ratio) for _ in range(arch.depth)))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, space.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x.long()) if self.tokens_mode else self.embed(x).flatten(2).transpose(1, 2)
        x = self.blocks(x + self.pos)
        return self.head(self.norm(x).mean(dim=1))


def build_transformer(space: TransformerSpace, arch: TransformerArchitecture) -> Transformer:
    return Transformer(space, arch)

"""torch modules of the ``nb201`` space (imported only by ``build()``; see :mod:`nas_edge.spaces.nb201`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from nas_edge.spaces.nb201 import EDGES, live_inputs

if TYPE_CHECKING:
    from nas_edge.spaces.nb201 import NB201Architecture, NB201Space


def relu_conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """NAS-Bench-201's ``ReLUConvBN`` with affine batch norm (the convolution has no bias)."""
    return nn.Sequential(nn.ReLU(), nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(cout))


def edge_module(op: str, c: int) -> nn.Module | None:
    if op == "nor_conv_1x1":
        return relu_conv_bn(c, c, 1)
    if op == "nor_conv_3x3":
        return relu_conv_bn(c, c, 3)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if op == "skip_connect":
        return nn.Identity()
    return None  # none


class Cell(nn.Module):
    """Every edge that is not ``none`` holds its module (and weights); ``forward`` runs the live ones only."""

    def __init__(self, ops: tuple[str, ...], channels: int) -> None:
        super().__init__()
        self.layers = nn.ModuleDict()
        for (j, i), op in zip(EDGES, ops, strict=True):
            mod = edge_module(op, channels)
            if mod is not None:
                self.layers[f"e{j}{i}"] = mod
        self.plan = live_inputs(ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for j, ins in self.plan:
            terms = [self.layers[f"e{j}{i}"](nodes[i]) for i in ins]
            out = terms[0]
            for t in terms[1:]:
                out = out + t
            nodes[j] = out
        out3 = nodes[3]
        return x.mul(0.0) if out3 is None else out3


class ResNetBasicBlock(nn.Module):
    """The stride-2 block between stages: two ReLU-conv-BN and a shortcut of 2x2 average pooling + 1x1 conv."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv_a = relu_conv_bn(cin, cout, 3, 2)
        self.conv_b = relu_conv_bn(cout, cout, 3)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        block = self.conv_b(self.conv_a(x))
        return self.downsample(x) + block


class NB201Network(nn.Module):
    """The macro skeleton around ``make_cell(channels)`` (the space's :class:`Cell`, or a super-network's)."""

    def __init__(self, space: NB201Space, make_cell: Callable[[int], nn.Module]) -> None:
        super().__init__()
        c1 = space.channels
        self.stem = nn.Sequential(nn.Conv2d(space.input_shape[0], c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1))
        cells: list[nn.Module] = []
        c = c1
        for s, c_s in enumerate(space.stage_channels()):
            if s:
                cells.append(ResNetBasicBlock(c, c_s))
                c = c_s
            cells.extend(make_cell(c) for _ in range(space.cells))
        self.cells = nn.Sequential(*cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())
        self.classifier = nn.Linear(c, space.num_classes)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """After the last cell: batch norm, ReLU, global average pooling, the classifier."""
        return self.classifier(self.lastact(x).mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.cells(self.stem(x)))


def build_nb201(space: NB201Space, arch: NB201Architecture) -> NB201Network:
    return NB201Network(space, lambda c: Cell(arch.ops, c))

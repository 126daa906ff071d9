"""The cnn space's supernet: elastic resolution, stem width, and per stage block type, depth, width, kernel,
expansion and squeeze-excite.

Each stage holds ``max_depth`` block positions; each position holds one set of weights per block type
(``mbconv``, ``dense``, ``residual``: their layers differ, so they share nothing), each at the largest width,
expansion and kernel. A subnet of depth ``d`` runs the first ``d`` positions of a stage; widths take the first
channels; an mbconv's expanded channels are the first ``cin x expand`` (``expand = 1`` runs the depthwise
convolution on the block input itself, as the space does); kernels 5 and 3 come from the 7x7 kernel by OFA's
kernel transformation. The resolution needs no weights (the space resizes the input).
"""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from nas_edge.spaces.base import Architecture
from nas_edge.spaces.cnn import EXPANSIONS, KERNELS, Block, CNNArchitecture, CNNSpace
from nas_edge.supernet.base import Supernet, register_supernet
from nas_edge.supernet.elastic import ConvBN, ElasticLinear, SqueezeExcite, State, prefixed


def _body(prefix: str, parts: list[State]) -> State:
    """``prefix.body.i.*`` for the i-th part of a block's ``body`` (the space's ``nn.Sequential``)."""
    return {k: v for i, part in enumerate(parts) for k, v in prefixed(f"{prefix}.body.{i}", part).items()}


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * max(EXPANSIONS)
        self.expand = ConvBN(cin, mid)
        self.dw = ConvBN(mid, mid, KERNELS, depthwise=True)
        self.se = SqueezeExcite(mid)
        self.project = ConvBN(mid, cout)

    def state(self, prefix: str, b: Block) -> State:
        parts = [self.expand.state(b.mid, b.cin)] if b.expand != 1 else []
        parts.append(self.dw.state(b.mid, 1, b.kernel))
        if b.se:
            parts.append(self.se.state(b.mid))
        parts.append(self.project.state(b.cout, b.mid))
        return _body(prefix, parts)


class Dense(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = ConvBN(cin, cout, KERNELS)
        self.se = SqueezeExcite(cout)

    def state(self, prefix: str, b: Block) -> State:
        parts = [self.conv.state(b.cout, b.cin, b.kernel)]
        if b.se:
            parts.append(self.se.state(b.cout))
        return _body(prefix, parts)


class Residual(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = ConvBN(cin, cout, KERNELS)
        self.conv2 = ConvBN(cout, cout, KERNELS)
        self.se = SqueezeExcite(cout)
        self.shortcut = ConvBN(cin, cout)

    def state(self, prefix: str, b: Block) -> State:
        parts = [self.conv1.state(b.cout, b.cin, b.kernel), self.conv2.state(b.cout, b.cout, b.kernel)]
        if b.se:
            parts.append(self.se.state(b.cout))
        out = _body(prefix, parts)
        if not b.skip:
            out.update(prefixed(f"{prefix}.shortcut", self.shortcut.state(b.cout, b.cin)))
        return out


@register_supernet
class CNNSupernet(Supernet):
    space_name: ClassVar[str] = "cnn"
    space: CNNSpace

    def __init__(self, space: CNNSpace) -> None:
        super().__init__(space)
        stem = max(space.stem_widths)
        self.stem = ConvBN(space.input_shape[0], stem, (3,))
        self.stages = nn.ModuleList()
        cin = stem
        for widths in space.widths:
            w = max(widths)
            self.stages.append(nn.ModuleList(
                nn.ModuleDict({"mbconv": MBConv(c, w), "dense": Dense(c, w), "residual": Residual(c, w)})
                for c in [cin] + [w] * (space.max_depth - 1)))
            cin = w
        self.classifier = ElasticLinear(cin, space.num_classes)

    def subnet_state(self, arch: Architecture) -> State:
        a = self.space._own(arch, CNNArchitecture)
        state = prefixed("stem", self.stem.state(a.stem_width, self.space.input_shape[0], 3))
        blocks = iter(self.space.blocks(a))
        n = 0
        for stage, positions in zip(a.stages, self.stages, strict=True):
            for j in range(stage.depth):
                b = next(blocks)
                state.update(positions[j][b.block].state(f"blocks.{n}", b))
                n += 1
        state.update(prefixed("classifier", self.classifier.state(self.space.num_classes, a.stages[-1].width)))
        return state

"""The cnn space's supernet: elastic resolution, stem width, and per stage block type, depth, width, kernel,
expansion and squeeze-excite.

Each stage holds ``max_depth`` block positions; each position holds one set of weights per block type
(``mbconv``, ``dense``, ``residual``: their layers differ, so they share nothing), each at the largest width,
expansion and kernel. A subnet of depth ``d`` runs the first ``d`` positions of a stage; widths take the first
channels; an mbconv's expanded channels are the first ``cin x expand`` (``expand = 1``, which runs the
depthwise convolution on the block input itself, has weights of its own); kernels 5 and 3 come from the 7x7
kernel by OFA's kernel transformation. The resolution needs no weights (the space resizes the input).
"""

from __future__ import annotations

from typing import ClassVar, cast

from torch import nn

from nas_edge.spaces.base import Architecture
from nas_edge.spaces.cnn import EXPANSIONS, KERNELS, Block, CNNArchitecture, CNNSpace
from nas_edge.supernet.base import Supernet, register_supernet
from nas_edge.supernet.elastic import ConvBN, ElasticLinear, SqueezeExcite, State, prefixed


def _body(prefix: str, parts: list[State]) -> State:
    """``prefix.body.i.*`` for the i-th part of a block's ``body`` (the space's ``nn.Sequential``)."""
    return {k: v for i, part in enumerate(parts) for k, v in prefixed(f"{prefix}.body.{i}", part).items()}


class _Depthwise(nn.Module):
    """Depthwise k x k, squeeze-excite and 1x1 projection of an mbconv block over ``mid`` channels."""

    def __init__(self, mid: int, cout: int) -> None:
        super().__init__()
        self.dw = ConvBN(mid, mid, KERNELS, depthwise=True)
        self.se = SqueezeExcite(mid)
        self.project = ConvBN(mid, cout)

    def state(self, b: Block) -> list[State]:
        parts = [self.dw.state(b.mid, 1, b.kernel)]
        if b.se:
            parts.append(self.se.state(b.mid))
        return [*parts, self.project.state(b.cout, b.mid)]


class MBConv(nn.Module):
    """Expansions above 1 share one set of weights (the first ``cin x expand`` expanded channels); expansion 1,
    whose depthwise convolution runs on the block input itself, has its own."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * max(EXPANSIONS)
        self.expand = ConvBN(cin, mid)
        self.expanded = _Depthwise(mid, cout)
        self.plain = _Depthwise(cin, cout)

    def state(self, prefix: str, b: Block) -> State:
        if b.expand == 1:
            return _body(prefix, self.plain.state(b))
        return _body(prefix, [self.expand.state(b.mid, b.cin), *self.expanded.state(b)])


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
        for i, stage in enumerate(a.stages):
            positions = cast(nn.ModuleList, self.stages[i])
            for j in range(stage.depth):
                b = next(blocks)
                block = cast(MBConv | Dense | Residual, cast(nn.ModuleDict, positions[j])[b.block])
                state.update(block.state(f"blocks.{n}", b))
                n += 1
        state.update(prefixed("classifier", self.classifier.state(self.space.num_classes, a.stages[-1].width)))
        return state

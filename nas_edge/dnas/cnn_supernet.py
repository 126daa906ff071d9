"""The torch super-network of the relaxed ``cnn`` space: one path per step, weights shared by slicing.

Each block position (stage ``i``, block ``j``) holds the weights of the three block types at their largest
shape (widest channels, largest expansion, 7x7 kernels); a path takes the first channels and the centre of the
kernel (as Once-for-All shares weights). The path itself is the space's own unrolled network
(:meth:`CNNSpace.blocks <nas_edge.spaces.cnn.CNNSpace.blocks>`), so skips, expansions and squeeze-excite
widths follow the space's rules. Batch norm always uses the batch's statistics (no running averages, as in
DARTS): every step runs another path.

``forward(x, choice)``: ``choice`` maps every factor to a choice index.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from nas_edge.spaces.cnn import Block, CNNArchitecture, se_channels

if TYPE_CHECKING:
    from nas_edge.dnas.cnn import CNNRelaxation

_BLOCK_NAME = re.compile(r"^s(\d+)\.b(\d+)$")


def _uniform(shape: tuple[int, ...], fan_in: int) -> nn.Parameter:
    """torch's default initialisation of convolutions and linear layers, at the largest shape."""
    bound = 1.0 / math.sqrt(max(1, fan_in))
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


class SlicedConvBN(nn.Module):
    """Convolution (no bias) + batch norm (batch statistics) + optional ReLU over the first channels."""

    def __init__(self, cin: int, cout: int, kernel: int, *, depthwise: bool = False) -> None:
        super().__init__()
        self.depthwise, self.kmax = depthwise, kernel
        per_out = 1 if depthwise else cin
        self.weight = _uniform((cout, per_out, kernel, kernel), per_out * kernel * kernel)
        self.bn_weight = nn.Parameter(torch.ones(cout))
        self.bn_bias = nn.Parameter(torch.zeros(cout))

    def weights(self, cin: int, cout: int, kernel: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The path's convolution weight and batch-norm scale and shift."""
        w = self.weight[:cout] if self.depthwise else self.weight[:cout, :cin]
        if kernel != self.kmax:
            lo = (self.kmax - kernel) // 2
            w = w[..., lo:lo + kernel, lo:lo + kernel]
        return w, self.bn_weight[:cout], self.bn_bias[:cout]

    def forward(self, x: torch.Tensor, cout: int, kernel: int, stride: int = 1, act: bool = True) -> torch.Tensor:
        cin = x.shape[1]
        w, scale, shift = self.weights(cin, cout, kernel)
        y = F.conv2d(x, w, None, stride, kernel // 2, groups=cin if self.depthwise else 1)
        y = F.batch_norm(y, None, None, scale, shift, training=True)
        return F.relu(y) if act else y


class SlicedLinear(nn.Module):
    def __init__(self, fin: int, fout: int) -> None:
        super().__init__()
        self.weight = _uniform((fout, fin), fin)
        self.bias = _uniform((fout,), fin)

    def weights(self, fin: int, fout: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.weight[:fout, :fin], self.bias[:fout]

    def forward(self, x: torch.Tensor, fout: int) -> torch.Tensor:
        return F.linear(x, *self.weights(x.shape[-1], fout))


class SlicedSE(nn.Module):
    """Squeeze-excite over the first ``c`` channels (bottleneck ``se_channels(c)``, as the space builds it)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        squeeze = se_channels(channels)
        self.reduce = SlicedLinear(channels, squeeze)
        self.expand = SlicedLinear(squeeze, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        s = F.relu(self.reduce(x.mean(dim=(2, 3)), se_channels(c)))
        return x * torch.sigmoid(self.expand(s, c))[:, :, None, None]


class SuperBlock(nn.Module):
    """Every block type at one position; ``forward(x, block)`` runs the space's ``Block`` description."""

    def __init__(self, cin: int, cout: int, kernel: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.mb_expand = SlicedConvBN(cin, mid, 1)
        self.mb_dw = SlicedConvBN(mid, mid, kernel, depthwise=True)
        self.mb_se = SlicedSE(mid)
        self.mb_project = SlicedConvBN(mid, cout, 1)
        self.dense = SlicedConvBN(cin, cout, kernel)
        self.dense_se = SlicedSE(cout)
        self.res_conv1 = SlicedConvBN(cin, cout, kernel)
        self.res_conv2 = SlicedConvBN(cout, cout, kernel)
        self.res_se = SlicedSE(cout)
        self.res_shortcut = SlicedConvBN(cin, cout, 1)

    def forward(self, x: torch.Tensor, b: Block) -> torch.Tensor:
        k, s = b.kernel, b.stride
        if b.block == "mbconv":
            h = self.mb_expand(x, b.mid, 1) if b.expand != 1 else x
            h = self.mb_dw(h, b.mid, k, s)
            if b.se:
                h = self.mb_se(h)
            h = self.mb_project(h, b.cout, 1, act=False)
            return h + x if b.skip else h
        if b.block == "dense":
            h = self.dense(x, b.cout, k, s)
            return self.dense_se(h) if b.se else h
        h = self.res_conv2(self.res_conv1(x, b.cout, k, s), b.cout, k, act=False)
        if b.se:
            h = self.res_se(h)
        sc = x if b.skip else self.res_shortcut(x, b.cout, 1, s, act=False)
        return F.relu(h + sc)


class CNNSuperNet(nn.Module):
    def __init__(self, relaxation: CNNRelaxation) -> None:
        super().__init__()
        self.relaxation = relaxation
        space = relaxation.cnn
        choices = {f.name: f.choices for f in relaxation.factors}
        c_in = space.input_shape[0]
        cin = max(choices["cnn_stem_width"])
        self.stem = SlicedConvBN(c_in, cin, 3)
        self.stages: list[list[SuperBlock]] = []
        for i in range(space.n_stages):
            width = max(choices[f"cnn_s{i}_width"])
            kernel = max(choices[f"cnn_s{i}_kernel"])
            expand = max(choices[f"cnn_s{i}_expand"])
            depth = max(choices[f"cnn_s{i}_depth"])
            blocks = [SuperBlock(cin if j == 0 else width, width, kernel, expand) for j in range(depth)]
            self.add_module(f"stage{i}", nn.ModuleList(blocks))
            self.stages.append(blocks)
            cin = width
        self.classifier = SlicedLinear(cin, space.num_classes)

    def forward(self, x: torch.Tensor, choice: Mapping[str, int]) -> torch.Tensor:
        space = self.relaxation.cnn
        arch = self.relaxation.architecture(choice)
        assert isinstance(arch, CNNArchitecture)
        size = space.input_size(arch)
        if size != tuple(x.shape[-2:]):
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        x = self.stem(x, arch.stem_width, 3, space.stem_stride)
        for b in space.blocks(arch):
            m = _BLOCK_NAME.match(b.name)
            assert m is not None, b.name
            i, j = int(m.group(1)), int(m.group(2))
            x = self.stages[i][j](x, b)
        return self.classifier(x.mean(dim=(2, 3)), space.num_classes)

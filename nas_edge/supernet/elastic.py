"""Shared weights at their largest shape, and the slices a subnet inherits from them.

Every holder keeps one tensor per layer at the largest size any architecture of the space needs; a subnet
takes the first output and input channels (or features), so that all subnets share (entangle) their weights
as in Once-for-All and AutoFormer. A convolution whose kernel is searched holds the largest kernel; a smaller
kernel is its centre, passed through a learned ``k^2 x k^2`` transformation per kernel size (shared by the
channels, identity at the start): OFA's kernel transformation, applied from the largest kernel down.

The holders do not run anything: they hand out tensors named as in the space's own module (``state``), and the
supernet runs that module with them (see :mod:`nas_edge.supernet.base`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from nas_edge.spaces.cnn import se_channels

State = dict[str, torch.Tensor]


def prefixed(prefix: str, state: State) -> State:
    return {f"{prefix}.{k}": v for k, v in state.items()}


def _uniform(shape: Sequence[int], fan_in: int) -> nn.Parameter:
    """torch's default initialisation of Linear / Conv2d weights and biases, ``U(-1/sqrt(fan_in), ...)``."""
    bound = 1.0 / math.sqrt(max(1, fan_in))
    return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))


class ElasticConv(nn.Module):
    """A convolution at ``cout x cin x k_max x k_max`` (``cout x 1`` when depthwise) over ``kernels``."""

    def __init__(self, cin: int, cout: int, kernels: Sequence[int] = (1,), *, depthwise: bool = False,
                 bias: bool = False) -> None:
        super().__init__()
        self.kernels = tuple(sorted({int(k) for k in kernels}, reverse=True))
        k = self.kernels[0]
        per_out = 1 if depthwise else cin
        self.depthwise = depthwise
        self.weight = _uniform((cout, per_out, k, k), per_out * k * k)
        self.bias = _uniform((cout,), per_out * k * k) if bias else None
        self.transforms = nn.ParameterDict({str(s): nn.Parameter(torch.eye(s * s)) for s in self.kernels[1:]})

    def weight_for(self, cout: int, cin: int, kernel: int) -> torch.Tensor:
        """The ``cout x cin x kernel x kernel`` weight (``cout x 1 x ...`` depthwise) of a subnet."""
        if kernel not in self.kernels:
            raise ValueError(f"kernel {kernel} is not one of this layer's kernels {self.kernels}")
        w = self.weight[:cout] if self.depthwise else self.weight[:cout, :cin]
        for k in self.kernels[1:]:
            if k < kernel:
                break
            start = (w.shape[-1] - k) // 2
            w = w[..., start:start + k, start:start + k]
            w = (w.reshape(*w.shape[:2], k * k) @ self.transforms[str(k)]).reshape(*w.shape[:2], k, k)
        return w


class ElasticNorm(nn.Module):
    """The affine part of a batch or layer norm over the first ``c`` channels / features."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def state(self, c: int) -> State:
        return {"weight": self.weight[:c], "bias": self.bias[:c]}


class ElasticLinear(nn.Module):
    def __init__(self, fin: int, fout: int) -> None:
        super().__init__()
        self.weight = _uniform((fout, fin), fin)
        self.bias = _uniform((fout,), fin)

    def state(self, fout: int, fin: int) -> State:
        return {"weight": self.weight[:fout, :fin], "bias": self.bias[:fout]}


class ConvBN(nn.Module):
    """``conv_bn`` of the cnn space: ``Sequential(Conv2d, BatchNorm2d[, ReLU])``."""

    def __init__(self, cin: int, cout: int, kernels: Sequence[int] = (1,), *, depthwise: bool = False) -> None:
        super().__init__()
        self.conv = ElasticConv(cin, cout, kernels, depthwise=depthwise)
        self.bn = ElasticNorm(cout)

    def state(self, cout: int, cin: int, kernel: int = 1) -> State:
        return {"0.weight": self.conv.weight_for(cout, cin, kernel), **prefixed("1", self.bn.state(cout))}


class SqueezeExcite(nn.Module):
    """The cnn space's squeeze-excite over the first ``c`` channels (bottleneck ``se_channels(c)``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        squeeze = se_channels(channels)
        self.reduce = ElasticLinear(channels, squeeze)
        self.expand = ElasticLinear(squeeze, channels)

    def state(self, c: int) -> State:
        s = se_channels(c)
        return {**prefixed("reduce", self.reduce.state(s, c)), **prefixed("expand", self.expand.state(c, s))}

"""CNN space: MobileNetV2/MCUNet-style inverted residual stages competing with dense and residual blocks.

A network is: optional resize to the searched input resolution, a 3x3 stem, ``stages`` stages of
``depth`` blocks each (the first block of a stage strides), global average pooling and a linear classifier.
Per stage the search picks the block type — ``mbconv`` (1x1 expand, depthwise k x k, optional
squeeze-excite, 1x1 project, skip when shapes match), ``dense`` (one k x k convolution) or ``residual``
(two k x k convolutions with a skip, ResNet's basic block) — and its depth, width, kernel (3/5/7),
expansion (mbconv only) and squeeze-excite. Crossbar-friendly dense convolutions so compete with
depthwise ones, whose block-diagonal weights waste crossbar columns.

Parameters (all suggested in every trial, whatever the block type, so the space is static):
``cnn_resolution``, ``cnn_stem_width``, and per stage ``i``: ``cnn_s{i}_block``, ``cnn_s{i}_depth``,
``cnn_s{i}_width``, ``cnn_s{i}_kernel``, ``cnn_s{i}_expand``, ``cnn_s{i}_se``.

The workload describes inference, with the conventions of the torch and ONNX adapters
(:mod:`nas_edge.workload._rows`), so that ``layers(arch)`` equals ``Workload.from_torch(build(arch))`` row for
row (the convention of :mod:`nas_edge.workload._fuse`): batch norm and a ReLU right after a convolution or
linear layer are folded into that layer (no rows), and so is the global average pooling when it directly
follows one (the layer then writes ``channels`` outputs); a ReLU after a residual add and the add cost 1 op
per element, sigmoid 5, bilinear resize 7 per output element, average pooling 1 per input element.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

from nas_edge.spaces._rows import ELEMENTWISE, POOL, Chunk, Rows
from nas_edge.spaces.base import Architecture, NetworkSpace, SpaceError, register_space
from nas_edge.workload.table import Workload

BLOCKS = ("mbconv", "dense", "residual")
KERNELS = (3, 5, 7)
EXPANSIONS = (1, 3, 4, 6)


def se_channels(channels: int) -> int:
    """Squeeze-excite bottleneck width."""
    return max(4, channels // 4)


@dataclasses.dataclass(frozen=True)
class Stage:
    block: str
    depth: int
    width: int
    kernel: int
    expand: int
    se: bool


@dataclasses.dataclass(frozen=True)
class Block:
    """One block of the unrolled network (what both ``layers`` and ``build`` walk)."""

    name: str
    block: str
    cin: int
    cout: int
    kernel: int
    stride: int
    expand: int
    se: bool

    @property
    def mid(self) -> int:
        return self.cin * self.expand

    @property
    def skip(self) -> bool:
        return self.stride == 1 and self.cin == self.cout


@dataclasses.dataclass(frozen=True)
class CNNArchitecture(Architecture):
    space: ClassVar[str] = "cnn"

    resolution: int
    stem_width: int
    stages: tuple[Stage, ...]

    @classmethod
    def _decode(cls, fields: dict[str, Any]) -> dict[str, Any]:
        try:
            stages = tuple(s if isinstance(s, Stage) else Stage(**s) for s in fields["stages"])
        except TypeError as exc:
            raise SpaceError(f"CNNArchitecture: bad stage: {exc}") from None
        return {**fields, "stages": stages}

    def summary(self) -> str:
        parts = [f"r{self.resolution} stem{self.stem_width}"]
        for s in self.stages:
            tag = {"mbconv": f"mb{s.expand}", "dense": "conv", "residual": "res"}[s.block]
            parts.append(f"{tag}k{s.kernel}x{s.depth} w{s.width}{' se' if s.se else ''}")
        return " | ".join(parts)


def _default_resolutions(height: int) -> tuple[int, ...]:
    if height <= 16:  # tiny images (digits) gain from upsampling
        return (height, height * 3 // 2, height * 2)
    return tuple(sorted({height // 2, height * 3 // 4, height}))


@register_space
class CNNSpace(NetworkSpace):
    """Inverted-residual / dense / residual CNN stages for images ``(C, H, W)``.

    Options: ``stages`` (number), ``strides`` (per stage), ``max_depth``, ``widths`` (choices per stage),
    ``stem_widths``, ``resolutions`` (input heights; the width scales along), ``stem_stride``.
    """

    name: ClassVar[str] = "cnn"
    arch_type: ClassVar[type[Architecture]] = CNNArchitecture

    def __init__(
        self,
        *,
        input_shape: Sequence[int] = (1, 8, 8),
        num_classes: int = 10,
        stages: int = 3,
        strides: Sequence[int] | None = None,
        max_depth: int = 3,
        widths: Sequence[Sequence[int]] | None = None,
        stem_widths: Sequence[int] = (8, 16, 24, 32),
        resolutions: Sequence[int] | None = None,
        stem_stride: int | None = None,
        vocab_size: int | None = None,
    ) -> None:
        if vocab_size is not None:
            raise SpaceError("the cnn space takes images (C, H, W), not token sequences; use 'transformer'")
        if len(input_shape) != 3 or min(input_shape) < 1:
            raise SpaceError(f"cnn space: input_shape must be (C, H, W), got {tuple(input_shape)}")
        self.input_shape = tuple(int(v) for v in input_shape)
        self.num_classes = int(num_classes)
        self.n_stages = int(stages)
        if self.n_stages < 1 or self.num_classes < 2 or max_depth < 1:
            raise SpaceError("cnn space: need stages >= 1, num_classes >= 2, max_depth >= 1")
        height = self.input_shape[1]
        self.strides = tuple(int(s) for s in (strides or [1] + [2] * (self.n_stages - 1)))
        self.stem_stride = int(stem_stride or (1 if height <= 32 else 2))
        self.max_depth = int(max_depth)
        self.widths = tuple(tuple(int(w) for w in ws) for ws in (
            widths or [[8 * 2**i * m // 2 for m in (2, 3, 4, 6)] for i in range(self.n_stages)]))
        self.stem_widths = tuple(int(w) for w in stem_widths)
        self.resolutions = tuple(int(r) for r in (resolutions or _default_resolutions(height)))
        if len(self.strides) != self.n_stages or len(self.widths) != self.n_stages:
            raise SpaceError(f"cnn space: strides and widths need one entry per stage ({self.n_stages})")
        if min(self.resolutions) < 1 or any(min(ws) < 1 for ws in self.widths) or min(self.stem_widths) < 1:
            raise SpaceError("cnn space: resolutions and widths must be positive")
        self._dists = self._make_distributions()

    def config(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "num_classes": self.num_classes, "stages": self.n_stages,
                "strides": list(self.strides), "max_depth": self.max_depth,
                "widths": [list(w) for w in self.widths], "stem_widths": list(self.stem_widths),
                "resolutions": list(self.resolutions), "stem_stride": self.stem_stride}

    def _make_distributions(self) -> dict[str, BaseDistribution]:
        d: dict[str, BaseDistribution] = {
            "cnn_resolution": CategoricalDistribution(self.resolutions),
            "cnn_stem_width": CategoricalDistribution(self.stem_widths),
        }
        for i in range(self.n_stages):
            d[f"cnn_s{i}_block"] = CategoricalDistribution(BLOCKS)
            d[f"cnn_s{i}_depth"] = IntDistribution(1, self.max_depth)
            d[f"cnn_s{i}_width"] = CategoricalDistribution(self.widths[i])
            d[f"cnn_s{i}_kernel"] = IntDistribution(KERNELS[0], KERNELS[-1], step=2)
            d[f"cnn_s{i}_expand"] = CategoricalDistribution(EXPANSIONS)
            d[f"cnn_s{i}_se"] = CategoricalDistribution((False, True))
        return d

    def distributions(self) -> dict[str, BaseDistribution]:
        return dict(self._dists)

    def from_params(self, params: Mapping[str, Any]) -> CNNArchitecture:
        self._check_params(params)
        stages = tuple(
            Stage(block=str(params[f"cnn_s{i}_block"]), depth=int(params[f"cnn_s{i}_depth"]),
                  width=int(params[f"cnn_s{i}_width"]), kernel=int(params[f"cnn_s{i}_kernel"]),
                  expand=int(params[f"cnn_s{i}_expand"]), se=bool(params[f"cnn_s{i}_se"]))
            for i in range(self.n_stages)
        )
        return CNNArchitecture(resolution=int(params["cnn_resolution"]),
                               stem_width=int(params["cnn_stem_width"]), stages=stages)

    def to_params(self, arch: Architecture) -> dict[str, Any]:
        a = self._own(arch, CNNArchitecture)
        if len(a.stages) != self.n_stages:
            raise SpaceError(f"cnn space has {self.n_stages} stages, the architecture {len(a.stages)}")
        params: dict[str, Any] = {"cnn_resolution": a.resolution, "cnn_stem_width": a.stem_width}
        for i, s in enumerate(a.stages):
            params.update({f"cnn_s{i}_block": s.block, f"cnn_s{i}_depth": s.depth, f"cnn_s{i}_width": s.width,
                           f"cnn_s{i}_kernel": s.kernel, f"cnn_s{i}_expand": s.expand, f"cnn_s{i}_se": s.se})
        self._check_params(params)
        return params

    # -- the unrolled network ------------------------------------------------------------------------

    def input_size(self, arch: CNNArchitecture, input_shape: Sequence[int] | None = None) -> tuple[int, int]:
        """(height, width) the network runs at: the searched resolution, the aspect ratio kept."""
        _, h, w = input_shape or self.input_shape
        return arch.resolution, max(1, round(arch.resolution * w / h))

    def blocks(self, arch: Architecture) -> list[Block]:
        a = self._own(arch, CNNArchitecture)
        out, cin = [], a.stem_width
        for i, (s, stride) in enumerate(zip(a.stages, self.strides, strict=True)):
            out.extend(_stage_blocks(i, s, cin, stride))
            cin = s.width
        return out

    def layers(self, arch: Architecture, input_shape: Sequence[int] | None = None) -> Workload:
        a = self._own(arch, CNNArchitecture)
        c_in, h_in, w_in = input_shape or self.input_shape
        h, w = self.input_size(a, (c_in, h_in, w_in))
        r = Rows()
        if (h, w) != (h_in, w_in):
            r.op(ELEMENTWISE, "resize", c_in * h * w, 7, c_in * h_in * w_in)
        c = a.stem_width
        h, w = r.conv("stem.conv", c_in, c, 3, h, w, self.stem_stride)
        for i, (s, stride) in enumerate(zip(a.stages, self.strides, strict=True)):
            chunk, h, w = _stage_chunk(i, s, c, stride, h, w)
            r.extend(chunk)
            c = s.width
        r.pool("pool", c, h * w, c * h * w)
        r.linear("classifier", c, self.num_classes)
        return r.workload({"network": "cnn"})

    def build(self, arch: Architecture) -> Any:
        from nas_edge.spaces._nn import build_cnn

        a = self._own(arch, CNNArchitecture)
        return build_cnn(self, a)


def _stage_blocks(i: int, s: Stage, cin: int, stride: int) -> list[Block]:
    """The blocks of stage ``i`` (``cin`` input channels, ``stride`` on its first block)."""
    if s.block not in BLOCKS:
        raise SpaceError(f"unknown block type {s.block!r}; expected one of {BLOCKS}")
    return [Block(name=f"s{i}.b{j}", block=s.block, cin=cin if j == 0 else s.width, cout=s.width, kernel=s.kernel,
                  stride=stride if j == 0 else 1, expand=s.expand if s.block == "mbconv" else 1, se=s.se)
            for j in range(s.depth)]


@functools.lru_cache(maxsize=8192)
def _stage_chunk(i: int, s: Stage, cin: int, stride: int, h: int, w: int) -> tuple[Chunk, int, int]:
    """The rows of one stage at one input size, and its output size. Memoised: the networks a search costs
    share most of their stages (a sampler's candidates are mutations of a few parents)."""
    r = Rows()
    for b in _stage_blocks(i, s, cin, stride):
        h, w = _block_rows(r, b, h, w)
    return r.chunk(), h, w


def _se_rows(r: Rows, name: str, c: int, h: int, w: int) -> None:
    sq = se_channels(c)
    r.op(POOL, f"{name}.se.pool", c, h * w, c * h * w)
    r.linear(f"{name}.se.reduce", c, sq)
    r.linear(f"{name}.se.expand", sq, c)
    r.op(ELEMENTWISE, f"{name}.se.sigmoid", c, 5)
    r.op(ELEMENTWISE, f"{name}.se.scale", c * h * w, 1, c * h * w + c)


def _block_rows(r: Rows, b: Block, h: int, w: int) -> tuple[int, int]:
    """Append the rows of one block; return the output size."""
    k, s, n = b.kernel, b.stride, b.name
    if b.block == "mbconv":
        mid = b.mid
        if b.expand != 1:
            r.conv(f"{n}.expand", b.cin, mid, 1, h, w)
        ho, wo = r.conv(f"{n}.dw", mid, mid, k, h, w, s, groups=mid)
        if b.se:
            _se_rows(r, n, mid, ho, wo)
        r.conv(f"{n}.project", mid, b.cout, 1, ho, wo)
        out = b.cout * ho * wo
        if b.skip:
            r.op(ELEMENTWISE, f"{n}.add", out, 1, 2 * out)
    elif b.block == "dense":
        ho, wo = r.conv(f"{n}.conv", b.cin, b.cout, k, h, w, s)
        out = b.cout * ho * wo
        if b.se:
            _se_rows(r, n, b.cout, ho, wo)
    else:  # residual
        ho, wo = r.conv(f"{n}.conv1", b.cin, b.cout, k, h, w, s)
        out = b.cout * ho * wo
        r.conv(f"{n}.conv2", b.cout, b.cout, k, ho, wo)
        if b.se:
            _se_rows(r, n, b.cout, ho, wo)
        if not b.skip:
            r.conv(f"{n}.shortcut", b.cin, b.cout, 1, h, w, s)
        r.op(ELEMENTWISE, f"{n}.add", out, 1, 2 * out)
        r.op(ELEMENTWISE, f"{n}.relu", out)
    return ho, wo

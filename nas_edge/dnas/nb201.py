"""The ``nb201`` space relaxed: the six edges of the NAS-Bench-201 cell are the factors (five operations each).

One term, the whole network, over all six edges: the 5^6 = 15,625 cells are few enough to cost every one, and
nothing smaller would be exact — which edges compute anything depends on the others (a path cut by ``none``
leaves its edges dead, :func:`~nas_edge.spaces.nb201.live_inputs`), and ``skip_connect`` changes which
operations fuse across cells. The expected cost is that one table contracted with the six edges'
probabilities: exact for every cell, multilinear, and its minimum is found in one pass.
"""

from __future__ import annotations

from typing import Any, ClassVar

from nas_edge.dnas.relax import Relaxation, Term, register_relaxation
from nas_edge.spaces.nb201 import PARAM_NAMES


@register_relaxation
class NB201Relaxation(Relaxation):
    space_name: ClassVar[str] = "nb201"

    def terms(self) -> tuple[Term, ...]:
        return (Term("network", PARAM_NAMES),)

    def row_term(self, row_name: str) -> str:
        return "network"

    def supernet(self) -> Any:
        from nas_edge.dnas.nb201_supernet import NB201SuperNet

        return NB201SuperNet(self)

"""The ``cnn`` space relaxed: every parameter is a factor (resolution, stem width, and per stage block type,
kernel, expansion, squeeze-excite, width and depth); any of them can be fixed.

Terms (rows of :meth:`CNNSpace.layers <nas_edge.spaces.cnn.CNNSpace.layers>`, by name):

- ``stem`` (``resize``, ``stem.*``): resolution x stem width;
- ``s{i}`` (``s{i}.*``): resolution x the previous stage's width (the stem's for ``s0``: the input channels)
  x the stage's six choices — the neighbouring width enters as a pairwise term, so the expected cost is exact;
- ``head`` (``pool``, ``classifier``): resolution x the last stage's width.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from nas_edge.dnas.relax import Relaxation, Term, register_relaxation

STAGE_CHOICES = ("block", "kernel", "expand", "se", "width", "depth")
_STAGE_ROW = re.compile(r"^(s\d+)\.")


@register_relaxation
class CNNRelaxation(Relaxation):
    space_name: ClassVar[str] = "cnn"

    def stage_factors(self, i: int) -> tuple[str, ...]:
        return tuple(f"cnn_s{i}_{c}" for c in STAGE_CHOICES)

    def terms(self) -> tuple[Term, ...]:
        n = self.space.n_stages  # type: ignore[attr-defined]
        out = [Term("stem", ("cnn_resolution", "cnn_stem_width"))]
        for i in range(n):
            prev = "cnn_stem_width" if i == 0 else f"cnn_s{i - 1}_width"
            out.append(Term(f"s{i}", ("cnn_resolution", prev, *self.stage_factors(i))))
        out.append(Term("head", ("cnn_resolution", f"cnn_s{n - 1}_width")))
        return tuple(out)

    def row_term(self, row_name: str) -> str:
        if row_name == "resize" or row_name.startswith("stem."):
            return "stem"
        if row_name in ("pool", "classifier"):
            return "head"
        m = _STAGE_ROW.match(row_name)
        return m.group(1) if m else ""

    def canonical(self, term: Term, values: dict[str, Any]) -> dict[str, Any]:
        if term.name.startswith("s") and term.name != "stem":  # the expansion only shapes mbconv blocks
            i = int(term.name[1:])
            if values[f"cnn_s{i}_block"] != "mbconv":
                values = {**values, f"cnn_s{i}_expand": self.by_name[f"cnn_s{i}_expand"].choices[0]}
        return values

    def supernet(self) -> Any:
        from nas_edge.dnas.cnn_supernet import CNNSuperNet

        return CNNSuperNet(self)

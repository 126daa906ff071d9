"""The ``cnn`` space relaxed: every parameter is a factor (resolution, stem width, and per stage block type,
kernel, expansion, squeeze-excite, width and depth); any of them can be fixed.

Terms (rows of :meth:`CNNSpace.layers <nas_edge.spaces.cnn.CNNSpace.layers>`, by name):

- ``stem`` (``resize``, ``stem.*``): resolution x stem width;
- ``s{i}`` (``s{i}.*``): resolution x the previous stage's width (the stem's for ``s0``: the input channels)
  x the stage's six choices — the neighbouring width enters as a pairwise term, so the expected cost is exact;
- ``head`` (``classifier``): the last stage's width. The global pooling before it belongs to the last stage's
  term: under the fusion rule of the rows it joins the last stage's last convolution when that is one (a
  block ending in its projection) and is a row of its own after a residual add, so whether it is a row at
  all depends on the last stage's choices.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from nas_edge.dnas.config import DNASError
from nas_edge.dnas.relax import Relaxation, Term, register_relaxation
from nas_edge.spaces.cnn import CNNSpace

STAGE_CHOICES = ("block", "kernel", "expand", "se", "width", "depth")
_STAGE_ROW = re.compile(r"^(s\d+)\.")


@register_relaxation
class CNNRelaxation(Relaxation):
    space_name: ClassVar[str] = "cnn"

    @property
    def cnn(self) -> CNNSpace:
        """The space, as the cnn space it must be."""
        if not isinstance(self.space, CNNSpace):
            raise DNASError(f"the cnn relaxation needs a CNNSpace, got {type(self.space).__name__}")
        return self.space

    def stage_factors(self, i: int) -> tuple[str, ...]:
        return tuple(f"cnn_s{i}_{c}" for c in STAGE_CHOICES)

    def terms(self) -> tuple[Term, ...]:
        n = self.cnn.n_stages
        out = [Term("stem", ("cnn_resolution", "cnn_stem_width"))]
        for i in range(n):
            prev = "cnn_stem_width" if i == 0 else f"cnn_s{i - 1}_width"
            out.append(Term(f"s{i}", ("cnn_resolution", prev, *self.stage_factors(i))))
        out.append(Term("head", (f"cnn_s{n - 1}_width",)))
        return tuple(out)

    def row_term(self, row_name: str) -> str:
        if row_name == "resize" or row_name.startswith("stem."):
            return "stem"
        if row_name == "classifier":
            return "head"
        if row_name == "pool":
            return f"s{self.cnn.n_stages - 1}"
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

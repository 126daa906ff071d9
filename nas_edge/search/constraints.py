"""Constraints of a search: ``name <= limit`` / ``name >= limit`` on metrics known before training, and the
one feasibility rule every reader of a study uses.

A constraint reaches Optuna as ``trial.set_constraint(str(constraint), violation)``; Optuna stores it and gives
it back as ``FrozenTrial.constraints``. A trial is feasible when every value there is <= 0 — the rule of
``study.best_trials`` — and :func:`is_feasible` / :func:`trial_feasible` are the only implementations of it
in nas-edge (export, report, the hardware result of a trial).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nas_edge.search.errors import SearchError
from nas_edge.search.metrics import CONSTRAINABLE, MODEL_METRICS

CAPACITY_KEY = "fits_on_chip"
"""Constraint key set on every trial: 1 when the network does not fit a chip that has no room to reprogram."""

_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(<=|>=)\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$")


def is_feasible(violations: Mapping[str, float]) -> bool:
    """Feasible when every constraint value is <= 0 (Optuna's convention for ``set_constraint``)."""
    return all(v <= 0 for v in violations.values())


def trial_feasible(trial: Any) -> bool:
    """Whether a (frozen) trial met every constraint it set; a trial without constraints is feasible."""
    return is_feasible(trial.constraints)


@dataclass(frozen=True)
class Constraint:
    """``name <= limit`` or ``name >= limit``. The value Optuna sees is the violation relative to the limit
    (``(value - limit) / |limit|`` for ``<=``), so constraints of different units weigh alike."""

    name: str
    op: str
    limit: float

    def __post_init__(self) -> None:
        self._check_name()
        if self.op not in ("<=", ">="):
            raise SearchError(f"constraint {self.name}: operator must be <= or >=, got {self.op!r}")
        if not math.isfinite(self.limit):
            raise SearchError(f"constraint {self.name}: the limit must be a finite number")

    def _check_name(self) -> None:
        """Refuse a name this kind of constraint cannot bound (a subclass may bound other names)."""
        if self.name not in CONSTRAINABLE:
            hint = " (it is only known after training; use it as an objective)" if self.name in MODEL_METRICS else ""
            raise SearchError(f"unknown constraint name {self.name!r}{hint}; known: {', '.join(sorted(CONSTRAINABLE))}")

    def violation(self, value: Any) -> Any:
        """``(value - limit) / |limit|`` for ``<=`` (negated for ``>=``; not divided for a limit of 0): a
        float, or an array of them for an array of values."""
        diff = value - self.limit if self.op == "<=" else self.limit - value
        return diff / abs(self.limit) if self.limit != 0 else diff

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.limit:g}"


def split_constraint(text: str) -> tuple[str, str, float]:
    """``"area_mm2<=50"`` -> ``("area_mm2", "<=", 50.0)``: the syntax only (any identifier as the name)."""
    m = _CONSTRAINT_RE.match(text)
    if not m:
        raise SearchError(f"malformed constraint {text!r}; expected NAME<=NUMBER or NAME>=NUMBER, "
                          "e.g. area_mm2<=50")
    return m.group(1), m.group(2), float(m.group(3))


def parse_constraint(text: str) -> Constraint:
    """``"area_mm2<=50"`` -> :class:`Constraint`."""
    return Constraint(*split_constraint(text))


ConstraintSpec = Mapping[str, Any] | Sequence["str | Constraint"] | None


def parse_constraints(spec: ConstraintSpec) -> tuple[Constraint, ...]:
    """A mapping ``{"area_mm2": 100}`` (<=) or ``{"tops_per_w": ">=5"}``, or a list of strings/constraints."""
    if not spec:
        return ()
    out: list[Constraint] = []
    if isinstance(spec, Mapping):
        for name, limit in spec.items():
            if isinstance(limit, str):
                out.append(parse_constraint(f"{name}{limit}" if limit.lstrip()[:2] in ("<=", ">=")
                                            else f"{name}<={limit}"))
            elif isinstance(limit, (int, float)) and not isinstance(limit, bool):
                out.append(Constraint(str(name), "<=", float(limit)))
            else:
                raise SearchError(f"constraint {name!r}: expected a number or '<=N' / '>=N', got {limit!r}")
    elif isinstance(spec, str):
        out.append(parse_constraint(spec))
    else:
        out.extend(c if isinstance(c, Constraint) else parse_constraint(str(c)) for c in spec)
    keys = [f"{c.name}{c.op}" for c in out]
    if len(set(keys)) != len(keys):
        raise SearchError(f"duplicate constraints: {', '.join(str(c) for c in out)}")
    return tuple(out)

"""Reading trials the way every Optuna version and tool wrote them."""

from __future__ import annotations

from typing import Any

LEGACY_CONSTRAINTS_KEY = "constraints"
"""The system attribute holding a trial's constraint values as one list: what Optuna before 5.0 wrote and what
optuna-dashboard still reads for feasibility. Optuna 5 writes one ``constraints:<name>`` attribute per
``trial.set_constraint`` and reads the list too, as keys ``"0"``, ``"1"``, ..."""


def named_constraints(trial: Any) -> dict[str, float]:
    """``trial.constraints`` without the legacy list's ``"0"``, ``"1"``... entries when the same values are also
    stored by name (nas-edge writes both: the names for Optuna, the list for optuna-dashboard)."""
    cons = dict(trial.constraints)
    legacy = trial.system_attrs.get(LEGACY_CONSTRAINTS_KEY)
    if isinstance(legacy, (list, tuple)) and len(cons) > len(legacy):
        for i in range(len(legacy)):
            cons.pop(str(i), None)
    return cons

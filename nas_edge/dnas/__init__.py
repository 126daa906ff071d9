"""Differentiable hardware-aware search (DNAS): the IMC cost as an exact, differentiable penalty.

A space's choices become independent categorical factors (:mod:`~nas_edge.dnas.relax`, one adapter per space:
``cnn``, and ``nb201``'s six edges), the hardware cost of every choice is tabulated once by the cost model
(:mod:`~nas_edge.dnas.cost_table`: the expected cost is exact for every discrete architecture and its gradient
is exact), a single-path Gumbel-softmax super-network trains weights and architecture logits alternately
(:mod:`~nas_edge.dnas.train`), and the argmax is an ordinary architecture of the space that
:func:`record_dnas` evaluates as a trial of any Optuna study.

    result = run_dnas(objective, lambdas="0.01,0.1,1")        # or targets=["energy_uj<=0.3"]
    record_dnas(study, objective, result)
    run_search(method="dnas", method_options={"lambdas": "0.01,0.1,1"})   # both, in a study (resumable)

Importing this package does not import torch (only a search does).
"""

from nas_edge.dnas.config import DNASConfig, DNASError
from nas_edge.dnas.cost_table import ADDITIVE_METRICS, CostTable, build_tables, check_additive
from nas_edge.dnas.relax import Factor, Relaxation, Term, list_relaxations, register_relaxation, relax
from nas_edge.dnas.run import (
    USER_ATTR,
    DerivedArchitecture,
    DNASPlan,
    DNASResult,
    parse_lambdas,
    parse_targets,
    plan_dnas,
    record_dnas,
    run_dnas,
    run_plan,
)

__all__ = [
    "ADDITIVE_METRICS", "USER_ATTR", "CostTable", "DNASConfig", "DNASError", "DNASPlan", "DNASResult",
    "DerivedArchitecture", "Factor", "Relaxation", "Term", "build_tables", "check_additive", "list_relaxations",
    "parse_lambdas", "parse_targets", "plan_dnas", "record_dnas", "register_relaxation", "relax", "run_dnas",
    "run_plan",
]

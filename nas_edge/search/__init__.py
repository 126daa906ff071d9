"""The Optuna side of nas-edge: :class:`Objective` (a plain callable for any study), :class:`HardwareCost` (a
hardware objective and constraints for a user's own objective), storages, samplers, pruners and
:func:`run_search`.

Constraints go through ``trial.set_constraint`` (feasible when <= 0), so every constraint-aware sampler
sees them and ``study.best_trials`` is the feasible Pareto front. Architecture, hardware and cost are stored
as JSON-safe user attributes (``arch``, ``hardware``, ``cost``). A candidate that does not fit on the chip
(``cost.totals["feasible"] == 0``) or breaks a hardware constraint is recognised before any training.

Modules, in the order data flows through them:

- :mod:`~nas_edge.search.metrics` — objective names and directions; :func:`register_metric`;
- :mod:`~nas_edge.search.constraints` — :class:`Constraint`, parsing, the one feasibility rule;
- :mod:`~nas_edge.search.hardware_cost` — :class:`HardwareCost`: cost, constraints and attributes of a trial;
- :mod:`~nas_edge.search.evaluators` — where model metrics come from; :func:`register_evaluator`;
- :mod:`~nas_edge.search.screening` — exact cheap objectives/constraints for the screening sampler;
- :mod:`~nas_edge.search.objective` — :class:`Objective`;
- :mod:`~nas_edge.search.storage` — storages from URLs (journal files kept whole, creation races retried);
- :mod:`~nas_edge.search.study` — samplers, pruners, create-or-resume;
- :mod:`~nas_edge.search.run` — :func:`run_search` and search methods; :func:`register_method`;
- :mod:`~nas_edge.search.trace` — :class:`Trace`: curves of how a method derived a trial, for the report.
"""

from nas_edge.search.constraints import (
    CAPACITY_KEY,
    Constraint,
    is_feasible,
    parse_constraint,
    parse_constraints,
    trial_feasible,
)
from nas_edge.search.errors import SearchError
from nas_edge.search.evaluators import (
    Evaluator,
    TrainEvaluator,
    TrialContext,
    create_evaluator,
    list_evaluators,
    register_evaluator,
)
from nas_edge.search.hardware_cost import HardwareCost, HardwareResult
from nas_edge.search.metrics import (
    CONSTRAINABLE,
    COST_METRICS,
    MODEL_METRICS,
    NETWORK_METRICS,
    OBJECTIVES,
    TRAINED_METRICS,
    check_objectives,
    register_metric,
)
from nas_edge.search.objective import Objective, set_metric_names
from nas_edge.search.run import SearchRun, list_methods, register_method, run_search
from nas_edge.search.screening import ObjectiveScreen, screening_sampler
from nas_edge.search.study import (
    DEFAULT_STORAGE,
    DEFAULT_STUDY,
    PRUNERS,
    RESUME_KEYS,
    SAMPLERS,
    make_pruner,
    make_sampler,
    open_storage,
    open_study,
)
from nas_edge.search.trace import TRACE_ATTR, Trace, TracePlot

__all__ = [
    "CAPACITY_KEY", "CONSTRAINABLE", "COST_METRICS", "DEFAULT_STORAGE", "DEFAULT_STUDY", "MODEL_METRICS",
    "NETWORK_METRICS", "OBJECTIVES", "PRUNERS", "RESUME_KEYS", "SAMPLERS", "TRACE_ATTR", "TRAINED_METRICS",
    "Constraint", "Evaluator", "HardwareCost", "HardwareResult", "Objective", "ObjectiveScreen", "SearchError",
    "SearchRun", "Trace", "TracePlot", "TrainEvaluator", "TrialContext", "check_objectives", "create_evaluator",
    "is_feasible", "list_evaluators", "list_methods", "make_pruner", "make_sampler", "open_storage", "open_study",
    "parse_constraint", "parse_constraints", "register_evaluator", "register_method", "register_metric",
    "run_search", "screening_sampler", "set_metric_names", "trial_feasible",
]

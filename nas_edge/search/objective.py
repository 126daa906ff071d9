"""The search objective: a plain callable for any Optuna study, network (and optionally chip) in each trial."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution

from nas_edge._json import json_safe
from nas_edge.analog.config import ANALOG_OBJECTIVES, AnalogConfigError, check_analog_objectives
from nas_edge.analog.objective import AnalogOptions
from nas_edge.evaluate.config import TrainConfig
from nas_edge.evaluate.data import Data, DataError, load_data
from nas_edge.hardware import Profile
from nas_edge.search.constraints import ConstraintSpec
from nas_edge.search.errors import SearchError
from nas_edge.search.evaluators import Evaluator, TrialContext, check_metrics, create_evaluator
from nas_edge.search.hardware_cost import HardwareCost
from nas_edge.search.metrics import MODEL_METRICS, OBJECTIVES, Direction, check_objectives
from nas_edge.search.screening import ObjectiveScreen
from nas_edge.spaces import HardwareSpace, NetworkSpace, SpaceError, create_space, get_space_class


def set_metric_names(study: optuna.Study, names: Sequence[str]) -> None:
    """Name the objectives (shown by optuna-dashboard); Optuna marks this experimental."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(names))


class Objective:
    """A network (+ optionally chip) search objective: ``study.optimize(Objective(...))`` in any study.

    ``objectives`` names come from :data:`~nas_edge.search.OBJECTIVES`: ``accuracy`` (short training),
    ``naswot`` / ``synflow`` (zero-cost proxies), ``params`` / ``macs``, and every cost total (``energy_uj``,
    ``latency_ms``, ``area_mm2``, ``edp_uj_ms``, ``tops_per_w`` ...), and ``analog_accuracy`` /
    ``analog_accuracy_1h`` / ``_1d`` / ``_1m``: validation accuracy on the trial's (co-searched) IMC chip,
    simulated from the profile (:mod:`nas_edge.analog`; ``analog`` options: Monte-Carlo ``repeats``,
    hardware-aware training ``hwa``, simulation overrides). ``evaluator`` says where model metrics come from
    (default ``train``; see :mod:`nas_edge.search.evaluators`). Create the study with
    ``directions=objective.directions`` (or :meth:`create_study`). Training is skipped for candidates
    that break a constraint or do not fit on the chip (``skip_infeasible``); their accuracy is reported
    as 0 and they are infeasible, so they never reach ``study.best_trials``.
    """

    def __init__(
        self,
        space: str | NetworkSpace = "cnn",
        hardware: str | Path | Profile = "neurosim-rram-22nm",
        data: str | Data | None = "digits",
        *,
        objectives: str | Sequence[str] = ("accuracy", "energy_uj", "latency_ms"),
        constraints: ConstraintSpec = None,
        hardware_search: bool | HardwareSpace = False,
        training: TrainConfig | Mapping[str, Any] | None = None,
        space_options: Mapping[str, Any] | None = None,
        proxy_batch: int = 64,
        skip_infeasible: bool = True,
        seed: int = 0,
        analog: AnalogOptions | Mapping[str, Any] | None = None,
        evaluator: str | Evaluator | None = None,
    ) -> None:
        self.evaluator = create_evaluator(evaluator)  # first: its module may register the metrics it computes
        self.objectives = check_objectives(objectives)
        self.model_metrics = tuple(o for o in self.objectives if o in MODEL_METRICS)
        hw_objectives = tuple(o for o in self.objectives if o not in MODEL_METRICS)
        self.hardware = HardwareCost(hardware, objectives=hw_objectives, constraints=constraints,
                                     search=hardware_search)
        try:
            self.analog = AnalogOptions.coerce(analog)
        except AnalogConfigError as exc:
            raise SearchError(str(exc)) from None
        check_metrics(self.evaluator, self.model_metrics)
        self.seed = int(seed)
        self.proxy_batch = int(proxy_batch)
        self.skip_infeasible = bool(skip_infeasible)
        try:
            self.training = training if isinstance(training, TrainConfig) else TrainConfig(
                **{"seed": self.seed, **(training or {})})
        except (TypeError, ValueError) as exc:
            raise SearchError(f"training options: {exc}") from None
        self.data: Data | None = None
        if data is not None:
            try:
                self.data = load_data(data, seed=self.seed)
            except DataError as exc:
                raise SearchError(str(exc)) from None
        try:
            check_analog_objectives(self.hardware.base, self.objectives)
        except AnalogConfigError as exc:
            raise SearchError(str(exc)) from None
        self.space = self._make_space(space, dict(space_options or {}))
        self.evaluator.prepare(self)

    def _make_space(self, space: str | NetworkSpace, options: dict[str, Any]) -> NetworkSpace:
        if isinstance(space, NetworkSpace):
            if self.data is not None and (tuple(space.input_shape) != self.data.input_shape
                                          or space.num_classes != self.data.num_classes):
                raise SearchError(f"space input {space.input_shape} / {space.num_classes} classes does not match "
                                  f"the data ({self.data.input_shape} / {self.data.num_classes} classes)")
            return space
        try:
            cls = get_space_class(str(space))
            if cls.kind != "network":
                raise SearchError(f"{space!r} is not a network space; use hardware_search=True for chip knobs")
            kwargs = {**(self.data.space_kwargs() if self.data is not None else {}), **options}
            made = create_space(str(space), **kwargs)
        except SpaceError as exc:
            raise SearchError(str(exc)) from None
        assert isinstance(made, NetworkSpace)
        return made

    @property
    def directions(self) -> list[Direction]:
        return [OBJECTIVES[o] for o in self.objectives]

    @property
    def metric_names(self) -> list[str]:
        return list(self.objectives)

    def describe(self) -> dict[str, Any]:
        """What defines this search (stored with a study so that a resumed study can be checked)."""
        analog = self.analog.describe() if any(o in ANALOG_OBJECTIVES for o in self.objectives) else None
        trains = bool(self.evaluator.trained & set(self.objectives))
        return json_safe({"space": self.space.name, "space_config": self.space.config(),
                          "objectives": list(self.objectives), **self.hardware.describe(),
                          "data": self.data.describe() if self.data is not None else None, "analog": analog,
                          "training": self.training.describe() if trains else None,
                          "evaluator": self.evaluator.describe()})

    def create_study(self, **kwargs: Any) -> optuna.Study:
        """``optuna.create_study`` with this objective's directions (other keywords passed through)."""
        study = optuna.create_study(directions=self.directions, **kwargs)
        if not study.metric_names:
            set_metric_names(study, self.metric_names)
        return study

    # -- one trial --------------------------------------------------------------------------------------

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        arch = self.space.suggest(trial)
        workload = self.space.layers(arch)
        trial.set_user_attr("arch", arch.to_dict())
        hw = self.hardware.evaluate(trial, workload)
        values = dict(hw.metrics)
        if self.model_metrics:
            values.update(self.model_values(TrialContext(trial=trial, objective=self, arch=arch, hardware=hw)))
        out = tuple(float(values[o]) for o in self.objectives)
        return out[0] if len(out) == 1 else out

    def model_values(self, ctx: TrialContext) -> dict[str, float]:
        """The model metrics of one trial: 0 for the costly ones of a candidate that breaks a constraint (no
        training), the evaluator's values for the rest."""
        skipped: tuple[str, ...] = ()
        if self.skip_infeasible and not ctx.hardware.feasible:
            skipped = tuple(m for m in self.model_metrics if m in self.evaluator.trained)
        out = dict.fromkeys(skipped, 0.0)
        if skipped:
            reason = "does not fit on the chip" if not ctx.hardware.fits else "breaks a hardware constraint"
            ctx.trial.set_user_attr("evaluation", {"skipped": reason})
        rest = [m for m in self.model_metrics if m not in skipped]
        if rest:
            values = self.evaluator.evaluate(ctx, rest)
            out.update({m: values[m] for m in rest})
        return out

    # -- what is known from the parameters alone (the screening sampler's hooks; one implementation) -------

    @cached_property
    def screen(self) -> ObjectiveScreen:
        """Cheap objectives and constraints of many parameter sets at once (:class:`ObjectiveScreen`)."""
        return ObjectiveScreen.from_objective(self)

    def search_space(self) -> dict[str, BaseDistribution]:
        """Every parameter a trial of this objective suggests (network, then chip knobs)."""
        return self.screen.search_space

    def hardware_metrics(self, params: Mapping[str, Any]) -> dict[str, float]:
        """Cost metrics of a full parameter set, without a trial."""
        return self.screen.evaluate([params])[0][0]

    @property
    def cheap_objective_indices(self) -> list[int]:
        """Indices of the objectives known before training (hardware, params, macs)."""
        return list(self.screen.cheap_objective_indices)

    def cheap_objectives(self, params: Mapping[str, Any]) -> list[float]:
        return [float(v) for v in self.screen.cheap_objectives([params])[0]]

    def cheap_constraints(self, params: Mapping[str, Any]) -> dict[str, float]:
        """The constraint values a trial with these parameters will set (same keys)."""
        return self.screen.cheap_constraints([params])[0]

"""What Optuna's own tools see of a nas-edge study, read the way they read it: ``study.trials_dataframe()``
(plain columns for the figures people filter on) and optuna-dashboard (sortable numeric user attributes; a
trial's feasibility from the ``constraints`` system attribute, a list whose values are all <= 0 when feasible)."""

from __future__ import annotations

import numbers

import optuna
import pandas as pd
import pytest

from nas_edge.samplers import LEGACY_CONSTRAINTS_KEY, named_constraints
from nas_edge.search import Objective
from nas_edge.search.constraints import trial_feasible

FLAT = ("area_mm2", "energy_uj", "latency_ms", "tops_per_w")


@pytest.fixture(scope="module")
def study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    obj = Objective("cnn", "neurosim-rram-22nm", None, objectives=("energy_uj", "params"),
                    constraints={"area_mm2": 20}, hardware_search=True)
    study = obj.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(obj, n_trials=16)
    return study


def test_trials_dataframe_has_plain_sortable_columns(study: optuna.Study) -> None:
    df = study.trials_dataframe()
    for key in FLAT:
        col = df[f"user_attrs_{key}"]
        assert pd.api.types.is_float_dtype(col) and col.notna().all(), key
    assert df["user_attrs_feasible"].tolist() == [trial_feasible(t) for t in study.trials]
    assert {True, False} <= set(df["user_attrs_feasible"])  # the area limit bites on some random draws
    for t, chip in zip(study.trials, df["user_attrs_chip"], strict=True):
        hw = t.user_attrs["hardware"]
        assert chip.startswith(f"{hw['rows']}x{hw['cols']} c{hw['cell_bits']} adc{hw['adc_bits']}")
    sorted_df = df.sort_values("user_attrs_energy_uj")  # what a user filtering by energy does
    assert sorted_df["user_attrs_energy_uj"].is_monotonic_increasing


def test_flat_attributes_equal_the_nested_cost(study: optuna.Study) -> None:
    for t in study.trials:
        for key in FLAT:
            assert t.user_attrs[key] == t.user_attrs["cost"][key]


def test_dashboard_reads_feasibility_and_sortable_attributes(study: optuna.Study) -> None:
    """optuna-dashboard 0.20/0.21 (``_serializer.serialize_frozen_trial``, ``_inmemory_cache``): constraints are
    ``trial.system_attrs["constraints"]`` (a list; feasible when every value <= 0); a user attribute is sortable
    when every trial's value is a real number and not a bool."""
    for t in study.trials:
        listed = t.system_attrs[LEGACY_CONSTRAINTS_KEY]
        assert isinstance(listed, list) and all(isinstance(v, float) for v in listed)
        assert all(v <= 0 for v in listed) == trial_feasible(t) == t.user_attrs["feasible"]
        assert sorted(listed) == sorted(named_constraints(t).values())
        assert set(named_constraints(t)) == {"area_mm2<=20", "fits_on_chip"}
    for key in FLAT:
        assert all(isinstance(t.user_attrs[key], numbers.Real) and not isinstance(t.user_attrs[key], bool)
                   for t in study.trials), key


def test_best_trials_unchanged_by_the_dashboard_list(study: optuna.Study) -> None:
    """Optuna 5 also reads the list (as constraints "0", "1", ...): the same values, so the same front."""
    feasible = [t for t in study.trials if all(v <= 0 for v in named_constraints(t).values())]
    front = {t.number for t in study.best_trials}
    assert front and front <= {t.number for t in feasible}

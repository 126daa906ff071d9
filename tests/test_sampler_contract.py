"""Optuna's sampler contract tests for HWScreeningSampler (with and without cheap functions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    MultiObjectiveSamplerTestCase,
    RelativeSamplerTestCase,
)

from nas_edge.samplers import HWScreeningSampler


def _constraint_on_numbers(params: dict[str, Any]) -> list[float]:
    """A cheap constraint that never excludes everything: numbers above 1e6 are infeasible."""
    return [max((float(v) for v in params.values() if isinstance(v, int | float)), default=0.0) - 1e6]


class TestBasic(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: HWScreeningSampler(seed=0, n_startup_trials=2, n_candidates=32)


class TestBasicScreened(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: HWScreeningSampler(seed=0, n_startup_trials=2, n_candidates=32,
                                          cheap_constraints=_constraint_on_numbers)


class TestRelative(RelativeSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: HWScreeningSampler(seed=0, n_startup_trials=1, n_candidates=32)


class TestMultiObjective(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: HWScreeningSampler(seed=0, n_candidates=32)

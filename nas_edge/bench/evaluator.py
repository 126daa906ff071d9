"""The ``bench`` evaluator: a search's accuracy read from the NAS-Bench-201 tables instead of trained.

    nas-edge search --space nb201 --evaluator bench --data none -O nb201_cifar10,energy_uj,latency_ms
    nas_edge.Objective("nb201", data=None, objectives=("anb_hwt_30d", "energy_uj"), evaluator="bench")

Importing this module (``evaluator="bench"`` does) registers every accuracy field of the tables
(:data:`~nas_edge.bench.fields.FIELDS`) as a model metric to maximise, so the fields join the cost model's
objectives and constraints like ``accuracy`` does, co-search (``hardware_search``) included. Nothing is
trained (:attr:`BenchEvaluator.trained` is empty): a lookup costs nothing, so candidates that break a
constraint get their table value too. The screening sampler models the fields with its Gaussian process,
as it models a trained accuracy, while the costs stay exact: the table is the stand-in for training, not a
hint to the sampler.

The values are the tables' (:mod:`nas_edge.bench.fields`): ``nb201_<dataset>`` is NAS-Bench-201's validation
accuracy averaged over its training seeds, ``anb_*`` AnalogNAS-Bench's CIFAR-10 test accuracy, on the PCM chip
that AnalogNAS-Bench simulated (co-searched chip knobs change the costs, not these accuracies). They belong to
NAS-Bench-201's own network for that dataset (16 channels, 5 cells per stage, CIFAR input 3 x 32 x 32 or
ImageNet16-120's 3 x 16 x 16), so the search's space must be that network: :meth:`BenchEvaluator.prepare`
refuses any other input shape, class count or width.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nas_edge.bench.data import PINNED, BenchData, load
from nas_edge.bench.fields import FIELDS, INPUT_SHAPES, NUM_CLASSES, BenchFieldError, parse_field
from nas_edge.errors import NasEdgeError
from nas_edge.search import SearchError, register_metric
from nas_edge.spaces.nb201 import NB201Architecture, NB201Space

if TYPE_CHECKING:
    from nas_edge.search import Objective, TrialContext

for _name in FIELDS:
    register_metric(_name, "maximize")


def _shape(shape: Sequence[int]) -> str:
    return "x".join(str(int(v)) for v in shape)


class BenchEvaluator:
    """Model metrics looked up by cell in the two tables (the ``bench`` extra)."""

    name = "bench"
    metrics = frozenset(FIELDS)
    trained: frozenset[str] = frozenset()

    def __init__(self, argument: str | None = None) -> None:
        if argument:
            raise SearchError(f"the bench evaluator takes no argument, got 'bench:{argument}'")
        self._data: BenchData | None = None

    def prepare(self, objective: Objective) -> None:
        """The space must be NAS-Bench-201's network of the fields' dataset; the tables must load."""
        space = objective.space
        if not isinstance(space, NB201Space):
            raise SearchError(f"the bench evaluator looks up NAS-Bench-201 cells: search the nb201 space, not "
                              f"{space.name!r}")
        try:
            datasets = sorted({parse_field(m).dataset for m in objective.model_metrics})
        except BenchFieldError as exc:
            raise SearchError(str(exc)) from None
        if len(datasets) > 1:
            raise SearchError(f"the objectives mix accuracies of different networks ({', '.join(datasets)}); "
                              "search one dataset's network at a time")
        dataset = datasets[0] if datasets else "cifar10"
        want = (tuple(INPUT_SHAPES[dataset]), NUM_CLASSES[dataset], 16, 5)
        have = (tuple(space.input_shape), space.num_classes, space.channels, space.cells)
        if have != want:
            fixes = []
            if objective.data is not None:  # without data the space takes its defaults: the CIFAR-10 network
                fixes.append("--data none (nothing is trained; export trains on the data you give it)")
                have_then = (tuple(INPUT_SHAPES["cifar10"]), NUM_CLASSES["cifar10"], *have[2:])
            else:
                have_then = have
            for key, w, h in zip(("input_shape", "num_classes", "channels", "cells"), want, have_then, strict=True):
                if w != h:
                    fixes.append(f"--space-option {key}={json.dumps(w, separators=(',', ':'))}")
            source = f" (from the data {objective.data.name!r})" if objective.data is not None else ""
            raise SearchError(
                f"the table's {dataset} accuracies are of NAS-Bench-201's {dataset} network (input "
                f"{_shape(want[0])}, {want[1]} classes, 16 channels, 5 cells per stage); the search's nb201 space "
                f"has input {_shape(have[0])}, {have[1]} classes, {have[2]} channels, {have[3]} cells{source}: "
                f"search with {' '.join(fixes)}")
        try:
            self._data = load()
        except NasEdgeError as exc:  # the extra is missing, or a data file is altered: one line
            raise SearchError(str(exc)) from None

    def evaluate(self, ctx: TrialContext, names: Sequence[str]) -> dict[str, float]:
        data = self._data if self._data is not None else load()
        arch = ctx.arch
        assert isinstance(arch, NB201Architecture)
        ctx.trial.set_user_attr("evaluation", {"mode": "table", "cell": arch.index})
        return data.accuracies(arch, names)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "tables": dict(PINNED)}

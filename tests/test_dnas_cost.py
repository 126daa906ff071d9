"""DNAS without training: the relaxation of the cnn space, the cost tables (exact for every discrete
architecture, their minimum and maximum), and every input refused before a search starts."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nas_edge.dnas import (
    ADDITIVE_METRICS,
    DNASConfig,
    DNASError,
    build_tables,
    list_relaxations,
    parse_lambdas,
    parse_targets,
    relax,
    run_dnas,
)
from nas_edge.hardware import load_profile
from nas_edge.search import HardwareCost, Objective
from nas_edge.spaces import create_space

SMALL = {"input_shape": (1, 8, 8), "num_classes": 10, "stages": 2, "max_depth": 2, "widths": [[8, 12], [16, 24]],
         "stem_widths": (8, 16), "resolutions": (8, 12)}
PROFILES = ("neurosim-rram-22nm", "isaac-reram-32nm", "mobile-cpu-a78")  # auto-sized, fixed-tile, digital chips
METRICS = ADDITIVE_METRICS


@functools.cache
def small_tables(profile: str) -> tuple:
    space = create_space("cnn", **SMALL)
    rx = relax(space)
    return space, rx, build_tables(rx, load_profile(profile), METRICS)


def one_hot_indices(rx):
    return st.fixed_dictionaries({f.name: st.integers(0, len(f.choices) - 1) for f in rx.factors})


@pytest.mark.parametrize("profile", PROFILES)
@settings(max_examples=25)
@given(data=st.data())
def test_table_cost_is_the_cost_models_exact_cost_of_every_discrete_architecture(profile: str,
                                                                                  data: st.DataObject) -> None:
    space, rx, tables = small_tables(profile)
    idx = data.draw(one_hot_indices(rx))
    arch = rx.architecture(idx)
    prof = load_profile(profile)
    _, exact = HardwareCost(prof, objectives=()).metrics(space.layers(arch), prof)  # what a trial records
    for metric, table in tables.items():
        assert table.cost(idx) == pytest.approx(exact[metric], rel=1e-9, abs=1e-12), metric
        one_hot = {f: np.eye(c)[idx[f]] for f, c in table.cards.items()}
        assert table.expected_numpy(one_hot) == pytest.approx(exact[metric], rel=1e-9, abs=1e-12), metric


def test_table_is_exact_on_the_default_digits_space() -> None:
    space = create_space("cnn", input_shape=(1, 8, 8), num_classes=10)
    rx = relax(space, fixed={"cnn_s1_se": False, "cnn_s2_se": False})
    prof = load_profile("neurosim-rram-22nm")
    table = build_tables(rx, prof, ["energy_uj"])["energy_uj"]
    for seed in range(15):
        arch = space.from_params({**space.to_params(space.sample(seed)), "cnn_s1_se": False, "cnn_s2_se": False})
        exact = HardwareCost(prof, objectives=()).metrics(space.layers(arch), prof)[1]["energy_uj"]
        assert table.cost(rx.indices(arch)) == pytest.approx(exact, rel=1e-9)


def test_expected_cost_is_the_mean_over_the_product_distribution() -> None:
    """Enumerate a sub-space: the expectation of the exact cost under independent factors."""
    table = small_tables("neurosim-rram-22nm")[2]["energy_uj"]
    rng = np.random.default_rng(0)
    free = ["cnn_resolution", "cnn_s0_width", "cnn_s1_block", "cnn_s1_width"]
    probs = {f: np.eye(c)[0] for f, c in table.cards.items()}
    for f in free:
        probs[f] = rng.dirichlet(np.ones(table.cards[f]))
    mean = 0.0
    for combo in itertools.product(*(range(table.cards[f]) for f in free)):
        idx = dict(zip(free, combo, strict=True))
        weight = float(np.prod([probs[f][i] for f, i in idx.items()]))
        mean += weight * table.cost(idx)
    assert table.expected_numpy(probs) == pytest.approx(mean, rel=1e-12)


@pytest.mark.parametrize("metric", ["energy_uj", "latency_ms", "params"])
def test_extremum_is_the_brute_force_min_and_max(metric: str) -> None:
    space = create_space("cnn", **{**SMALL, "stages": 2})
    rx = relax(space, fixed={"cnn_s0_se": False, "cnn_s1_se": True, "cnn_s0_expand": 4, "cnn_s1_depth": 1})
    table = build_tables(rx, load_profile("neurosim-rram-22nm"), [metric])[metric]
    names = [f.name for f in rx.factors]
    costs = {combo: table.cost(dict(zip(names, combo, strict=True)))
             for combo in itertools.product(*(range(len(f.choices)) for f in rx.factors))}
    for mode, pick in (("min", min), ("max", max)):
        value, idx = table.extremum(mode)
        assert value == pytest.approx(pick(costs.values()), rel=1e-12)
        assert table.cost(idx) == pytest.approx(value, rel=1e-12)


@settings(max_examples=30)
@given(data=st.data())
def test_relaxation_round_trips_architectures(data: st.DataObject) -> None:
    _, rx, _ = small_tables("neurosim-rram-22nm")
    idx = data.draw(one_hot_indices(rx))
    arch = rx.architecture(idx)
    assert rx.indices(arch) == idx
    rx.check_rows(rx.space.layers(arch))


def test_fixed_factors_have_one_choice_and_are_not_relaxed() -> None:
    space = create_space("cnn", **SMALL)
    rx = relax(space, fixed={"cnn_resolution": 12, "cnn_s1_block": "dense"})
    assert rx.by_name["cnn_resolution"].choices == (12,)
    assert "cnn_s1_block" not in {f.name for f in rx.relaxed()}
    arch = rx.architecture({})
    assert arch.resolution == 12 and arch.stages[1].block == "dense"
    with pytest.raises(DNASError, match="among the relaxed choices"):
        rx.indices(space.from_params({**space.to_params(arch), "cnn_resolution": 8}))


# -- bad input: one clear error each, before any training ---------------------------------------------------

@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    import nas_edge.dnas.train as train

    def refuse(*_a, **_k):
        raise AssertionError("training started before the input was checked")

    monkeypatch.setattr(train, "Searcher", refuse)


def small_objective(**kw) -> Objective:
    return Objective(create_space("cnn", **SMALL), kw.pop("hardware", "neurosim-rram-22nm"), "digits",
                     objectives=kw.pop("objectives", ("accuracy", "energy_uj")), **kw)


@pytest.mark.parametrize("bad", ["-0.1", "0.1,-1", "nan", "abc", "inf"])
def test_negative_or_non_numeric_lambda_is_refused(bad: str, no_training: None) -> None:
    with pytest.raises(DNASError, match="lambda"):
        run_dnas(small_objective(), lambdas=bad)
    with pytest.raises(DNASError, match="lambda"):
        parse_lambdas(bad)


def test_lambda_lists_parse() -> None:
    assert parse_lambdas("0.01,0.1,1") == (0.01, 0.1, 1.0)
    assert parse_lambdas([0, "2"]) == (0.0, 2.0)
    assert parse_lambdas(0.5) == (0.5,)


def test_target_below_the_cheapest_architecture_is_refused(no_training: None) -> None:
    obj = small_objective()
    low, _ = small_tables("neurosim-rram-22nm")[2]["energy_uj"].extremum("min")
    with pytest.raises(DNASError, match=r"no architecture meets the target energy_uj<=.*cheapest one .* costs"):
        run_dnas(obj, targets=f"energy_uj<={low * 0.9}")


def test_target_must_be_an_upper_bound_on_the_penalised_metric(no_training: None) -> None:
    with pytest.raises(DNASError, match="from above"):
        parse_targets("energy_uj>=0.1")
    with pytest.raises(DNASError, match="one metric per run"):
        run_dnas(small_objective(), metric="energy_uj", targets=["latency_ms<=1"])


@pytest.mark.parametrize("metric, why", [("pipeline_stage_ms", "maximum"), ("tops_per_w", "ratio"),
                                         ("edp_uj_ms", "product")])
def test_metric_that_is_not_a_sum_over_layers_is_refused(metric: str, why: str, no_training: None) -> None:
    with pytest.raises(DNASError, match=f"cannot penalise '{metric}'.*{why}"):
        run_dnas(small_objective(), metric=metric)


def test_the_penalised_metric_defaults_to_the_objectives_first_sum_over_layers(no_training: None) -> None:
    from nas_edge.dnas.run import _metric

    assert _metric(small_objective(objectives=("accuracy", "tops_per_w", "latency_ms")), None, ()) == "latency_ms"
    assert _metric(small_objective(objectives=("accuracy",)), None, ()) == "energy_uj"
    assert _metric(small_objective(), None, parse_targets("area_mm2<=30")) == "area_mm2"
    with pytest.raises(DNASError, match="cannot penalise 'tops_per_w'"):
        run_dnas(small_objective(objectives=("accuracy", "tops_per_w")))


def test_hardware_co_search_is_refused(no_training: None) -> None:
    with pytest.raises(DNASError, match=r"hardware co-search.*in steps"):
        run_dnas(small_objective(hardware_search=True))


def test_space_without_adapter_is_refused(no_training: None) -> None:
    assert "cnn" in list_relaxations()
    space = create_space("transformer", input_shape=(1, 8, 8), num_classes=10)
    with pytest.raises(DNASError, match="cannot relax the 'transformer' space"):
        relax(space)


def test_bad_fixed_parameters_are_refused() -> None:
    space = create_space("cnn", **SMALL)
    with pytest.raises(DNASError, match="cannot fix cnn_nope"):
        relax(space, fixed={"cnn_nope": 1})
    with pytest.raises(DNASError, match="cannot fix cnn_resolution=9"):
        relax(space, fixed={"cnn_resolution": 9})


def test_chip_too_small_for_the_space_is_refused() -> None:
    rx = relax(create_space("cnn", **SMALL))
    with pytest.raises(DNASError, match=r"need .* tiles .* the chip has 16"):
        build_tables(rx, load_profile("pcm-aihwkit-14nm"), ["energy_uj"])


def test_leaking_arrays_on_an_auto_sized_chip_refuse_energy_only() -> None:
    base = load_profile("neurosim-rram-22nm")
    leaky = base.model_copy(update={"array": base.array.model_copy(update={"leakage_power_uw": 1.0})})
    rx = relax(create_space("cnn", **SMALL))
    with pytest.raises(DNASError, match="leak"):
        build_tables(rx, leaky, ["energy_uj"])
    table = build_tables(rx, leaky, ["latency_ms"])["latency_ms"]  # latency stays a sum over layers
    arch = rx.space.sample(1)
    exact = HardwareCost(leaky, objectives=()).metrics(rx.space.layers(arch), leaky)[1]["latency_ms"]
    assert table.cost(rx.indices(arch)) == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"arch_fraction": 1.0}, {"tau_end": -1}, {"nope": 1}])
def test_bad_settings_are_refused(bad: dict) -> None:
    with pytest.raises(DNASError, match="DNAS settings"):
        DNASConfig.coerce(bad)


def test_tables_take_terms_without_factors_and_shared_factors() -> None:
    """The algebra a second space's adapter relies on (e.g. cells whose edges are costed one by one around a
    fixed skeleton): a term no choice changes, and two terms sharing a factor."""
    from nas_edge.dnas import CostTable

    table = CostTable("energy_uj", "x", {"a": 2, "b": 3},
                      ((("a",), np.array([1.0, 2.0])), ((), np.array(5.0)),
                       (("b", "a"), np.array([[0.0, 4.0], [1.0, 1.0], [3.0, 0.0]]))), constant=0.5)
    assert table.cost({"a": 1, "b": 2}) == 0.5 + 2.0 + 5.0 + 0.0
    assert table.extremum("min") == (6.5, {"a": 0, "b": 0})
    assert table.extremum("max")[0] == 0.5 + 2.0 + 5.0 + 4.0
    probs = {"a": np.array([0.25, 0.75]), "b": np.array([0.5, 0.25, 0.25])}
    brute = sum(probs["a"][i] * probs["b"][j] * table.cost({"a": i, "b": j}) for i in range(2) for j in range(3))
    assert table.expected_numpy(probs) == pytest.approx(brute)


@st.composite
def chain_tables(draw: st.DrawFn) -> tuple:
    """A random cost table shaped like a relaxation's: one term per factor and its neighbour, plus unary ones."""
    from nas_edge.dnas import CostTable

    cards = {f"f{i}": draw(st.integers(1, 4)) for i in range(draw(st.integers(1, 4)))}
    names = list(cards)
    values = st.floats(0, 10, allow_nan=False)
    terms = []
    for i, n in enumerate(names):
        scope = (n,) if i == 0 else (names[i - 1], n)
        shape = [cards[m] for m in scope]
        terms.append((scope, np.array(draw(st.lists(values, min_size=int(np.prod(shape)),
                                                     max_size=int(np.prod(shape))))).reshape(shape)))
    table = CostTable("energy_uj", "x", cards, tuple(terms), constant=draw(values))
    log_probs = {n: np.log(np.array(draw(st.lists(st.floats(0.01, 1), min_size=c, max_size=c)))) for n, c in
                 cards.items()}
    return table, log_probs


@settings(max_examples=200)
@given(chain_tables(), st.floats(-0.1, 1.1))
def test_most_likely_within_meets_the_limit_and_no_single_change_improves_it(tl: tuple, where: float) -> None:
    table, lp = tl
    low, high = table.extremum("min")[0], table.extremum("max")[0]
    limit = low + where * (high - low)
    combos = [dict(zip(table.cards, c, strict=True)) for c in itertools.product(*map(range, table.cards.values()))]

    def score(x: dict) -> float:
        return sum(float(lp[n][i]) for n, i in x.items())

    got = table.most_likely_within(lp, limit)
    if limit < low:
        assert got is None
        return
    assert got is not None and table.cost(got) <= limit
    argmax = {n: int(np.argmax(v)) for n, v in lp.items()}
    if table.cost(argmax) <= limit:  # the argmax already meets it: nothing to give up
        assert score(got) == pytest.approx(score(argmax))
    best = max(score(x) for x in combos if table.cost(x) <= limit)
    assert score(got) <= best + 1e-9
    for n, c in table.cards.items():  # a local optimum at least
        for i in range(c):
            other = {**got, n: i}
            assert table.cost(other) > limit or score(other) <= score(got) + 1e-12


def test_most_likely_within_on_the_cnn_table_is_the_brute_force_best_on_most_draws() -> None:
    _, _, tables = small_tables("neurosim-rram-22nm")
    table = tables["energy_uj"]
    combos = [dict(zip(table.cards, c, strict=True)) for c in itertools.product(*map(range, table.cards.values()))]
    costs = np.array([table.cost(x) for x in combos])
    idx = np.array([[x[n] for n in table.cards] for x in combos])
    low, uniform = costs.min(), table.uniform()
    rng = np.random.default_rng(0)
    exact = 0
    for _ in range(10):
        lp = {n: np.log(rng.dirichlet(np.ones(c) * 0.5) + 1e-9) for n, c in table.cards.items()}
        limit = low + rng.uniform(0.05, 1.0) * (uniform - low)
        got = table.most_likely_within(lp, limit)
        assert got is not None and table.cost(got) <= limit
        scores = sum(lp[n][idx[:, k]] for k, n in enumerate(table.cards))
        best = scores[costs <= limit].max()
        mine = sum(lp[n][i] for n, i in got.items())
        assert mine <= best + 1e-9
        exact += bool(mine >= best - 1e-9)
    assert exact >= 7  # the hull and single changes find the constrained optimum on most draws


@pytest.mark.parametrize("profile", PROFILES)
def test_nb201_table_is_the_cost_models_exact_cost_of_every_cell(profile: str) -> None:
    """The nb201 relaxation: one term over the six edges (dead edges and fusion across cells make nothing
    smaller exact); three edges pinned keep the test to 125 cells, one of which cuts every path."""
    space = create_space("nb201", input_shape=(1, 8, 8), cells=2, channels=4)
    rx = relax(space, fixed={"nb201_e10": "skip_connect", "nb201_e20": "none", "nb201_e21": "nor_conv_1x1"})
    prof = load_profile(profile)
    tables = build_tables(rx, prof, ["energy_uj", "latency_ms", "params"])
    assert [f.name for f in rx.relaxed()] == ["nb201_e30", "nb201_e31", "nb201_e32"]
    for combo in itertools.product(range(5), repeat=3):
        idx = dict(zip(["nb201_e30", "nb201_e31", "nb201_e32"], combo, strict=True))
        arch = rx.architecture(idx)
        exact = HardwareCost(prof, objectives=()).metrics(space.layers(arch), prof)[1]
        for metric, table in tables.items():
            assert table.cost(idx) == pytest.approx(exact[metric], rel=1e-9, abs=1e-12), (metric, arch.summary())

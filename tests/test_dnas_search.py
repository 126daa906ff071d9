"""DNAS with torch: the expected-cost term (one-hot values, gradient against finite differences), the super-
network's path against the space's own network, and a tiny search recorded into an Optuna study."""

from __future__ import annotations

import functools
import json

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nas_edge.dnas import USER_ATTR, build_tables, record_dnas, relax, run_dnas
from nas_edge.hardware import load_profile
from nas_edge.search import TRACE_ATTR, Objective, Trace
from nas_edge.spaces import create_space
from nas_edge.spaces.nb201 import OPS

torch = pytest.importorskip("torch")

SMALL = {"input_shape": (1, 8, 8), "num_classes": 10, "stages": 2, "max_depth": 2, "widths": [[8, 12], [16, 24]],
         "stem_widths": (8, 16), "resolutions": (8, 12)}

optuna.logging.set_verbosity(optuna.logging.WARNING)
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@functools.cache
def small() -> tuple:
    space = create_space("cnn", **SMALL)
    rx = relax(space)
    return space, rx, build_tables(rx, load_profile("neurosim-rram-22nm"), ["energy_uj", "latency_ms"])


@settings(max_examples=20)
@given(data=st.data())
def test_expected_cost_of_one_hot_probabilities_is_the_exact_cost(data: st.DataObject) -> None:
    from nas_edge.dnas.train import expected_cost

    _, rx, tables = small()
    idx = data.draw(st.fixed_dictionaries({f.name: st.integers(0, len(f.choices) - 1) for f in rx.relaxed()}))
    for table in tables.values():
        probs = {n: torch.eye(table.cards[n], dtype=torch.float64)[i] for n, i in idx.items()}
        assert float(expected_cost(table, probs)) == pytest.approx(table.cost(idx), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expected_cost_gradient_equals_finite_differences(seed: int) -> None:
    from nas_edge.dnas.train import expected_cost

    _, rx, tables = small()
    table = tables["energy_uj"]
    gen = torch.Generator().manual_seed(seed)
    logits = {f.name: torch.randn(len(f.choices), generator=gen, dtype=torch.float64) for f in rx.relaxed()}

    def cost(lg: dict) -> torch.Tensor:
        return expected_cost(table, {n: torch.softmax(v, 0) for n, v in lg.items()})

    leaves = {n: v.clone().requires_grad_(True) for n, v in logits.items()}
    cost(leaves).backward()
    eps = 1e-6
    for n, v in logits.items():
        for i in range(len(v)):
            up, down = dict(logits), dict(logits)
            up[n], down[n] = v.clone(), v.clone()
            up[n][i] += eps
            down[n][i] -= eps
            fd = (float(cost(up)) - float(cost(down))) / (2 * eps)
            assert float(leaves[n].grad[i]) == pytest.approx(fd, rel=1e-5, abs=1e-9 * table.uniform()), (n, i)


def _copy_path(net, model, space, arch) -> None:
    """Give ``model`` (``space.build(arch)``) the weights the super-network's path for ``arch`` uses."""

    def conv_bn(seq, sliced, cin: int, cout: int, kernel: int) -> None:
        w, scale, shift = sliced.weights(cin, cout, kernel)
        seq[0].weight.copy_(w)
        seq[1].weight.copy_(scale)
        seq[1].bias.copy_(shift)

    def linear(lin, sliced) -> None:
        w, b = sliced.weights(lin.in_features, lin.out_features)
        lin.weight.copy_(w)
        lin.bias.copy_(b)

    def se(mod, sliced) -> None:
        linear(mod.reduce, sliced.reduce)
        linear(mod.expand, sliced.expand)

    with torch.no_grad():
        conv_bn(model.stem, net.stem, space.input_shape[0], arch.stem_width, 3)
        for child, b in zip(model.blocks, space.blocks(arch), strict=True):
            i, j = (int(x) for x in b.name[1:].split(".b"))
            sb = net.stages[i][j]
            body = list(child.body)
            if b.block == "mbconv":
                if b.expand != 1:
                    conv_bn(body.pop(0), sb.mb_expand, b.cin, b.mid, 1)
                conv_bn(body.pop(0), sb.mb_dw, b.mid, b.mid, b.kernel)
                if b.se:
                    se(body.pop(0), sb.mb_se)
                conv_bn(body.pop(0), sb.mb_project, b.mid, b.cout, 1)
            elif b.block == "dense":
                conv_bn(body.pop(0), sb.dense, b.cin, b.cout, b.kernel)
                if b.se:
                    se(body.pop(0), sb.dense_se)
            else:
                conv_bn(body.pop(0), sb.res_conv1, b.cin, b.cout, b.kernel)
                conv_bn(body.pop(0), sb.res_conv2, b.cout, b.cout, b.kernel)
                if b.se:
                    se(body.pop(0), sb.res_se)
                if child.shortcut is not None:
                    conv_bn(child.shortcut, sb.res_shortcut, b.cin, b.cout, 1)
            assert not body
        linear(model.classifier, net.classifier)


@settings(max_examples=8)
@given(data=st.data())
def test_super_network_path_is_the_spaces_own_network(data: st.DataObject) -> None:
    """With the path's weights copied in, ``space.build(arch)`` (batch norm on batch statistics, as the
    super-network trains) computes exactly what the super-network computes for that path."""
    space, rx, _ = small()
    idx = data.draw(st.fixed_dictionaries({f.name: st.integers(0, len(f.choices) - 1) for f in rx.factors}))
    torch.manual_seed(0)
    net = rx.supernet()
    for p in net.parameters():  # move batch-norm affine parameters off their initial values
        torch.nn.init.normal_(p, 0.0, 0.3)
    arch = rx.architecture(idx)
    model = space.build(arch)
    _copy_path(net, model, space, arch)
    model.train()
    x = torch.randn(16, *space.input_shape)
    with torch.no_grad():
        assert torch.allclose(net(x, idx), model(x), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_sweep_derives_architectures_and_records_them_as_ordinary_trials() -> None:
    space = create_space("cnn", **SMALL)
    obj = Objective(space, "neurosim-rram-22nm", "digits", objectives=("accuracy", "energy_uj"),
                    training={"epochs": 2, "max_train_samples": 200})
    config = {"warmup_epochs": 1, "epochs": 3, "max_train_samples": 240, "batch_size": 32, "arch_lr": 0.3}
    _, rx, tables = small()
    table = tables["energy_uj"]
    low, high, uniform = table.extremum("min")[0], table.extremum("max")[0], table.uniform()
    target = f"energy_uj<={(low + uniform) / 2:.6g}"
    result = run_dnas(obj, lambdas=[0.0, 30.0], targets=[target], config=config)
    assert [(p.lam, p.target) for p in result.points] == [(0.0, None), (30.0, None), (None, target)]
    assert result.plan.min_cost == pytest.approx(low) and result.plan.max_cost == pytest.approx(high)
    for p in result.points:
        assert p.cost == pytest.approx(table.cost(rx.indices(p.architecture)), rel=1e-12)
        for rows in p.probabilities.values():
            assert len(rows) == 3 and all(sum(r) == pytest.approx(1, abs=1e-4) for r in rows)
        assert len(p.history["lambda"]) == 3
    heavy, steered = result.points[1], result.points[2]
    assert heavy.history["expected_cost"][-1] < 0.5 * uniform  # a large lambda pulls the expected cost down
    assert heavy.history["lambda"] == [30.0] * 3
    assert steered.history["lambda"][0] != pytest.approx(result.plan.config.lambda_start)  # steered, not fixed
    assert steered.meets_target and steered.cost <= float(target.partition("<=")[2])

    study = optuna.create_study(directions=obj.directions)
    trials = record_dnas(study, obj, result)
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3
    for t, p in zip(trials, result.points, strict=True):
        assert space.from_params(t.params) == p.architecture
        assert t.values[1] == pytest.approx(p.cost, rel=1e-9)  # the trial's energy is the table's cost
        attr = t.user_attrs[USER_ATTR]
        json.dumps(attr)
        assert attr["min_cost"] == pytest.approx(low)
        trace = Trace.from_attr(t.user_attrs[TRACE_ATTR])
        assert trace is not None
        plots = {pl.title: pl.series for pl in trace.plots}
        assert next(iter(plots.values()))["lambda"] == pytest.approx(p.history["lambda"], rel=1e-3)
        for f in rx.relaxed():  # every factor's probabilities per epoch, one series per choice
            assert list(plots[f.name]) == [str(c) for c in f.choices]
            np.testing.assert_allclose([plots[f.name][str(c)] for c in f.choices],
                                       np.array(p.probabilities[f.name]).T, atol=1e-4)
    assert study.best_trials
    assert np.isfinite(trials[0].user_attrs["evaluation"]["seconds"])


def test_torch_expected_cost_takes_terms_without_factors() -> None:
    from nas_edge.dnas import CostTable
    from nas_edge.dnas.train import expected_cost

    table = CostTable("energy_uj", "x", {"a": 2, "b": 1},
                      ((("a",), np.array([1.0, 2.0])), ((), np.array(5.0)), (("b",), np.array([0.5]))), constant=0.5)
    probs = {"a": torch.tensor([0.25, 0.75], dtype=torch.float64)}  # b is fixed: not in probs
    assert float(expected_cost(table, probs)) == pytest.approx(table.expected_numpy({**probs, "b": np.ones(1)}))


def test_an_argmax_over_the_target_gives_way_to_the_likeliest_architecture_within_it(monkeypatch) -> None:
    """The dual update steers the expected cost, not the argmax's: where the argmax ends over the target, the
    derived architecture is the likeliest one that meets it (the plan checked that one exists)."""
    import nas_edge.dnas.train as train
    from nas_edge.dnas import plan_dnas, run_plan

    space, rx, tables = small()
    table = tables["energy_uj"]
    high, priciest = table.extremum("max")
    low = table.extremum("min")[0]
    limit = low + 0.1 * (table.uniform() - low)
    log_probs = {f.name: [0.0 if i == priciest[f.name] else -3.0 - i for i in range(len(f.choices))]
                 for f in rx.relaxed()}

    class Overshooting:  # a search whose argmax is the priciest architecture, and very likely
        def __init__(self, *_args) -> None:
            pass

        def warmup(self) -> dict:
            return {}

        def search(self, _start, _table, **_kw) -> train.Outcome:
            return train.Outcome(indices=dict(priciest), probabilities={}, log_probs=log_probs,
                                 history={"lambda": [1.0], "expected_cost": [high]})

    monkeypatch.setattr(train, "Searcher", Overshooting)
    obj = Objective(space, "neurosim-rram-22nm", "digits", objectives=("accuracy", "energy_uj"))
    result = run_plan(plan_dnas(obj, targets=[f"energy_uj<={limit:.6g}", f"energy_uj<={high * 2:.6g}"]))
    tight, loose = result.points
    assert tight.repaired and tight.meets_target and tight.argmax_cost == pytest.approx(high)
    assert tight.cost <= limit < high
    assert tight.architecture == rx.architecture(table.most_likely_within(log_probs, float(f"{limit:.6g}")))
    assert tight.record()["derived"] == "likeliest within the target"
    assert not loose.repaired and loose.architecture == rx.architecture(priciest)  # the argmax already meets it
    assert loose.record()["derived"] == "argmax"


@settings(max_examples=10, deadline=None)
@given(ops=st.lists(st.integers(0, 4), min_size=6, max_size=6))
def test_nb201_super_network_path_is_the_spaces_own_network(ops: list[int]) -> None:
    """With its weights loaded into ``space.build(cell)``, the super-network's path for that cell computes
    what the cell's own network computes (dead edges skipped alike, a cut cell outputs zeros)."""
    space = create_space("nb201", input_shape=(1, 8, 8), cells=2, channels=4)
    rx = relax(space)
    idx = dict(zip([f.name for f in rx.factors], ops, strict=True))
    torch.manual_seed(0)
    net = rx.supernet()
    arch = rx.architecture(idx)
    model = space.build(arch)
    state = {}
    for name in model.state_dict():
        parts = name.split(".")
        if parts[0] == "cells" and parts[2] == "layers":  # cells.k.layers.eJI.rest -> cells.k.edges.eJI_op.rest
            op = dict(zip(("10", "20", "21", "30", "31", "32"), arch.ops, strict=True))[parts[3][1:]]
            name_in_net = ".".join(["cells", parts[1], "edges", f"{parts[3]}_{OPS.index(op)}", *parts[4:]])
        else:
            name_in_net = name
        state[name] = net.state_dict()[f"net.{name_in_net}"]
    model.load_state_dict(state)
    model.train()
    x = torch.randn(8, *space.input_shape)
    with torch.no_grad():
        assert torch.allclose(net(x, idx), model(x), rtol=1e-5, atol=1e-6)

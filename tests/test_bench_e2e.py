"""The benchmark end to end through the CLI, checked against independent sources: the data packages' tables
(``nas_edge.bench.load``) for accuracies, ``nas_edge.cost.estimate`` on the cell's own analytic workload for
costs. ``nas-edge search --evaluator bench`` -> ``report`` -> ``export`` of the best trial, and ``nas-edge bench
run`` with two samplers, whose recorded hypervolumes and infeasible counts are recomputed from its cells."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest
from typer.testing import CliRunner

from nas_edge.bench.data import versions

pytestmark = pytest.mark.skipif(None in versions().values(),
                                reason='needs the bench extra: pip install "nas-edge[bench]"')
runner = CliRunner()
PROFILE = "neurosim-rram-22nm"


def cli(*args: str) -> str:
    from nas_edge.cli import app

    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return r.stdout


def direct_cost(cell: int) -> dict[str, float]:
    """The cost model on the cell's analytic workload, with nothing of the bench's sharing or packing."""
    from nas_edge.cost import estimate
    from nas_edge.spaces import NB201Architecture, create_space

    return estimate(create_space("nb201").layers(NB201Architecture.from_index(cell)), PROFILE).totals


@pytest.mark.slow
def test_search_report_export(tmp_path: Path) -> None:
    from nas_edge.bench import load
    from nas_edge.spaces import NB201Architecture

    url = f"sqlite:///{tmp_path / 's.db'}"
    cli("search", "--space", "nb201", "--evaluator", "bench", "--data", "none", "--no-progress", "--hardware",
        PROFILE, "--objectives", "nb201_cifar10,energy_uj,latency_ms", "--constraint", "area_mm2<=60", "--trials", "8",
        "--seed", "1", "--storage", url)
    study = optuna.load_study(study_name="nas-edge", storage=url)
    accuracy = load().column("nb201_cifar10")
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 8
    cells = {}
    for t in trials:
        cell = cells[t.number] = NB201Architecture.from_dict(t.user_attrs["arch"]).index
        assert t.user_attrs["evaluation"] == {"mode": "table", "cell": cell}
        cost = direct_cost(cell)
        assert t.values[0] == accuracy[cell]
        assert t.values[1:] == pytest.approx([cost["energy_uj"], cost["latency_ms"]], rel=1e-12)
        assert t.constraints["area_mm2<=60"] == pytest.approx(cost["area_mm2"] / 60 - 1, rel=1e-12)
    assert len(set(cells.values())) > 1

    cli("report", "--storage", url, "-o", str(tmp_path / "rep"))
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert {r["number"]: r["values"] for r in rep["trials"]} == {t.number: t.values for t in trials}
    feasible_front = {t.number for t in study.best_trials if all(v <= 0 for v in t.constraints.values())}
    assert set(rep["pareto"]) == feasible_front and rep["analytic"]
    for entry in rep["analytic"]:  # the report's cost tables: the cost model on the trial's own workload
        totals = entry["cost"]["totals"]
        assert totals["energy_uj"] == pytest.approx(direct_cost(cells[entry["trial"]])["energy_uj"], rel=1e-12)

    best = max((t for t in trials if t.number in feasible_front), key=lambda t: (t.values[0], -t.number))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "cifar.npz", x_train=rng.random((32, 3, 32, 32), dtype=np.float32),
             y_train=np.arange(32) % 10, x_val=rng.random((16, 3, 32, 32), dtype=np.float32),
             y_val=np.arange(16) % 10)
    cli("export", "--storage", url, "-o", str(tmp_path / "ex"), "--best", "nb201_cifar10", "--data",
        str(tmp_path / "cifar.npz"), "--epochs", "1", "--runs", "3", "--host-profile", "mobile-cpu-a78")
    out = json.loads((tmp_path / "ex" / f"trial-{best.number}" / "report.json").read_text())
    src = out["source"]
    assert src["trial"] == best.number and src["evaluation"]["cell"] == cells[best.number]
    assert src["values"][0] == accuracy[cells[best.number]] and src["rebuild_check"]["match"]
    workload_macs = direct_cost(cells[best.number])["macs"]
    assert out["model"]["macs"] == out["model"]["macs_analytic"] == workload_macs  # the ONNX file is that network
    assert out["dataset"]["input_shape"] == [3, 32, 32] and out["verification"]["parity"]["passed"]


def test_bench_run_two_samplers(tmp_path: Path) -> None:
    """Each run's cells, looked up afresh, give its recorded hypervolume and infeasible counts; the summary's
    medians are those of the runs."""
    from nas_edge.bench import load
    from nas_edge.bench.problem import make_problem
    from nas_edge.spaces.nb201 import network_representatives

    objectives, bound = ["anb_hwt_30d", "energy_uj"], "area_mm2<=30"
    cli("bench", "run", "-O", ",".join(objectives), "-H", PROFILE, "-c", bound, "--samplers", "random,hw",
        "--seeds", "2", "--trials", "10", "--budgets", "5,10", "--jobs", "1", "-o", str(tmp_path))
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert [(r["sampler"], r["seed"]) for r in runs] == [("random", 0), ("hw", 0), ("random", 1), ("hw", 1)]
    problem = make_problem(objectives, PROFILE, [bound])
    accuracy = load().column("anb_hwt_30d")
    seen: dict[int, dict[str, float]] = {}
    for r in runs:
        assert r["objectives"] == objectives and r["constraints"] == [bound] and len(r["cells"]) == 10
        front: list[int] = []
        infeasible = 0
        for k, cell in enumerate(r["cells"]):
            cost = seen.setdefault(cell, direct_cost(cell))
            assert problem.values[cell].tolist() == pytest.approx([accuracy[cell], cost["energy_uj"]], rel=1e-12)
            fits = cost["area_mm2"] <= 30 and cost["feasible"] == 1.0
            infeasible += not fits
            if fits and cell not in front:
                front.append(cell)
            assert r["infeasible"][k] == infeasible
            assert r["hv_ratio"][k] == pytest.approx(problem.hv_ratio(front), rel=1e-12)
    hw = [r for r in runs if r["sampler"] == "hw"]  # one cell per network: no network costed or trained twice
    rep = network_representatives()
    assert all(len({int(rep[c]) for c in r["cells"]}) == 10 for r in hw)
    summary = (tmp_path / "summary.md").read_text()
    for name in ("random", "hw"):
        last = sorted(r["hv_ratio"][-1] for r in runs if r["sampler"] == name)
        assert f"| {name} | " in summary and f"{np.median(last):.4f} [" in summary
    assert (tmp_path / "hv.svg").read_text().count("<path") >= 2

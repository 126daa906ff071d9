"""The table's accuracies as search objectives: ``nas-edge search --space nb201 --evaluator bench`` with chip
knobs (test_bench_e2e has the plain search, report and export), the screening glue, and one clear line for each
kind of bad input."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from nas_edge._text import md_escape
from nas_edge.bench.data import versions
from nas_edge.cli import app
from nas_edge.export.report import metric_label

needs_data = pytest.mark.skipif(None in versions().values(),
                                reason='needs the bench extra: pip install "nas-edge[bench]"')
runner = CliRunner()
BENCH = ["--space", "nb201", "--evaluator", "bench", "--data", "none", "--no-progress"]


def search(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["search", *args])
    return r.exit_code, r.stderr


@needs_data
@pytest.mark.slow
def test_co_search_and_report_of_a_table_study(tmp_path: Path) -> None:
    """With chip knobs the table gives the accuracy and the cost model the rest; report needs no data; export
    says it needs one (test_bench_e2e exports with data)."""
    url = f"sqlite:///{tmp_path / 'h.db'}"
    code, err = search(*BENCH, "--hardware-search", "--objectives", "anb_hwt_30d,energy_uj", "--trials", "10",
                       "--storage", url)
    assert code == 0, err
    study = optuna.load_study(study_name="nas-edge", storage=url)
    assert all("adc_bits" in t.user_attrs["hardware"] for t in study.trials)
    r = runner.invoke(app, ["report", "--storage", url, "-o", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    assert f"| {md_escape(metric_label('anb_hwt_30d'))} |" in (tmp_path / "rep" / "report.md").read_text()
    r = runner.invoke(app, ["export", "--storage", url, "-o", str(tmp_path / "ex"), "--best", "energy_uj"])
    assert r.exit_code == 1 and "used no dataset" in r.stderr and "--data" in r.stderr
    assert not (tmp_path / "ex").exists()


def test_table_fields_are_left_to_the_surrogate() -> None:
    """Screening: costs exact for many candidates, the table's accuracy modelled (as a trained one would be)."""
    from nas_edge.search import Objective, screening_sampler

    obj = Objective("nb201", data=None, objectives=("nb201_cifar10", "energy_uj", "latency_ms"),
                    hardware_search=True, evaluator="bench")
    assert obj.cheap_objective_indices == [1, 2] and obj.evaluator.trained == frozenset()
    assert {"nb201_e10", "hw_adc_bits"} <= set(obj.search_space())
    sampler = screening_sampler(obj)
    assert sampler._cheap_idx == (1, 2)


@pytest.mark.parametrize(("args", "message"), [
    (["--space", "nb201", "--evaluator", "bench", "--objectives", "nb201_cifar10,energy_uj"],
     "search with --data none"),
    ([*BENCH, "--objectives", "nb201_cifar100,energy_uj"], "--space-option num_classes=100"),
    ([*BENCH, "--objectives", "nb201_imagenet16,energy_uj", "--space-option", "num_classes=120"],
     "--space-option input_shape=[3,16,16]"),
    ([*BENCH, "--objectives", "nb201_cifar10,nb201_cifar100"], "mix accuracies of different networks"),
    (["--space", "cnn", "--evaluator", "bench", "--data", "none", "--objectives", "nb201_cifar10,energy_uj"],
     "search the nb201 space, not 'cnn'"),
    (["--space", "nb201", "--data", "none", "--objectives", "nb201_cifar10,energy_uj"], "--evaluator"),
    ([*BENCH, "--objectives", "anb_hwt_45d,energy_uj"], "unknown objective 'anb_hwt_45d'"),
    ([*BENCH, "--evaluator", "bench:cifar", "--objectives", "nb201_cifar10,energy_uj"], "takes no argument"),
    ([*BENCH, "--space-option", "width", "--objectives", "nb201_cifar10,energy_uj"], "KEY=VALUE"),
])
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    code, err = search(*args, "--trials", "2", "--storage", f"sqlite:///{tmp_path / 'x.db'}")
    assert code == 1 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x.db").exists()


def test_missing_extra_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nas_edge.bench.data as data_mod

    def missing(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    data_mod.load.cache_clear()
    try:
        code, err = search(*BENCH, "--objectives", "nb201_cifar10,energy_uj", "--trials", "2", "--storage",
                           f"sqlite:///{tmp_path / 'x.db'}")
    finally:
        monkeypatch.undo()
        data_mod.load.cache_clear()
    assert code == 1 and err.count("\n") == 1 and 'pip install "nas-edge[bench]"' in err
    assert not (tmp_path / "x.db").exists()

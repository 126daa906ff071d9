"""``nas-edge export`` / ``nas-edge report`` on a real (small) study, and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_report import _self_contained
from typer.testing import CliRunner

from nas_edge.cli import app

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

import optuna  # noqa: E402

SMALL_SPACE = {"resolutions": [8], "max_depth": 1, "stem_widths": [8], "widths": [[8], [8, 16], [16]]}


@pytest.fixture(scope="module")
def study_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A study made by nas-edge's Objective (cost objectives only: no training), plus a failed and a pruned
    trial, in SQLite."""
    from nas_edge.search import Objective, run_search

    db = tmp_path_factory.mktemp("study") / "s.db"
    url = f"sqlite:///{db}"
    obj = Objective("cnn", "neurosim-rram-22nm", "digits", objectives=("macs", "energy_uj"),
                    space_options=SMALL_SPACE)
    study = run_search(objective=obj, n_trials=6, storage=url, study_name="s", sampler="random", seed=1)
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, params={"x": 0.5},
                                              distributions=dist))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, params={"x": 0.5},
                                              distributions=dist))
    return url


def _numbers(url: str) -> dict[str, list[int]]:
    study = optuna.load_study(study_name="s", storage=url)
    out: dict[str, list[int]] = {}
    for t in study.trials:
        out.setdefault(t.state.name, []).append(t.number)
    out["pareto"] = sorted(t.number for t in study.best_trials)
    return out


def _invoke(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def test_export_one_trial_and_regenerate_the_report(study_db: str, tmp_path: Path) -> None:
    from jsonschema import validate

    from nas_edge.export import EXPORT_SCHEMA, STUDY_SCHEMA

    n = _numbers(study_db)["pareto"][0]
    out = tmp_path / "out"
    r = _invoke("export", "--storage", study_db, "--study-name", "s", "--trial", str(n), "--epochs", "1",
                "--quantize", "int8", "--runs", "20", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    html = out / "report.html"
    assert r.stdout.strip().splitlines()[-1] == str(html.resolve())
    rec = json.loads((out / f"trial-{n}" / "report.json").read_text())
    validate(rec, EXPORT_SCHEMA)
    src = rec["source"]
    assert src["kind"] == "trial" and src["trial"] == n and src["study"] == "s"
    assert src["rebuild_check"]["match"] and src["rebuild_check"]["macs_rebuilt"] == rec["model"]["macs"]
    assert rec["training"]["epochs"] == 1 and rec["training"]["seed"] == 0
    assert rec["quantization"]["method"] == "static"
    assert [h["name"] for h in rec["hardware"]] == ["neurosim-rram-22nm", "host-calibrated-1t"]
    assert rec["host_estimate"]["calibrated"]
    # the exported graph maps onto the crossbars exactly as the search's analytic workload did
    assert rec["hardware"][0]["totals"]["arrays_used"] == src["cost"]["arrays_used"]
    assert rec["hardware"][0]["totals"]["area_mm2"] == pytest.approx(src["cost"]["area_mm2"])
    study_rec = json.loads((out / "report.json").read_text())
    validate(study_rec, STUDY_SCHEMA)
    assert study_rec["chosen"] == [n] and [e["trial"] for e in study_rec["exports"]] == [n]
    assert study_rec["study"]["states"] == {"COMPLETE": 6, "FAIL": 1, "PRUNED": 1}
    page = html.read_text()
    assert page.count('class="chosen"') == 1 and f'href="trial-{n}/report.html"' in page
    _self_contained(page)
    _self_contained((out / f"trial-{n}" / "report.html").read_text())

    (out / f"trial-{n}" / "report.html").unlink()
    (out / "report.md").unlink()
    r = _invoke("report", "--storage", study_db, "--study-name", "s", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    assert (out / f"trial-{n}" / "report.html").is_file() and (out / "report.md").is_file()
    assert json.loads((out / "report.json").read_text())["exports"][0]["trial"] == n


def _assert_untouched(out: Path) -> None:
    assert not out.exists() or not list(out.iterdir()), list(out.iterdir())


@pytest.mark.parametrize(("args", "message"), [
    (("--study-name", "nope"), "no study 'nope'"),
    (("--trial", "99"), "has no trial 99"),
    (("--best", "accuracy"), "has no objective 'accuracy'"),
    (("--trial", "1", "--best", "macs"), "choose one of --trial, --pareto, --best"),
    (("--quantize", "int4"), "unknown --quantize"),
])
def test_bad_selection(study_db: str, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    out = tmp_path / "out"
    base = ["export", "--storage", study_db, "--out", str(out)]
    r = _invoke(*base, *(() if "--study-name" in args else ("--study-name", "s")), *args)
    assert r.exit_code == 1 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    _assert_untouched(out)


@pytest.mark.parametrize(("state", "message"), [("FAIL", "failed: nothing to export"), ("PRUNED", "was pruned")])
def test_failed_and_pruned_trials_are_refused(study_db: str, tmp_path: Path, state: str, message: str) -> None:
    n = _numbers(study_db)[state][0]
    out = tmp_path / "out"
    r = _invoke("export", "--storage", study_db, "--study-name", "s", "--trial", str(n), "--out", str(out))
    assert r.exit_code == 1 and f"trial {n} of study 's' {message}" in r.stderr
    _assert_untouched(out)


def test_missing_database_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "missing.db"
    r = _invoke("export", "--storage", f"sqlite:///{db}", "--study-name", "s", "--out", str(tmp_path / "o"))
    assert r.exit_code == 1 and "does not exist" in r.stderr
    assert not db.exists()
    r = _invoke("report", "--storage", f"sqlite:///{db}", "--study-name", "s", "--out", str(tmp_path / "o"))
    assert r.exit_code == 1 and "does not exist" in r.stderr and not db.exists()


def test_unwritable_output_folder(study_db: str, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    r = _invoke("export", "--storage", study_db, "--study-name", "s", "--out", str(blocker / "out"))
    assert r.exit_code == 1 and "cannot write to output folder" in r.stderr and "Traceback" not in r.stderr
    r = _invoke("report", "--storage", study_db, "--study-name", "s", "--out", str(blocker / "out"))
    assert r.exit_code == 1 and "cannot write to output folder" in r.stderr


class _Diverges(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1)) + (0.5 if torch.compiler.is_exporting() else 0.0)


def test_parity_failure_writes_nothing(study_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nas_edge.spaces.cnn.CNNSpace.build", lambda self, arch: _Diverges())
    out = tmp_path / "out"
    out.mkdir()
    r = _invoke("export", "--storage", study_db, "--study-name", "s", "--pareto", "--epochs", "1", "--out", str(out))
    assert r.exit_code == 1 and "parity check failed" in r.stderr and "Traceback" not in r.stderr
    assert list(out.iterdir()) == []  # no trial folder, no study report, no staging folder


def test_report_without_exports_shows_analytic_mapping(study_db: str, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    r = _invoke("report", "--storage", study_db, "--study-name", "s", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    rec = json.loads((out / "report.json").read_text())
    pareto = _numbers(study_db)["pareto"]
    assert rec["chosen"] == pareto == rec["pareto"] and rec["exports"] == []
    assert [a["trial"] for a in rec["analytic"]] == pareto
    study = optuna.load_study(study_name="s", storage=study_db)
    for a in rec["analytic"]:
        stored = study.trials[a["trial"]].user_attrs["cost"]
        assert a["cost"]["totals"]["energy_uj"] == pytest.approx(stored["energy_uj"])  # same model, same chip
    r = _invoke("report", "--storage", study_db, "--study-name", "s", "--out", str(out), "--trial", "999")
    assert r.exit_code == 1 and "has no trial 999" in r.stderr


def test_hardware_co_search_profiles_are_rebuilt(tmp_path: Path) -> None:
    """With chip co-search each trial has its own profile: the report costs each trial on its own chip."""
    from nas_edge.search import Objective, run_search

    url = f"sqlite:///{tmp_path / 'co.db'}"
    obj = Objective("cnn", "neurosim-rram-22nm", "digits", objectives=("energy_uj", "area_mm2"),
                    space_options=SMALL_SPACE, hardware_search=True)
    study = run_search(objective=obj, n_trials=5, storage=url, study_name="co", sampler="random", seed=3)
    n = study.best_trials[0].number
    r = _invoke("report", "--storage", url, "--study-name", "co", "--out", str(tmp_path / "rep"), "--trial", str(n))
    assert r.exit_code == 0, r.stderr
    (entry,) = json.loads((tmp_path / "rep" / "report.json").read_text())["analytic"]
    trial = study.trials[n]
    assert entry["cost"]["name"] == trial.user_attrs["hardware"]["profile"] != "neurosim-rram-22nm"
    assert entry["cost"]["totals"]["energy_uj"] == pytest.approx(trial.user_attrs["cost"]["energy_uj"])
    assert entry["cost"]["totals"]["area_mm2"] == pytest.approx(trial.user_attrs["cost"]["area_mm2"])
    # the report names the chip by its knobs and base, and every trial row has its chip
    assert entry["cost"]["chip"] == trial.user_attrs["chip"] and entry["cost"]["base"] == "neurosim-rram-22nm"
    page = (tmp_path / "rep" / "report.html").read_text()
    assert f"{trial.user_attrs['chip']} (knobs chosen by the search on base neurosim-rram-22nm)" in page
    rows = json.loads((tmp_path / "rep" / "report.json").read_text())["trials"]
    assert [row["chip"] for row in rows] == [t.user_attrs["chip"] for t in study.trials]


def test_select_trials(study_db: str) -> None:
    from nas_edge.export import TrialSelectionError, select_trials
    from nas_edge.export.study import load_study

    study = load_study(study_db, "s")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert [t.number for t in select_trials(study)] == _numbers(study_db)["pareto"]
    assert select_trials(study, pareto=True) == select_trials(study)
    (best_macs,) = select_trials(study, best="macs")  # minimised
    assert best_macs.values[0] == min(t.values[0] for t in done)
    (best_energy,) = select_trials(study, best="energy_uj")
    assert best_energy.values[1] == min(t.values[1] for t in done)
    assert [t.number for t in select_trials(study, trial=done[-1].number)] == [done[-1].number]
    with pytest.raises(TrialSelectionError, match="choose one of"):
        select_trials(study, trial=0, pareto=True)


def test_export_retrains_with_the_search_training_options(tmp_path: Path) -> None:
    from nas_edge.export import ExportError
    from nas_edge.export.study import load_study, rebuild, train_config
    from nas_edge.search import Objective, run_search

    url = f"sqlite:///{tmp_path / 'tr.db'}"
    training = {"epochs": 1, "lr": 2e-3, "batch_size": 32, "weight_decay": 0.0, "max_train_samples": 64}
    obj = Objective("cnn", "neurosim-rram-22nm", "digits", objectives=("accuracy", "energy_uj"),
                    space_options=SMALL_SPACE, training=training)
    run_search(objective=obj, n_trials=1, storage=url, study_name="tr", sampler="random", seed=0)
    study = load_study(url, "tr")
    rb = rebuild(study, study.trials[0])
    cfg = train_config(rb, None, seed=5)
    assert (cfg.epochs, cfg.lr, cfg.batch_size, cfg.weight_decay, cfg.max_train_samples, cfg.seed) == (
        1, 2e-3, 32, 0.0, 64, 5)
    assert train_config(rb, 3, seed=0).epochs == 3  # the export's --epochs wins
    study.set_user_attr("nas_edge", {**study.user_attrs["nas_edge"], "training": {**training, "lr": -1.0}})
    with pytest.raises(ExportError, match="training options"):
        train_config(rebuild(study, study.trials[0]), None, seed=0)


# -- infeasible trials: never picked, always flagged ---------------------------------------------------------

@pytest.fixture(scope="module")
def constrained_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A study whose constraint (``macs>=120000``) makes the smallest networks infeasible: the trial with the
    best ``macs`` value breaks it."""
    from nas_edge.search import Objective, run_search

    url = f"sqlite:///{tmp_path_factory.mktemp('constrained') / 'c.db'}"
    obj = Objective("cnn", "neurosim-rram-22nm", "digits", objectives=("macs", "energy_uj"),
                    space_options=SMALL_SPACE, constraints={"macs": ">=120000"})
    run_search(objective=obj, n_trials=8, storage=url, study_name="c", sampler="random", seed=1)
    return url


def _feasibility(url: str) -> tuple[Any, set[int], set[int]]:
    study = optuna.load_study(study_name="c", storage=url)
    feasible = {t.number for t in study.trials if all(v <= 0 for v in t.constraints.values())}
    infeasible = {t.number for t in study.trials} - feasible
    best_macs = min(study.trials, key=lambda t: t.values[0])
    assert feasible and infeasible and best_macs.number in infeasible  # what the tests below rely on
    return study, feasible, infeasible


def test_infeasible_trials_are_not_selected(constrained_db: str) -> None:
    from nas_edge.export import select_trials
    from nas_edge.export.study import feasible, load_study, rebuild

    _, ok, bad = _feasibility(constrained_db)
    study = load_study(constrained_db, "c")
    assert {t.number for t in study.trials if feasible(t)} == ok
    (best,) = select_trials(study, best="macs")
    assert best.number in ok
    assert best.values[0] == min(t.values[0] for t in study.trials if t.number in ok)
    front = select_trials(study, pareto=True)
    assert front and {t.number for t in front} <= ok
    assert [t.number for t in front] == sorted(t.number for t in study.best_trials)
    # a trial asked for by number is exported, with the warning and the flag in its source record
    rb = rebuild(study, study.trials[min(bad)])
    assert rb.source["feasible"] is False
    assert any("breaks a constraint" in w for w in rb.warnings)
    assert rebuild(study, best).source["feasible"] is True


def test_export_best_skips_a_better_infeasible_trial(constrained_db: str, tmp_path: Path) -> None:
    _, ok, _ = _feasibility(constrained_db)
    out = tmp_path / "out"
    r = _invoke("export", "--storage", constrained_db, "--study-name", "c", "--best", "macs", "--epochs", "1",
                "--runs", "5", "--host-profile", "mobile-cpu-a78", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    rec = json.loads((folder / "report.json").read_text())
    assert rec["source"]["trial"] in ok and rec["source"]["feasible"] is True and rec["warnings"] == []


def test_report_flags_infeasible_trials(constrained_db: str, tmp_path: Path) -> None:
    _, ok, bad = _feasibility(constrained_db)
    out = tmp_path / "rep"
    r = _invoke("report", "--storage", constrained_db, "--study-name", "c", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    rec = json.loads((out / "report.json").read_text())
    assert {row["number"]: row["feasible"] for row in rec["trials"]} == {n: n in ok for n in ok | bad}
    assert set(rec["pareto"]) <= ok and set(rec["chosen"]) <= ok
    md = (out / "report.md").read_text()
    for n in bad:  # the feasibility column says "no" for every infeasible trial
        (line,) = [ln for ln in md.splitlines() if ln.startswith(f"| #{n} |")]
        assert "| no |" in line

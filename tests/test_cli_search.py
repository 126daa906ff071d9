"""``nas-edge search``: a run, a resume, and one clear error (nothing written) for each kind of bad input."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import optuna
import pytest
from typer.testing import CliRunner

from nas_edge.cli import app

runner = CliRunner()
FAST = ["--objectives", "naswot,energy_uj", "--sampler", "random", "--no-progress"]


def invoke(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, ["search", *args])
    return res.exit_code, res.stdout, res.stderr


def test_search_runs_resumes_and_prints_the_pareto_front(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    url = f"sqlite:///{db}"
    code, out, err = invoke(*FAST, "--trials", "3", "--storage", url, "--constraint", "area_mm2<=60",
                            "--hardware-search", "--seed", "2")
    assert code == 0, err
    assert "Pareto front of 'nas-edge'" in out and "naswot" in out and "energy_uj" in out
    lines = out.splitlines()  # not a terminal: plain text, one line a trial, the architecture whole at the end
    assert lines[1].split()[:3] == ["trial", "naswot", "energy_uj"] and "│" not in out
    study = optuna.load_study(study_name="nas-edge", storage=url)
    for t in study.best_trials:
        from nas_edge.spaces import Architecture

        assert any(line.endswith(Architecture.from_dict(t.user_attrs["arch"]).summary()) for line in lines)
    study = optuna.load_study(study_name="nas-edge", storage=url)
    assert len(study.trials) == 3 and study.metric_names == ["naswot", "energy_uj"]
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    code, out, err = invoke(*FAST, "--trials", "5", "--storage", url, "--constraint", "area_mm2<=60",
                            "--hardware-search", "--seed", "2")
    assert code == 0, err
    assert "resuming study 'nas-edge': 3 finished" in err
    assert len(optuna.load_study(study_name="nas-edge", storage=url).trials) == 5


def test_default_storage_is_sqlite_file_in_the_working_directory(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke("--objectives", "energy_uj", "--trials", "2", "--no-progress", "--space", "transformer")
    assert code == 0, err
    assert optuna.get_all_study_names("sqlite:///nas_edge.db") == ["nas-edge"]


@pytest.fixture
def bad_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    np.savez(tmp_path / "missing.npz", x_train=np.zeros((4, 6, 6)), y_train=np.array([0, 1, 0, 1]))
    np.savez(tmp_path / "mismatch.npz", x_train=np.zeros((4, 6, 6)), y_train=np.array([0, 1, 0]),
             x_val=np.zeros((2, 6, 6)), y_val=np.array([0, 1]))
    (tmp_path / "cli_user_data.py").write_text(textwrap.dedent("""
        def wrong():
            return {"train": [1, 2, 3]}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("cli_user_data", None)


@pytest.mark.parametrize(("args", "message"), [
    (["--space", "resnet"], "unknown search space 'resnet'"),
    (["--objectives", "accuracy,power"], "unknown objective 'power'"),
    (["--constraint", "volume<=3"], "unknown constraint name 'volume'"),
    (["--constraint", "area_mm2 < 50"], "malformed constraint"),
    (["--data", "missing.npz"], "missing arrays x_val, y_val"),
    (["--data", "mismatch.npz"], "x_train has 4 samples but y_train has 3"),
    (["--data", "cli_user_data:wrong"], "expected a pair (train_dataset, val_dataset)"),
    (["--data", "nowhere.npz"], "no such dataset file"),
    (["--hardware", "chip.yaml"], "no such profile file"),
    (["--storage", "sqlite:////no/such/dir/s.db"], "cannot open storage"),
    (["--storage", "nosuchdb://x/y"], "cannot open storage"),
    (["--sampler", "bayes"], "unknown sampler 'bayes'"),
    (["--pruner", "median"], "needs a single objective"),
    (["--sampler", "cmaes"], "single objective"),
    (["--trials", "0"], "--trials must be at least 1"),
    (["--hardware", "mobile-cpu-a78", "--hardware-search"], "needs an IMC base profile"),
])
def test_bad_input_is_one_clear_line_and_nothing_is_written(bad_inputs: Path, args: list[str], message: str) -> None:
    code, out, err = invoke(*args)
    assert code == 1
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert message in " ".join(err.split()), err
    assert "Traceback" not in err + out
    assert not (bad_inputs / "nas_edge.db").exists()  # the study was never created


def test_a_different_search_into_an_existing_study_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert invoke("--objectives", "energy_uj", "--trials", "1", "--storage", url, "--no-progress")[0] == 0
    code, _, err = invoke("--objectives", "latency_ms", "--trials", "2", "--storage", url, "--no-progress")
    assert code == 1 and "different objectives" in err
    assert len(optuna.load_study(study_name="nas-edge", storage=url).trials) == 1


def test_cli_import_does_not_import_torch_or_optuna() -> None:
    code = ("import sys; import nas_edge, nas_edge.cli; "
            "assert 'torch' not in sys.modules and 'optuna' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
    res = subprocess.run([sys.executable, "-c", "from nas_edge.cli import main; main()", "search", "--help"],
                         capture_output=True, text=True, check=True)
    assert "--hardware-search" in res.stdout and "--constraint" in res.stdout

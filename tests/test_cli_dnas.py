"""``nas-edge search --method dnas``: a tiny sweep recorded as ordinary trials, resumed, and one clear error
(nothing written) for each input DNAS refuses."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from nas_edge.cli import app
from nas_edge.dnas import USER_ATTR
from nas_edge.search import TRACE_ATTR, Trace

runner = CliRunner()
TINY = ["--method", "dnas", "--objectives", "accuracy,energy_uj", "--epochs", "1", "--no-progress",
        "--method-option", "warmup_epochs=1", "--method-option", "epochs=2",
        "--method-option", "max_train_samples=160", "--method-option", "batch_size=32"]


def invoke(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, ["search", *args])
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.slow
@pytest.mark.usefixtures("torch_one_thread")
def test_dnas_sweep_is_recorded_as_trials_and_a_rerun_resumes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    args = [*TINY, "--storage", url, "--lambda", "0,5", "--target", "energy_uj<=0.2",
            "--method-option", "cnn_resolution_fixed=1"]
    code, _, err = invoke(*args)  # an unknown setting: refused before anything runs
    assert code == 1 and "unknown DNAS option cnn_resolution_fixed" in err
    code, out, err = invoke(*args[:-2])
    assert code == 0, err
    assert "Pareto front of 'nas-edge'" in out
    study = optuna.load_study(study_name="nas-edge", storage=url)
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    attrs = [t.user_attrs[USER_ATTR] for t in trials]
    assert [(a["lambda"], a["target"]) for a in attrs] == [(0.0, None), (5.0, None), (None, "energy_uj<=0.2")]
    lambdas = []
    for t, a in zip(trials, attrs, strict=True):
        assert t.values[1] == pytest.approx(a["cost"], rel=1e-9)  # the trial's energy is the table's exact cost
        trace = Trace.from_attr(t.user_attrs[TRACE_ATTR])
        assert trace is not None and trace.x == [1.0, 2.0] and a["config"]["epochs"] == 2
        lambdas.append(trace.plots[0].series["lambda"])
        assert t.user_attrs["arch"]  # an ordinary trial: architecture, cost, evaluation as any other
    assert lambdas[1] == [5.0, 5.0] and lambdas[2][-1] == pytest.approx(attrs[2]["final_lambda"], rel=1e-3)
    code, _, err = invoke(*args[:-2])  # the same command again: every point is recorded, nothing reruns
    assert code == 0, err
    assert "resuming study 'nas-edge': 3 finished" in err
    assert len(optuna.load_study(study_name="nas-edge", storage=url).trials) == 3


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("args", "message"), [
    (["--lambda", "-1"], "lambda must be a finite number >= 0"),
    (["--lambda", "0.1,abc"], "lambda 'abc' is not a number"),
    (["--target", "energy_uj>=0.1"], "bounds the cost from above"),
    (["--target", "energy_uj<=1e-9"], "no architecture meets the target energy_uj<=1e-09"),
    (["--objectives", "accuracy,tops_per_w"], "cannot penalise 'tops_per_w': it is a ratio"),
    (["--space", "transformer"], "cannot relax the 'transformer' space"),
    (["--hardware-search"], "cannot relax hardware co-search"),
    (["--method-option", "epochs=0"], "DNAS settings: epochs=0"),
    (["--method-option", "epochs"], "--method-option 'epochs': expected KEY=VALUE"),
    (["--method", "sampler", "--lambda", "0.1"], "the sampler search method takes no options (got lambdas)"),
    (["--method", "darts"], "unknown search method 'darts'"),
])
def test_bad_dnas_input_is_one_clear_line_and_nothing_is_written(workdir: Path, args: list[str],
                                                                  message: str) -> None:
    code, out, err = invoke("--method", "dnas", "--no-progress", *args)
    assert code == 1, out + err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert message in " ".join(err.split()), err
    assert "Traceback" not in err + out
    assert not (workdir / "nas_edge.db").exists()  # the study was never created

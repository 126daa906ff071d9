"""Export respects the user's limits (issue 17, item 5) and shows the long steps (item 6): trials at chance
level are left out of the front with a warning naming them, ``--min-accuracy`` sets another limit, an
explicitly asked trial below it is refused; the Python ``export_study`` prints the CLI's progress lines,
the training's epochs among them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report_browser import CHROMIUM, assert_fits
from typer.testing import CliRunner

from nas_edge.cli import app

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

import optuna

SMALL_SPACE = {"resolutions": [8], "max_depth": 1, "stem_widths": [8], "widths": [[8], [8, 16], [16]]}


@pytest.fixture(scope="module")
def study_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, int]:
    """One trained trial and, beside it on the front, a copy of it whose accuracy is chance level (0.1 on the
    ten digits) and whose energy is lower: what a skipped or diverged training leaves on a real front."""
    from nas_edge.search import Objective, run_search

    url = f"sqlite:///{tmp_path_factory.mktemp('acc') / 'a.db'}"
    obj = Objective("cnn", "neurosim-rram-22nm", "digits", objectives=("accuracy", "energy_uj"),
                    space_options=SMALL_SPACE, training={"epochs": 3})
    study = run_search(objective=obj, n_trials=1, storage=url, study_name="a", sampler="random", seed=0)
    real = study.trials[0]
    assert real.values[0] > 0.3  # three epochs on the digits are well above chance
    study.add_trial(optuna.trial.create_trial(
        values=[0.1, real.values[1] * 0.5], params=real.params, distributions=real.distributions,
        user_attrs=real.user_attrs, system_attrs=real.system_attrs))
    fake = study.trials[-1].number
    assert {t.number for t in study.best_trials} == {real.number, fake}
    return url, real.number, fake


def test_selection_leaves_chance_level_trials_out(study_db: tuple[str, int, int]) -> None:
    from nas_edge.export.study import TrialSelectionError, accuracy_floor, load_study, select_trials

    url, real, fake = study_db
    study = load_study(url, "a")
    name, limit, _ = accuracy_floor(study)
    assert name == "accuracy" and limit == pytest.approx(0.19)  # chance 0.1 + 10 % of the way to 1
    skipped: dict[int, str] = {}
    assert [t.number for t in select_trials(study, min_accuracy="chance", skipped=skipped)] == [real]
    assert list(skipped) == [fake] and "accuracy 0.1000 < 0.1900" in skipped[fake]
    assert {t.number for t in select_trials(study, min_accuracy=0.0)} == {real, fake}
    assert [t.number for t in select_trials(study, best="energy_uj", min_accuracy="chance")] == [real]
    assert [t.number for t in select_trials(study, best="energy_uj")] == [fake]  # no limit: the copy wins
    with pytest.raises(TrialSelectionError, match="pass min_accuracy=0 to export it anyway") as info:
        select_trials(study, trial=fake, min_accuracy="chance")
    assert "--" not in str(info.value) and "pass --min-accuracy 0" in info.value.cli_message
    with pytest.raises(TrialSelectionError, match=r"no feasible trial .* reaches accuracy 0\.9999"):
        select_trials(study, min_accuracy=0.9999)


def test_cli_refuses_a_trial_below_the_limit_before_any_work(study_db: tuple[str, int, int], tmp_path: Path) -> None:
    url, _, fake = study_db
    r = CliRunner().invoke(app, ["export", "--storage", url, "--study-name", "a", "--trial", str(fake),
                                 "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and f"trial {fake}: accuracy 0.1000" in r.stderr and "--min-accuracy 0" in r.stderr
    assert not (tmp_path / "o").exists()
    r = CliRunner().invoke(app, ["export", "--storage", url, "--study-name", "a", "--min-accuracy", "1.5",
                                 "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--min-accuracy" in r.stderr


def test_python_export_prints_progress_and_names_the_skipped_trial(study_db: tuple[str, int, int], tmp_path: Path,
                                                                 capfd: pytest.CaptureFixture[str]) -> None:
    from nas_edge.export import ExportOptions, export_study

    url, real, fake = study_db
    res = export_study(url, "a", tmp_path / "out", pareto=True, epochs=2,
                       options=ExportOptions(runs=5, warmup=1, host_profile="mobile-cpu-a78"))
    err = capfd.readouterr().err
    assert [e.record["source"]["trial"] for e in res.exports] == [real] and list(res.skipped) == [fake]
    assert f"warning: not exporting trial {fake} of the Pareto front: accuracy 0.1000 < 0.1900" in err
    assert f"[1/1] trial {real}:" in err
    assert "epoch 1/2 (val accuracy" in err and "epoch 2/2 (val accuracy" in err  # inside the long step
    assert json.loads((tmp_path / "out" / f"trial-{real}" / "report.json").read_text())["training"]["epochs"] == 2
    import onnx

    model = onnx.load(str(tmp_path / "out" / f"trial-{real}" / "model.onnx"))
    props = {p.key: p.value for p in model.metadata_props}
    assert (props["study"], props["trial"], props["hardware"]) == ("a", str(real), "neurosim-rram-22nm")
    assert set(json.loads(props["objectives"])) == {"accuracy", "energy_uj"}
    assert f"trial {real} of study 'a'" in model.doc_string
    if CHROMIUM is not None:  # the real pages, not only the rendered test records, fit 800 px in a browser
        for page in (tmp_path / "out" / f"trial-{real}" / "report.html", tmp_path / "out" / "report.html"):
            work = tmp_path / page.parent.name
            work.mkdir(exist_ok=True)
            assert_fits(page.read_text(), work)

"""Progress inside a trial (issue 17, item 6): the epochs of a training and the simulated chips of an analog
evaluation are reported while they run, and ``nas-edge search`` shows them on its progress bar."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas_edge._progress import Step, listening, report

torch = pytest.importorskip("torch")


def test_listeners_hear_steps_only_while_listening() -> None:
    heard: list[Step] = []
    report("epoch", 1, 2)  # nobody listens: nothing happens
    with listening(heard.append):
        report("epoch", 1, 2, "val accuracy 0.500")
    report("epoch", 2, 2)
    assert [str(s) for s in heard] == ["epoch 1/2 (val accuracy 0.500)"]


def test_training_and_analog_simulation_report_their_steps() -> None:
    from nas_edge.analog import AnalogConfig, evaluate_analog
    from nas_edge.evaluate import TrainConfig, load_data, train_and_evaluate
    from nas_edge.spaces import create_space

    data = load_data("digits")
    space = create_space("cnn", **data.space_kwargs())
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    arch = space.suggest(study.ask())
    heard: list[Step] = []
    with listening(heard.append):
        torch.manual_seed(0)
        model = space.build(arch)
        res = train_and_evaluate(model, data, TrainConfig(epochs=2, max_train_samples=512))
        evaluate_analog(model, data, AnalogConfig.from_profile("pcm-aihwkit-14nm"), times=(1.0,), repeats=2)
    epochs = [s for s in heard if s.task == "epoch"]
    assert [(s.done, s.total) for s in epochs] == [(1, 2), (2, 2)]
    assert epochs[-1].detail == f"val accuracy {res.accuracy:.3f}"
    assert [(s.done, s.total) for s in heard if s.task == "analog chip"] == [(1, 2), (2, 2)]


def test_search_progress_bar_shows_the_running_trials_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.progress import Progress
    from typer.testing import CliRunner

    from nas_edge.cli import app

    shown: list[str] = []
    update = Progress.update

    def spy(self: Progress, task_id: object, **kw: object) -> None:
        if kw.get("description"):
            shown.append(str(kw["description"]))
        update(self, task_id, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Progress, "update", spy)
    r = CliRunner().invoke(app, ["search", "--objectives", "accuracy,energy_uj", "--epochs", "2", "--trials", "2",
                                 "--sampler", "random", "--storage", f"sqlite:///{tmp_path / 's.db'}"])
    assert r.exit_code == 0, r.stderr
    assert any(d.startswith("running: epoch 1/2 (val accuracy") for d in shown), shown
    assert any(d.startswith("trial 0 complete, Pareto front 1 · running: epoch 2/2") for d in shown), shown

"""Supernet training: it learns, a run killed for real resumes to the same weights as an uninterrupted one,
checkpoints load with ``weights_only`` and refuse what they were not trained for (one clear message each),
and two gloo processes under ``torchrun`` train what one process trains."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")

from nas_edge.analog import HWAConfig  # noqa: E402
from nas_edge.cli import app  # noqa: E402
from nas_edge.evaluate import from_arrays, load_data  # noqa: E402
from nas_edge.spaces import create_space  # noqa: E402
from nas_edge.supernet import (  # noqa: E402
    SupernetConfig,
    SupernetError,
    SupernetEvaluator,
    SupernetScorer,
    build_supernet,
    load_checkpoint,
    train_supernet,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")
runner = CliRunner()
SMALL_VIT = {"embed_dims": (8, 16), "heads": (1, 2), "mlp_ratios": (1, 2), "max_depth": 2}


def _token_arrays(n: int = 192, length: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """Label: whether token 1 occurs more often than token 2 (learnable from counts)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, (n, length))
    y = ((x == 1).sum(1) > (x == 2).sum(1)).astype(np.int64)
    k = n * 2 // 3
    return {"x_train": x[:k], "y_train": y[:k], "x_val": x[k:], "y_val": y[k:]}


@pytest.fixture(scope="module")
def tokens():
    a = _token_arrays()
    return from_arrays("tokens", a["x_train"], a["y_train"], a["x_val"], a["y_val"])


@pytest.fixture(scope="module")
def space(tokens):
    return create_space("transformer", **tokens.space_kwargs(), **SMALL_VIT)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, space, tokens):
    path = tmp_path_factory.mktemp("sn") / "supernet.pt"
    result = train_supernet(space, tokens, SupernetConfig(epochs=8, batch_size=16, device="cpu", threads=1),
                            out=path)
    return path, result


def test_training_learns_and_writes_a_finished_checkpoint(trained, space, tokens):
    path, result = trained
    assert result.epochs == 8 and len(result.history) == 8 and not result.already_finished
    assert result.history[-1] < result.history[0]
    ckpt = load_checkpoint(path)
    assert ckpt["progress"]["finished"] and "optimizer" not in ckpt
    assert ckpt["data"]["fingerprint"] == tokens.fingerprint and ckpt["space"] == "transformer"
    largest = SupernetScorer(path, device="cpu")(space.from_params(
        {"vit_embed": 16, "vit_depth": 2, "vit_heads": 2, "vit_mlp_ratio": 2}), tokens)
    majority = max(np.mean(tokens.y_val), 1 - np.mean(tokens.y_val))
    assert largest["accuracy"] > majority  # learnt more than the class prior


def test_a_finished_checkpoint_is_not_trained_again(trained, space, tokens):
    path, _ = trained
    before = path.read_bytes()
    again = train_supernet(space, tokens, SupernetConfig(epochs=8, batch_size=16, device="cpu", threads=1),
                           out=path)
    assert again.already_finished and path.read_bytes() == before


def test_hardware_aware_training_records_the_chip_and_differs_from_plain(tmp_path, space, tokens):
    plain = SupernetConfig(epochs=1, batch_size=16, device="cpu", threads=1, warmup=0.0)
    hwa = SupernetConfig(**{**plain.__dict__, "hwa": HWAConfig(), "hardware": "pcm-aihwkit-14nm"})
    train_supernet(space, tokens, plain, out=tmp_path / "plain.pt")
    train_supernet(space, tokens, hwa, out=tmp_path / "hwa.pt")
    a, b = load_checkpoint(tmp_path / "plain.pt"), load_checkpoint(tmp_path / "hwa.pt")
    assert a["analog"] is None and b["analog"]["programming_noise"] == "pcm"
    assert b["training"]["hwa"]["noise_scale"] == 1.0 and b["training"]["hardware"] == "pcm-aihwkit-14nm"
    assert any(not torch.equal(a["model"][k], b["model"][k]) for k in a["model"])  # the noise changed the steps
    with pytest.raises(SupernetError, match="needs a hardware profile"):
        SupernetConfig(hwa=HWAConfig())


class _Stop(Exception):
    pass


def test_a_run_stopped_mid_epoch_resumes_to_the_same_weights(tmp_path, space, tokens):
    cfg = SupernetConfig(epochs=2, batch_size=16, device="cpu", threads=1, checkpoint_seconds=0)
    train_supernet(space, tokens, cfg, out=tmp_path / "whole.pt")

    def stop(event):
        if event.kind == "step" and (event.epoch, event.step) == (1, 2):
            raise _Stop

    with pytest.raises(_Stop):
        train_supernet(space, tokens, cfg, out=tmp_path / "cut.pt", progress=stop)
    progress = load_checkpoint(tmp_path / "cut.pt")["progress"]
    assert (progress["epoch"], progress["step"], progress["finished"]) == (1, 1, False)
    resumed = train_supernet(space, tokens, cfg, out=tmp_path / "cut.pt")
    assert resumed.resumed_at == (1, 1)
    whole, cut = load_checkpoint(tmp_path / "whole.pt"), load_checkpoint(tmp_path / "cut.pt")
    assert whole["progress"]["history"] == cut["progress"]["history"]
    assert all(torch.equal(whole["model"][k], cut["model"][k]) for k in whole["model"])


@pytest.mark.parametrize(("change", "message"), [
    ({"space": {"embed_dims": (8, 24)}}, "configuration differs: embed_dims: trained [8, 16], here [8, 24]"),
    ({"data": 1}, "was trained on other data"),
    ({"config": {"lr": 1e-3}}, "other settings (resume with the same ones, or write to another --out): lr"),
])
def test_resuming_with_another_space_data_or_settings_is_refused(tmp_path, space, tokens, change, message):
    cfg = SupernetConfig(epochs=2, batch_size=16, device="cpu", threads=1)
    path = tmp_path / "s.pt"
    train_supernet(space, tokens, SupernetConfig(epochs=2, batch_size=16, device="cpu", threads=1), out=path)
    before = path.read_bytes()
    other_space = create_space("transformer", **tokens.space_kwargs(), **{**SMALL_VIT, **change.get("space", {})})
    other_data = tokens
    if "data" in change:
        a = _token_arrays(seed=1)
        other_data = from_arrays("tokens", a["x_train"], a["y_train"], a["x_val"], a["y_val"])
    other_cfg = SupernetConfig(**{**cfg.__dict__, **change.get("config", {})})
    with pytest.raises(SupernetError) as info:
        train_supernet(other_space, other_data, other_cfg, out=path)
    assert message in str(info.value)
    assert path.read_bytes() == before


def test_a_diverging_supernet_training_is_an_error_and_keeps_the_last_checkpoint(tmp_path, space, tokens,
                                                                                 monkeypatch):
    """The loss checked before the step, as in stand-alone training: no NaN weights are ever saved."""
    from nas_edge.evaluate import TrainingError
    from nas_edge.supernet import train as train_module

    cfg = SupernetConfig(epochs=2, batch_size=16, device="cpu", threads=1)
    calls = []

    class NaNAfterOneEpoch(train_module.SandwichLoss):
        def forward(self, x, y, archs):
            calls.append(1)
            loss = super().forward(x, y, archs)
            return loss * float("nan") if len(calls) > 8 else loss  # 8 steps in an epoch

    monkeypatch.setattr(train_module, "SandwichLoss", NaNAfterOneEpoch)
    with pytest.raises(TrainingError, match="training diverged: the loss became nan in epoch 2"):
        train_supernet(space, tokens, cfg, out=tmp_path / "s.pt")
    ckpt = load_checkpoint(tmp_path / "s.pt")
    assert ckpt["progress"]["epoch"] == 1 and not ckpt["progress"]["finished"]
    assert all(bool(torch.isfinite(v).all()) for v in ckpt["model"].values() if v.is_floating_point())


def test_unreadable_checkpoints_are_refused_with_one_message(tmp_path, trained):
    path, _ = trained
    good = path.read_bytes()
    cases = {"truncated.pt": good[:len(good) // 2], "garbage.pt": os.urandom(4096), "empty.pt": b""}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(SupernetError, match="not a readable supernet checkpoint"):
            SupernetScorer(tmp_path / name, device="cpu")
    torch.save({"format": "nas-edge-supernet", "version": 1, "x": _Stop()}, tmp_path / "code.pt")
    with pytest.raises(SupernetError, match="not a readable supernet checkpoint"):  # weights_only refuses objects
        SupernetScorer(tmp_path / "code.pt", device="cpu")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(SupernetError, match="not a nas-edge supernet checkpoint"):
        SupernetScorer(tmp_path / "other.pt", device="cpu")
    with pytest.raises(SupernetError, match="no such supernet checkpoint"):
        SupernetScorer(tmp_path / "absent.pt", device="cpu")


def test_the_scorer_refuses_another_space_or_data(trained, tokens):
    path, _ = trained
    scorer = SupernetScorer(path, device="cpu")
    scorer.check(space=scorer.space, data=tokens)  # its own: fine
    with pytest.raises(SupernetError, match="is a supernet of space 'transformer', not 'cnn'"):
        scorer.check(space=create_space("cnn", input_shape=(1, 8, 8), num_classes=10))
    with pytest.raises(SupernetError, match="max_depth: trained 2, here 4"):
        scorer.check(space=create_space("transformer", **tokens.space_kwargs(), **{**SMALL_VIT, "max_depth": 4}))
    a = _token_arrays(seed=3)
    with pytest.raises(SupernetError, match="was trained on other data"):
        scorer(scorer.space.sample(0), from_arrays("tokens", a["x_train"], a["y_train"], a["x_val"], a["y_val"]))


def test_a_search_scores_its_trials_with_the_supernet(trained, tokens):
    """``Objective(evaluator=SupernetEvaluator(FILE))``: each trial's accuracy is the inherited one, nothing is
    trained, and a search on another space is refused before a study exists."""
    import optuna

    from nas_edge.search import Objective

    path, _ = trained
    evaluator = SupernetEvaluator(path, device="cpu")
    objective = Objective("transformer", "neurosim-rram-22nm", tokens, objectives=("accuracy", "energy_uj"),
                          space_options=SMALL_VIT, evaluator=evaluator)
    study = objective.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=4)
    scorer = SupernetScorer(path, device="cpu")
    for trial in study.trials:
        arch = objective.space.arch_type.from_dict(trial.user_attrs["arch"])
        assert trial.values[0] == scorer(arch, tokens)["accuracy"]
        assert trial.user_attrs["evaluation"]["mode"] == "supernet"
    assert objective.describe()["evaluator"]["data_fingerprint"] == tokens.fingerprint
    with pytest.raises(SupernetError, match="configuration differs"):
        Objective("transformer", "neurosim-rram-22nm", tokens, objectives=("accuracy",), evaluator=evaluator)


def test_a_search_simulates_subnets_on_the_trials_chip(trained, tokens):
    """Analog objectives through the supernet evaluator: the inherited subnet on the chip of each trial."""
    import optuna

    from nas_edge.search import Objective

    path, _ = trained
    objective = Objective("transformer", "pcm-aihwkit-14nm", tokens, objectives=("analog_accuracy", "accuracy"),
                          space_options=SMALL_VIT, evaluator=f"supernet:{path}", analog={"repeats": 1},
                          training={"device": "cpu"})
    study = objective.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective, n_trials=2)
    scorer = SupernetScorer(path, device="cpu")
    for trial in study.trials:
        arch = objective.space.arch_type.from_dict(trial.user_attrs["arch"])
        values, _ = scorer.score(arch, tokens, profile="pcm-aihwkit-14nm", analog_objectives=["analog_accuracy"],
                                 analog={"repeats": 1})
        assert trial.values == [values["analog_accuracy"], values["accuracy"]]
        assert trial.user_attrs["analog"]["repeats"] == 1 and trial.user_attrs["evaluation"]["mode"] == "supernet"


# -- the command line ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tokens_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "tokens.npz"
    np.savez(path, **_token_arrays())
    return path


def assert_one_error_line(res, message: str) -> None:
    """Exit code 1 and one ``error:`` line that says ``message`` (wrapping ignored)."""
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert message in " ".join(res.stderr.split())


CLI = ["supernet", "train", "--space", "transformer", "--batch-size", "16", "--threads", "1", "--device", "cpu",
       "--no-progress"]


@pytest.mark.parametrize(("args", "message"), [
    (["--device", "cuda"], "--device cuda: CUDA is not available"),
    (["--device", "npu"], "unknown device 'npu'"),
    (["--space", "cnn"], "the cnn space takes images"),
    (["--space", "hardware"], "'hardware' is not a network space"),
    (["--epochs", "0"], "invalid supernet training settings"),
    (["--hwa", "--hardware", "mobile-cpu-a78"], "needs an IMC profile"),
    (["--out", "{garbage}"], "not a readable supernet checkpoint"),
    (["--out", "{other_space}"], "configuration differs"),
])
def test_cli_bad_input_is_one_clear_line(tmp_path, tokens_npz, trained, args, message):
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    other = tmp_path / "other.pt"
    other.write_bytes(trained[0].read_bytes())  # trained with a smaller space than the CLI's default one
    args = [a.format(garbage=tmp_path / "garbage.pt", other_space=other) for a in args]
    out = tmp_path / "new.pt"
    res = runner.invoke(app, [*CLI, "--data", str(tokens_npz), "--epochs", "1", "--out", str(out), *args])
    assert_one_error_line(res, message)
    assert "Traceback" not in res.stderr + res.stdout
    assert not out.exists() or "--out" not in args


@pytest.mark.slow
def test_cli_run_killed_for_real_resumes_to_the_uninterrupted_weights(tmp_path, tokens_npz):
    """SIGKILL after the first epoch's checkpoint, then the same command again (mid-epoch resumption is
    checked in-process above)."""
    data = load_data(str(tokens_npz))
    space = create_space("transformer", **data.space_kwargs())
    epochs = 3
    train_supernet(space, data, SupernetConfig(epochs=epochs, batch_size=16, device="cpu", threads=1),
                   out=tmp_path / "whole.pt")
    out = tmp_path / "killed.pt"
    cmd = [sys.executable, "-m", "nas_edge", *CLI, "--data", str(tokens_npz), "--epochs", str(epochs),
           "--out", str(out)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("epoch 1/"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    progress = load_checkpoint(out)["progress"]  # the file is whole, and the run was cut short
    assert not progress["finished"] and progress["epoch"] >= 1
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "resuming" in res.stderr and "supernet trained, 3 epochs" in res.stdout
    whole, resumed = load_checkpoint(tmp_path / "whole.pt"), load_checkpoint(out)
    assert resumed["progress"]["finished"]
    assert all(torch.equal(whole["model"][k], resumed["model"][k]) for k in whole["model"])


@pytest.mark.slow
def test_two_gloo_processes_train_what_one_process_trains(tmp_path, tokens_npz):
    """Each process takes half of every batch and DDP averages the gradients: with no batch norm in the
    transformer the result equals one process's up to float rounding."""
    args = [*CLI, "--data", str(tokens_npz), "--epochs", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "nas_edge", *args, "--out", str(tmp_path / "one.pt")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "-m", "nas_edge", *args, "--out", str(tmp_path / "two.pt")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert two.returncode == 0, two.stderr
    one_ckpt, two_ckpt = load_checkpoint(tmp_path / "one.pt"), load_checkpoint(tmp_path / "two.pt")
    a, b = one_ckpt["model"], two_ckpt["model"]
    torch.manual_seed(0)  # the initial weights both runs started from
    init = build_supernet(create_space("transformer", **load_data(str(tokens_npz)).space_kwargs())).state_dict()
    assert a.keys() == b.keys() == init.keys()
    moved = sum(float((a[k] - init[k]).square().sum()) for k in a) ** 0.5
    apart = sum(float((b[k] - a[k]).square().sum()) for k in a) ** 0.5
    assert moved > 0.1 and apart < 1e-3 * moved  # float rounding, amplified a little by Adam
    np.testing.assert_allclose(two_ckpt["progress"]["history"], one_ckpt["progress"]["history"], rtol=1e-3)
    assert two.stdout.count("supernet trained") == 1  # one process reports


# -- search and export with a supernet ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def supernet_study(tmp_path_factory, tokens_npz):
    """A default transformer supernet on the token data and a 3-trial ``nas-edge search --evaluator supernet:``."""
    folder = tmp_path_factory.mktemp("study")
    ckpt = folder / "supernet.pt"
    data = load_data(str(tokens_npz))
    train_supernet(create_space("transformer", **data.space_kwargs()), data,
                   SupernetConfig(epochs=2, batch_size=16, device="cpu", threads=1), out=ckpt)
    url = f"sqlite:///{folder / 's.db'}"
    res = runner.invoke(app, ["search", "--space", "transformer", "--data", str(tokens_npz), "--objectives",
                              "accuracy,energy_uj", "--sampler", "random", "--trials", "3", "--storage", url,
                              "--evaluator", f"supernet:{ckpt}", "--device", "cpu", "--no-progress"])
    assert res.exit_code == 0, res.stderr
    return ckpt, url, data


def test_cli_search_scores_every_trial_with_the_supernet(supernet_study):
    import optuna

    ckpt, url, data = supernet_study
    study = optuna.load_study(study_name="nas-edge", storage=url)
    scorer = SupernetScorer(ckpt, device="cpu")
    assert len(study.trials) == 3
    for trial in study.trials:
        assert trial.user_attrs["evaluation"]["mode"] == "supernet"
        arch = scorer.space.arch_type.from_dict(trial.user_attrs["arch"])
        assert trial.values[0] == scorer(arch, data)["accuracy"]
    assert study.user_attrs["nas_edge"]["evaluator"]["checkpoint"] == str(ckpt)


def test_export_of_a_supernet_trial_starts_from_the_inherited_weights(supernet_study, tmp_path, monkeypatch):
    """The module handed to the export pipeline is the recalibrated subnet, trained for --finetune-epochs."""
    import optuna

    from nas_edge.export import export_study, pipeline

    ckpt, url, data = supernet_study
    seen = {}

    def capture(model, data, folder, *, train, **_):
        seen.update(state={k: v.clone() for k, v in model.state_dict().items()}, epochs=train.epochs)
        raise _Stop

    monkeypatch.setattr(pipeline, "export_into", capture)
    with pytest.raises(_Stop):
        export_study(url, "nas-edge", tmp_path / "out", trial=1, epochs=9, finetune_epochs=2, device="cpu")
    arch = optuna.load_study(study_name="nas-edge", storage=url).trials[1].user_attrs["arch"]
    scorer = SupernetScorer(ckpt, device="cpu")
    inherited = scorer.subnet(scorer.space.arch_type.from_dict(arch), data).state_dict()
    assert seen["epochs"] == 2  # --finetune-epochs, not --epochs, for a supernet trial
    assert seen["state"].keys() == inherited.keys()
    assert all(torch.equal(seen["state"][k], inherited[k]) for k in inherited)


def test_cli_export_fine_tunes_a_supernet_trial_and_reports_it(supernet_study, tmp_path):
    import json

    import optuna

    ckpt, url, _ = supernet_study
    out = tmp_path / "out"
    res = runner.invoke(app, ["export", "--storage", url, "--trial", "0", "--finetune-epochs", "1", "--runs", "5",
                              "--host-profile", "mobile-cpu-a78", "--device", "cpu", "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    assert f"fine-tuning 1 epochs from the weights of {ckpt}" in " ".join(res.stderr.split())
    rec = json.loads((out / "trial-0" / "report.json").read_text())
    trial = optuna.load_study(study_name="nas-edge", storage=url).trials[0]
    assert rec["training"]["epochs"] == 1 and rec["training"]["start"]["from"] == "supernet"
    assert rec["training"]["start"]["inherited_accuracy"] == trial.values[0]
    assert "Fine-tuned from the weights of the supernet" in (out / "trial-0" / "report.md").read_text()


@pytest.mark.parametrize(("command", "message"), [
    (["export", "--supernet", "{other}"], "starts from a supernet's weights: "),
    (["export", "--supernet", "{absent}"], "no such supernet checkpoint"),
    (["export", "--device", "cuda"], "--device cuda: CUDA is not available"),
    (["search", "--evaluator", "supernet:{garbage}"], "not a readable supernet checkpoint"),
    (["search", "--evaluator", "supernet:{other}"], "configuration differs"),
    (["search", "--evaluator", "supernet:{ckpt}", "--data", "{other_data}"], "was trained on other data"),
    (["search", "--device", "cuda"], "--device cuda: CUDA is not available"),
])
def test_cli_supernet_search_and_export_refuse_what_does_not_fit(supernet_study, trained, tmp_path, tokens_npz,
                                                                 command, message):
    """One line, exit 1, nothing exported, no study created."""
    import optuna

    ckpt, url, _ = supernet_study
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    np.savez(tmp_path / "other.npz", **_token_arrays(seed=1))  # the same shapes, other samples
    names = {"other": trained[0], "absent": tmp_path / "absent.pt", "garbage": tmp_path / "garbage.pt", "ckpt": ckpt,
             "other_data": tmp_path / "other.npz"}
    args = [a.format(**names) for a in command]
    new_url = f"sqlite:///{tmp_path / 'new.db'}"
    if args[0] == "export":
        args += ["--storage", url, "--trial", "0", "--out", str(tmp_path / "out")]
    else:
        args = [args[0], "--space", "transformer", "--data", str(tokens_npz), "--objectives", "accuracy",
                "--trials", "1", "--storage", new_url, "--no-progress", *args[1:]]
    if "--evaluator" not in args:
        args += ["--evaluator", f"supernet:{ckpt}"] if args[0] == "search" else []
    res = runner.invoke(app, args)
    assert_one_error_line(res, message)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("trial-*"))
    if (tmp_path / "new.db").exists():
        assert optuna.get_all_study_names(new_url) == []

"""The small things that cost a user minutes (issue 17, item 7): each checked the way a user meets it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SURPLUS = textwrap.dedent("""
    import optuna
    from optuna.trial import create_trial
    from nas_edge.workers import BudgetExhausted, TrialBudget, one_line_budget_messages

    optuna.logging.set_verbosity(optuna.logging.WARNING)   # what nas-edge search sets
    study = optuna.create_study()
    study.add_trial(create_trial(value=1.0))                # another worker spent the budget of 1
    budget = TrialBudget(1)
    with one_line_budget_messages():
        study.optimize(budget.guard(lambda t: 0.0), n_trials=1, catch=(BudgetExhausted,))
    t = study.trials[-1]
    assert t.state.name == "FAIL" and t.user_attrs["budget_exhausted"], t
""")


def test_a_surplus_trial_is_one_line_not_a_traceback() -> None:
    proc = subprocess.run([sys.executable, "-c", SURPLUS], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "trial 1 closed unrun: the study's budget of 1 trials is spent" in lines[0]
    assert "Traceback" not in proc.stderr


def test_the_front_title_does_not_count_surplus_trials() -> None:
    import optuna
    from optuna.trial import TrialState, create_trial

    from nas_edge.cli.search import front_title

    study = optuna.create_study(study_name="s", directions=["minimize", "minimize"])
    for v in ((1.0, 2.0), (2.0, 1.0), (3.0, 3.0)):
        study.add_trial(create_trial(values=list(v)))
    study.add_trial(create_trial(state=TrialState.FAIL))  # a real failure counts
    for _ in range(4):  # surplus trials other workers' budget closed: not trials of this search
        study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={"budget_exhausted": True}))
    assert front_title(study) == "Pareto front of 's': 2 of 4 trials (1 failed)"


def test_search_help_lists_every_network_space_and_takes_dash_h(tmp_path) -> None:
    from typer.testing import CliRunner

    from nas_edge.cli import app
    from nas_edge.spaces import list_spaces

    runner = CliRunner()
    text = " ".join(runner.invoke(app, ["search", "--help"], env={"COLUMNS": "300"}).stdout.replace("│", " ").split())
    assert f"network search space: {', '.join(list_spaces('network'))} (" in text
    assert "-H" in text
    r = runner.invoke(app, ["search", "-H", "isaac-reram-32nm", "--objectives", "energy_uj", "--trials", "1",
                            "--no-progress", "--storage", f"sqlite:///{tmp_path / 's.db'}"])
    assert r.exit_code == 0, r.stderr
    import optuna

    t = optuna.load_study(study_name="nas-edge", storage=f"sqlite:///{tmp_path / 's.db'}").trials[0]
    assert t.user_attrs["hardware"]["profile"] == "isaac-reram-32nm"


def test_space_hardware_error_names_the_cli_flag() -> None:
    from typer.testing import CliRunner

    from nas_edge.cli import app

    r = CliRunner().invoke(app, ["search", "--space", "hardware", "--no-progress"])
    assert r.exit_code == 1 and "--hardware-search" in r.stderr and "hardware_search=" not in r.stderr


def test_a_plain_postgresql_url_opens_on_a_real_server(tmp_path) -> None:
    """SQLAlchemy 2's driver for ``postgresql://`` is psycopg 3: the postgres extra installs it."""
    import optuna
    from typer.testing import CliRunner

    from nas_edge.cli import app

    from pg_server import find_bin, postgres_server

    if find_bin() is None:
        import pytest

        pytest.skip("PostgreSQL server binaries not installed (Debian package 'postgresql'; .ci/run installs it)")
    with postgres_server() as url:
        assert url.startswith("postgresql://")  # no +driver
        r = CliRunner().invoke(app, ["search", "--storage", url, "--objectives", "energy_uj", "--trials", "2",
                                     "--no-progress", "--study-name", "plain"])
        assert r.exit_code == 0, r.stderr
        assert len(optuna.load_study(study_name="plain", storage=url).trials) == 2


MISSING_DRIVER = textwrap.dedent("""
    import sys
    sys.modules["psycopg"] = None          # as if the postgres extra were not installed
    from nas_edge.search import SearchError, open_storage
    try:
        open_storage("postgresql://me:secret@db-host/nas")
    except SearchError as exc:
        print(exc)
""")


def test_a_missing_postgres_driver_names_the_extra() -> None:
    proc = subprocess.run([sys.executable, "-c", MISSING_DRIVER], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'pip install "nas-edge[postgres]"' in proc.stdout and "secret" not in proc.stdout


def test_data_and_spaces_have_short_reprs() -> None:
    from nas_edge.evaluate import load_data
    from nas_edge.spaces import HardwareSpace, create_space, list_spaces

    data = load_data("digits")
    assert repr(data) == ("Data('digits': 1437 train / 360 val images, input_shape=(1, 8, 8), num_classes=10)")
    for name in list_spaces("network"):
        space = create_space(name, **data.space_kwargs())
        text = repr(space)
        assert len(text) < 200 and "\n" not in text and text.startswith(f"{type(space).__name__}('{name}', ")
        assert "input_shape=(1, 8, 8)" in text
    assert repr(HardwareSpace(base="neurosim-rram-22nm")).startswith("HardwareSpace('hardware', 6 parameters")


def test_the_optunahub_package_points_at_nothing_unreachable() -> None:
    """No placeholder link, and requirements.txt asks only for what the public index has (nas-edge is not
    there: the README says how to install it from a checkout)."""
    import re
    from pathlib import Path

    pkg = Path(__file__).resolve().parents[1] / "plugins" / "samplers" / "hw_screening"
    readme = (pkg / "README.md").read_text()
    for url in re.findall(r"https?://[^\s)>\]]+", readme):
        host_only = re.fullmatch(r"https?://[^/]+/?", url)
        assert not host_only and "example" not in url, f"placeholder link {url}"
    assert "checkout" in readme and "pip install" in readme
    reqs = [line.split("#")[0].strip() for line in (pkg / "requirements.txt").read_text().splitlines()]
    names = {re.split(r"[<>=!~\[ ]", r)[0].lower() for r in reqs if r}
    assert names == {"optuna", "numpy", "scipy"}, names


def test_estimate_by_name_reads_the_package_once(monkeypatch) -> None:
    """``estimate(w, "name")`` used to list the built-in profiles' folder on every call (43 µs against 10.5 µs
    with the profile object); the names are read once, and the profile itself is cached."""
    import nas_edge.hardware.loader as loader
    from nas_edge.cost import estimate
    from nas_edge.hardware import load_profile
    from nas_edge.workload import Workload

    w = Workload.from_layers([{"type": "conv", "in_channels": 3, "out_channels": 8, "kernel": 3, "in_size": 8}])
    first = estimate(w, "neurosim-rram-22nm")

    def no_disk() -> None:
        raise AssertionError("the built-in profiles' folder was read again")

    monkeypatch.setattr(loader, "_builtin_dir", no_disk)
    again = estimate(w, "neurosim-rram-22nm")
    assert again.totals == first.totals and again.profile is load_profile("neurosim-rram-22nm")


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.lists(st.tuples(st.sampled_from(["a", "a/Relu", "a/Relu_2", "b", "c/MatMul"]),
                          st.sampled_from(["Relu", "MatMul", "Softmax"])), max_size=12))
def test_unique_names_are_unique_and_keep_single_names(rows: list[tuple[str, str]]) -> None:
    from collections import Counter

    from nas_edge.workload.table import unique_names

    names, ops = [r[0] for r in rows], [r[1] for r in rows]
    out = unique_names(names, ops)
    assert len(set(out)) == len(out)
    counts = Counter(names)
    for given_name, op, made in zip(names, ops, out, strict=True):
        assert made == given_name if counts[given_name] == 1 else made.startswith(f"{given_name}/{op}")


def test_transformer_rows_have_unique_names_from_both_adapters(tmp_path) -> None:
    """One attention module gives several rows (QK^T, scale, softmax, AV ...): each gets its own name."""
    import optuna
    import torch

    from nas_edge.spaces import create_space
    from nas_edge.workload import Workload

    space = create_space("transformer", input_shape=(1, 8, 8), num_classes=10)
    arch = space.suggest(optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask())
    model = space.build(arch).eval()
    traced = Workload.from_torch(model, space.example_input())
    torch.onnx.export(model, (space.example_input(),), tmp_path / "t.onnx", dynamo=True)
    read = Workload.from_onnx(tmp_path / "t.onnx")
    for w in (traced, read):
        assert len(set(w.names)) == len(w.names), [n for n in w.names if w.names.count(n) > 1]
        attention = [n for n in w.names if n.split("/")[0].endswith("blocks.0.attn")]
        assert len(attention) >= 4 and any("oftmax" in n for n in attention), attention

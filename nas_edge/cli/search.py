"""``nas-edge search``: run (or resume) a hardware-aware architecture search and print its Pareto front."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from nas_edge.cli._common import console, err_console, fail, quiet_optuna_failures, shown


def search(
    space: Annotated[str, typer.Option(help="search space: cnn or transformer")] = "cnn",
    hardware: Annotated[str, typer.Option(help="hardware profile: built-in name or YAML file")] = "neurosim-rram-22nm",
    hardware_search: Annotated[bool, typer.Option("--hardware-search", help="co-search the chip's array and ADC "
                                                  "knobs (IMC profiles)")] = False,
    data: Annotated[str, typer.Option(help="digits, a .npz file (x_train, y_train, x_val, y_val), "
                                      "package.module:function, or none (nothing trained: hardware objectives "
                                      "or --evaluator bench)")] = "digits",
    space_option: Annotated[list[str] | None, typer.Option("--space-option", help="KEY=VALUE option of the "
                                                           "space, VALUE in JSON, e.g. num_classes=100 or "
                                                           "input_shape=[3,16,16] (repeatable)")] = None,
    objectives: Annotated[str, typer.Option(help="comma-separated: accuracy, naswot, synflow, params, macs, "
                                            "energy_uj, latency_ms, area_mm2, edp_uj_ms, tops_per_w, ..., "
                                            "analog_accuracy (simulated IMC chip), analog_accuracy_1h / _1d / "
                                            "_1m (after drift; the profile needs noise parameters)")]
    = "accuracy,energy_uj,latency_ms",
    constraint: Annotated[list[str] | None, typer.Option("--constraint", help="NAME<=N or NAME>=N, e.g. "
                                                         "area_mm2<=50 (repeatable)")] = None,
    trials: Annotated[int, typer.Option(help="finished trials the study should reach (a rerun resumes)")] = 20,
    timeout: Annotated[float | None, typer.Option(help="stop after this many seconds")] = None,
    sampler: Annotated[str, typer.Option(help="hw (nas-edge's screening sampler: hardware metrics and "
                                         "constraints exact for many candidates, a GP for the rest), tpe, "
                                         "nsga2, nsga3, random, gp, cmaes, qmc")] = "hw",
    pruner: Annotated[str, typer.Option(help="none, median, sha, hyperband (single objective only)")] = "none",
    storage: Annotated[str, typer.Option(help="Optuna storage URL, or a journal file *.log")]
    = "sqlite:///nas_edge.db",
    study_name: Annotated[str, typer.Option(help="study to create or resume")] = "nas-edge",
    seed: Annotated[int, typer.Option(help="sampler and training seed")] = 0,
    epochs: Annotated[int, typer.Option(help="training epochs per trial (accuracy objective)")] = 12,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    hwa: Annotated[bool, typer.Option("--hwa", help="train hardware-aware (device noise injected while "
                                      "training) for the analog_accuracy objectives")] = False,
    analog_repeats: Annotated[int, typer.Option(help="Monte-Carlo chips per trial for the analog_accuracy "
                                                "objectives (mean reported)")] = 3,
    evaluator: Annotated[str, typer.Option(help="where accuracy and the other model metrics come from: train "
                                           "(short training, proxies, analog simulation) or NAME:ARGUMENT of "
                                           "another registered evaluator")] = "train",
    method: Annotated[str, typer.Option(help="what proposes the trials: sampler (the --sampler, trial by "
                                        "trial) or another registered search method")] = "sampler",
) -> None:
    """Search architectures (and optionally chip knobs) with Optuna; print the feasible Pareto front.

    Everything is checked before the study is touched; rerunning the same command resumes the study.
    """
    import optuna
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nas_edge.search import run_search
    from nas_edge.search.run import FINISHED, QUIET_FAILURES, TIMEOUT_ATTR, SearchRun

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bar = Progress(TextColumn("[bold]search"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), console=err_console, disable=not progress)
    task = bar.add_task("", total=trials)

    opened: list[SearchRun] = []

    def ready(run: SearchRun) -> None:
        opened.append(run)
        done = run.finished
        if done:
            err_console.print(f"resuming study {shown(repr(study_name))}: {done} finished trial(s)", highlight=False)
        bar.update(task, completed=min(done, trials))
        if done < trials:
            bar.start()

    def advance(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.user_attrs.get(TIMEOUT_ATTR):
            err_console.print(f"--timeout reached while trial {trial.number} waited for trials still running in "
                              "other workers; stopping (rerun to go on)", highlight=False)
        if trial.state not in FINISHED:  # a surplus trial of a finished budget, or a failure
            return
        n = len(study.best_trials) if trial.state == optuna.trial.TrialState.COMPLETE else None
        bar.update(task, completed=len(study.get_trials(deepcopy=False, states=FINISHED)),
                   description=f"trial {trial.number} {trial.state.name.lower()}"
                   + (f", Pareto front {n}" if n is not None else ""))

    try:  # one worker among any number on this study: the budget holds over all of them
        with quiet_optuna_failures(*QUIET_FAILURES):
            study = run_search(space=space, hardware=hardware, data=None if data.lower() == "none" else data,
                               space_options=_space_options(space_option or []), objectives=objectives,
                               constraints=list(constraint or []), hardware_search=hardware_search,
                               n_trials=trials, timeout=timeout, sampler=sampler, pruner=pruner, storage=storage,
                               study_name=study_name, seed=seed, training={"epochs": epochs},
                               analog={"hwa": hwa, "repeats": analog_repeats}, evaluator=evaluator, method=method,
                               callbacks=[advance], on_ready=ready)
    except KeyboardInterrupt:  # the running trial is closed as FAILED (``interrupted``): exit 130 from the wrapper
        bar.stop()
        if opened:
            console.print(pareto_table(opened[0].study, opened[0].objective.objectives))
            err_console.print("the running trial is marked failed (interrupted); rerun the same command to resume",
                              highlight=False)
        raise
    bar.stop()
    console.print(pareto_table(study, opened[0].objective.objectives))


def _space_options(items: list[str]) -> dict[str, Any]:
    """``["num_classes=100", "input_shape=[3,16,16]"]`` -> options (values read as JSON, else as text)."""
    import json

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            fail(f"--space-option must be KEY=VALUE, e.g. num_classes=100; got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _fmt(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"


def pareto_table(study: Any, objectives: tuple[str, ...]) -> Table:
    """The feasible Pareto front (``study.best_trials``) as a table."""
    front = sorted(study.best_trials, key=lambda t: t.values[0], reverse=study.directions[0].name == "MAXIMIZE")
    table = Table(title=f"Pareto front of {shown(repr(study.study_name))}: {len(front)} of {len(study.trials)} trials")
    table.add_column("trial", justify="right")
    for name in objectives:
        table.add_column(shown(name), justify="right")
    for col in ("params", "area mm2", "architecture", "chip"):
        table.add_column(col, justify="right" if col in ("params", "area mm2") else "left", overflow="fold")
    for t in front:
        cost = t.user_attrs.get("cost", {})
        hw = t.user_attrs.get("hardware", {})
        chip = (f"{hw['rows']}x{hw['cols']} c{hw['cell_bits']} adc{hw['adc_bits']} m{hw['cols_per_adc']} "
                f"p{hw['rows_parallel']}") if "rows" in hw else hw.get("profile", "")
        table.add_row(str(t.number), *(_fmt(v) for v in t.values), _fmt(cost.get("params", float("nan"))),
                      _fmt(cost.get("area_mm2", float("nan"))), shown(_arch_summary(t.user_attrs.get("arch"))),
                      shown(chip))
    return table


def _arch_summary(arch: dict[str, Any] | None) -> str:
    if not arch:
        return ""
    try:
        from nas_edge.spaces import Architecture

        return Architecture.from_dict(arch).summary()
    except Exception:  # an attribute written by someone else's objective
        return str(arch)


def register(app: typer.Typer) -> None:
    app.command("search")(search)

"""``nas-edge search``: run (or resume) a hardware-aware architecture search and print its Pareto front."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperCommand, TyperOption

from nas_edge.cli._common import (
    DEVICE_HELP,
    console,
    err_console,
    fail,
    printable,
    quiet_optuna_failures,
    shown,
    wide_terminal,
)

SPACE_HELP = "network search space: {spaces} (the chip's knobs are co-searched with --hardware-search)"


def search(
    space: Annotated[str, typer.Option(help=SPACE_HELP.format(spaces="see nas_edge.spaces.list_spaces()"))]
    = "cnn",
    hardware: Annotated[str, typer.Option("--hardware", "-H", help="hardware profile: built-in name or YAML file")]
    = "neurosim-rram-22nm",
    hardware_search: Annotated[bool, typer.Option("--hardware-search", help="co-search the chip's array and ADC "
                                                  "knobs (IMC profiles)")] = False,
    data: Annotated[str, typer.Option(help="digits, listops, a .npz file (x_train, y_train, x_val, y_val), "
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
                                           "another registered evaluator, e.g. supernet:supernet.pt (inherited "
                                           "weights of a trained supernet)")] = "train",
    device: Annotated[str, typer.Option(help=f"where trials train and are scored: {DEVICE_HELP}")] = "auto",
    method: Annotated[str, typer.Option(help="what proposes the trials: sampler (the --sampler, trial by "
                                        "trial), dnas (differentiable search: one trial per --lambda and per "
                                        "--target, --trials unused) or another registered search method")]
    = "sampler",
    lambdas: Annotated[str | None, typer.Option("--lambda", help="dnas: comma-separated weights of the expected "
                                                "hardware cost, e.g. 0.01,0.1,1 (one architecture each)")] = None,
    target: Annotated[list[str] | None, typer.Option("--target", help="dnas: a bound NAME<=LIMIT the expected "
                                                     "cost is steered to, e.g. energy_uj<=0.3 (repeatable: one "
                                                     "architecture each)")] = None,
    method_option: Annotated[list[str] | None, typer.Option("--method-option", help="KEY=VALUE for the method "
                                                            "(repeatable), e.g. dnas: epochs=30, warmup_epochs=10, "
                                                            "metric=latency_ms")] = None,
) -> None:
    """Search architectures (and optionally chip knobs) with Optuna; print the feasible Pareto front.

    Everything is checked before the study is touched; rerunning the same command resumes the study.
    """
    import optuna
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nas_edge._progress import Step, listening
    from nas_edge.evaluate.device import resolve_device
    from nas_edge.search import run_search
    from nas_edge.search.run import FINISHED, QUIET_FAILURES, TIMEOUT_ATTR, SearchRun
    from nas_edge.spaces import list_spaces

    if space in list_spaces("hardware"):
        fail(f"--space {space} is the chip's knobs, not a network: keep a network --space "
             f"({', '.join(list_spaces('network'))}) and add --hardware-search to co-search the chip")
    resolve_device(device)  # a device that is not there is refused before the study is touched
    options = key_values(method_option or [])
    if lambdas is not None:
        options["lambdas"] = lambdas
    if target:
        options["targets"] = list(target)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bar = Progress(TextColumn("[bold]search"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), console=err_console, disable=not progress)
    task = bar.add_task("", total=trials)

    opened: list[SearchRun] = []
    last = [""]  # the latest finished trial, shown beside the running trial's progress

    def ready(run: SearchRun) -> None:
        opened.append(run)
        done = run.finished
        if done:
            err_console.print(f"resuming study {shown(repr(study_name))}: {done} finished trial(s)", highlight=False)
        total = run.planned or trials
        bar.update(task, total=total, completed=min(done, total))
        if done < total:
            bar.start()

    def advance(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.user_attrs.get(TIMEOUT_ATTR):
            err_console.print(f"--timeout reached while trial {trial.number} waited for trials still running in "
                              "other workers; stopping (rerun to go on)", highlight=False)
        if trial.state not in FINISHED:  # a surplus trial of a finished budget, or a failure
            return
        n = len(study.best_trials) if trial.state == optuna.trial.TrialState.COMPLETE else None
        last[0] = f"trial {trial.number} {trial.state.name.lower()}" + (f", Pareto front {n}" if n is not None
                                                                        else "")
        bar.update(task, completed=len(study.get_trials(deepcopy=False, states=FINISHED)), description=last[0])

    def inside(step: Step) -> None:  # epochs and analog chips of the running trial
        bar.update(task, description=f"{last[0]}{' · ' if last[0] else ''}running: {step}")

    try:  # one worker among any number on this study: the budget holds over all of them
        with listening(inside) if progress else contextlib.nullcontext(), quiet_optuna_failures(*QUIET_FAILURES):
            study = run_search(space=space, hardware=hardware, data=None if data.lower() == "none" else data,
                               space_options=key_values(space_option or [], "--space-option",
                                                                        "num_classes=100"), objectives=objectives,
                               constraints=list(constraint or []), hardware_search=hardware_search,
                               n_trials=trials, timeout=timeout, sampler=sampler, pruner=pruner, storage=storage,
                               study_name=study_name, seed=seed, training={"epochs": epochs, "device": device},
                               analog={"hwa": hwa, "repeats": analog_repeats}, evaluator=evaluator, method=method,
                               method_options=options, callbacks=[advance], on_ready=ready)
    except KeyboardInterrupt:  # the running trial is closed as FAILED (``interrupted``): exit 130 from the wrapper
        bar.stop()
        if opened:
            print_front(opened[0].study, opened[0].objective.objectives)
            err_console.print("the running trial is marked failed (interrupted); rerun the same command to resume",
                              highlight=False)
        raise
    bar.stop()
    print_front(study, opened[0].objective.objectives)


def key_values(pairs: list[str], option: str = "--method-option", example: str = "epochs=30") -> dict[str, Any]:
    """``KEY=VALUE`` pairs of ``option``; a value is read as JSON where it is JSON (numbers, true/false, null,
    lists), else as text."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            fail(f"{option} {pair!r}: expected KEY=VALUE, e.g. {example}")
        try:
            out[key.strip()] = json.loads(text)
        except ValueError:
            out[key.strip()] = text
    return out


def _fmt(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"


def front_title(study: Any) -> str:
    """``Pareto front of 'name': F of N trials``; surplus trials closed by another worker's budget do not count."""
    from nas_edge.search.run import counted_trials

    trials = counted_trials(study)
    failed = sum(t.state.name == "FAIL" for t in trials)
    return (f"Pareto front of {study.study_name!r}: {len(study.best_trials)} of {len(trials)} trials"
            + (f" ({failed} failed)" if failed else ""))


def front_rows(study: Any, objectives: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    """The feasible Pareto front (``study.best_trials``) as headers and text rows; the architecture last."""
    from nas_edge.search.hardware_cost import chip_summary

    front = sorted(study.best_trials, key=lambda t: t.values[0], reverse=study.directions[0].name == "MAXIMIZE")
    headers = ["trial", *objectives, "params", "area_mm2", "chip", "architecture"]
    rows = []
    for t in front:
        cost = t.user_attrs.get("cost", {})
        rows.append([str(t.number), *(_fmt(v) for v in t.values), _fmt(cost.get("params", float("nan"))),
                     _fmt(cost.get("area_mm2", float("nan"))), chip_summary(t.user_attrs.get("hardware") or {}),
                     _arch_summary(t.user_attrs.get("arch"))])
    return headers, rows


def pareto_table(study: Any, objectives: tuple[str, ...]) -> Table:
    """The feasible Pareto front (``study.best_trials``) as a rich table."""
    headers, rows = front_rows(study, objectives)
    table = Table(title=shown(front_title(study)))
    for col in headers:
        table.add_column(shown(col), justify="left" if col in ("chip", "architecture") else "right", overflow="fold")
    for row in rows:
        table.add_row(*(shown(c) for c in row))
    return table


def print_front(study: Any, objectives: tuple[str, ...]) -> None:
    """The front as a rich table on a wide terminal, else as compact plain text (one line a trial)."""
    if wide_terminal():
        console.print(pareto_table(study, objectives))
        return
    from nas_edge.profiling import plain_table

    headers, rows = front_rows(study, objectives)
    typer.echo(printable("\n".join([front_title(study), *plain_table(headers, rows)]), keep_newlines=True))


def _arch_summary(arch: dict[str, Any] | None) -> str:
    if not arch:
        return ""
    try:
        from nas_edge.spaces import Architecture

        return Architecture.from_dict(arch).summary()
    except Exception:  # an attribute written by someone else's objective
        return str(arch)


class SearchCommand(TyperCommand):
    """``search`` lists the registered network spaces in its help, read when the help is shown (importing the
    registry at start-up would slow every command)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from nas_edge.spaces import list_spaces

        for param in self.params:
            if param.name == "space" and isinstance(param, TyperOption):
                param.help = SPACE_HELP.format(spaces=", ".join(list_spaces("network")))
        super().format_help(ctx, formatter)


def register(app: typer.Typer) -> None:
    app.command("search", cls=SearchCommand)(search)

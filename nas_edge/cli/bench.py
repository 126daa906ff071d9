"""``nas-edge bench fields|table|run``: the NAS-Bench-201 x IMC benchmark (needs ``nas-edge[bench]``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from nas_edge.cli._common import App, console, err_console, fail, printable, shown

app = App(help="NAS-Bench-201 cells with published CIFAR and analog-drift accuracy, costed on every chip.",
                  no_args_is_help=True)


@app.command("fields")
def fields() -> None:
    """List the accuracy fields (objective names) of the tables."""
    from nas_edge.bench.fields import FIELDS, parse_field

    for name in FIELDS:
        typer.echo(f"{name:22s} {parse_field(name).description}")


@app.command("table")
def table(
    hardware: Annotated[list[str] | None, typer.Option(
        "--hardware", "-H", help="profile name or YAML file (repeat; default: every built-in profile)")] = None,
    out: Annotated[str, typer.Option("--out", "-o", help="output file: .csv or .parquet")] = "nb201_bench.csv",
) -> None:
    """Write every cell x every accuracy field x cost totals on the profiles, with a citable header."""
    t0 = time.perf_counter()
    from nas_edge.bench.table import build_table, table_format

    table_format(out)
    header = build_table(hardware or None).write(out)
    err_console.print(f"wrote {shown(out)}: {header['rows']} cells x {len(header['profiles'])} profiles in "
                      f"{time.perf_counter() - t0:.1f} s; table sha256 {header['table_sha256']}", highlight=False)


@app.command("run")
def run(
    objectives: Annotated[str, typer.Option(
        "--objectives", "-O", help="comma-separated: accuracy fields (see 'bench fields') and cost totals")],
    hardware: Annotated[str, typer.Option("--hardware", "-H", help="profile name or YAML file")] = "neurosim-rram-22nm",
    constraint: Annotated[list[str] | None, typer.Option(
        "--constraint", "-c", help="NAME<=VALUE or NAME>=VALUE (repeat); the network must always fit the chip")
    ] = None,
    per_network: Annotated[bool, typer.Option(
        "--per-network", help="score each cell with the mean accuracy of the cells that build the same network "
        "(the table trained them apart: their spread is training noise)")] = False,
    samplers: Annotated[str, typer.Option(
        help="comma-separated: random, tpe, nsga2, nsga3, gp, qmc, grid, bruteforce (Optuna's), hw (nas-edge's)")
    ] = "random,tpe,nsga2,nsga3,qmc,hw",
    seeds: Annotated[int, typer.Option(min=1, help="seeds per sampler (0 .. N-1)")] = 10,
    trials: Annotated[int, typer.Option(min=1, help="trials per run")] = 100,
    budgets: Annotated[str, typer.Option(help="trial counts to report (comma-separated)")] = "50,100",
    jobs: Annotated[int, typer.Option(min=1, help="processes")] = 2,
    out: Annotated[str, typer.Option("--out", "-o", help="directory for runs.jsonl, summary.md, hv.svg")] = "bench_run",
) -> None:
    """Compare samplers on objectives from the table: hypervolume vs the exact optimum, infeasible share, time."""
    from nas_edge.bench import run as bench_run
    from nas_edge.bench.problem import make_problem

    names = [s.strip() for s in samplers.split(",") if s.strip()]
    bad = [s for s in names if s not in bench_run.SAMPLERS]
    if bad:
        fail(f"unknown sampler {bad[0]!r}; valid: {', '.join(bench_run.SAMPLERS)}")
    try:
        marks = sorted({int(b) for b in budgets.split(",") if b.strip()})
    except ValueError:
        fail(f"--budgets must be comma-separated trial counts, got {budgets!r}")
    marks = [b for b in marks if 1 <= b <= trials] or [trials]
    problem = make_problem([o.strip() for o in objectives.split(",") if o.strip()], hardware, constraint or [],
                           per_network=per_network)
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def progress(r: dict) -> None:
        lines.append(json.dumps(r))
        err_console.print(f"  {r['sampler']:7s} seed {r['seed']}: HV/optimum {r['hv_ratio'][-1]:.4f}, "
                          f"{r['ms_per_trial']:.1f} ms/trial", highlight=False)

    t0 = time.perf_counter()
    results = bench_run.run(problem, names, range(seeds), trials, jobs=jobs, on_result=progress)
    wall = time.perf_counter() - t0
    title = f"{problem.describe()}; {seeds} seeds x {trials} trials"
    md = bench_run.markdown(results, marks, title)
    from nas_edge._io import write_atomic

    write_atomic(outdir / "runs.jsonl", "\n".join(lines) + "\n")
    write_atomic(outdir / "summary.md", md)
    write_atomic(outdir / "hv.svg", bench_run.plot_svg(results, title))
    console.print(printable(md, keep_newlines=True), highlight=False, soft_wrap=True, markup=False)
    err_console.print(f"{len(results)} runs in {wall:.1f} s; wrote {shown(outdir)}/runs.jsonl, summary.md, hv.svg",
                      highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="bench")

"""``make demo``: the main job on embedded defaults, in a few minutes on two cores.

1. VGG-8 (NeuroSim's benchmark) costed on the two NeuroSim-like built-in profiles, beside NeuroSim V1.4's
   published figures (a second);
2. a small hardware-aware search: a CNN space on ``digits``, accuracy against energy on
   ``neurosim-rram-22nm``, TPE, stored in SQLite (``demo_out/nas_edge.db``; a rerun resumes it);
3. export of the Pareto winners: retrained, ONNX (dynamo), checked, ONNX Runtime parity and latency, INT8 QDQ,
   ORT format, deployment reports (``demo_out/trial-N/``);
4. the study report; the last line printed is the path of ``demo_out/report.html``.

``python -m nas_edge.demo --help`` lists the knobs (trials, epochs, output folder).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nas_edge.cost import estimate
from nas_edge.workload.zoo import vgg8

NEUROSIM_TABLE_VII = {"neurosim-rram-22nm": (378.06, 8.16, 19.88), "neurosim-sram-22nm": (84.39, 8.01, 17.13)}
HARDWARE = "neurosim-rram-22nm"
STUDY = "nas-edge-demo"
# a small corner of the CNN space: every candidate trains in a few seconds on one core
SPACE = {"resolutions": [8, 12], "max_depth": 2, "stem_widths": [8, 16], "widths": [[8, 16], [16, 24], [24, 32]]}


def cost_table() -> Table:
    w = vgg8()
    table = Table(title=f"VGG-8 (CIFAR-10, {w.total_macs * 2 / 1e9:.4f} GOP) on built-in IMC profiles")
    for col in ("profile", "arrays", "utilisation", "energy uJ", "latency ms", "area mm2", "TOPS", "TOPS/W",
                "NeuroSim V1.4 (area, TOPS, TOPS/W)"):
        table.add_column(col, justify="right" if col != "profile" else "left")
    for name, ref in NEUROSIM_TABLE_VII.items():
        t = estimate(w, name).totals
        table.add_row(name, f"{t['arrays_used']:.0f}", f"{t['utilisation']:.1%}", f"{t['energy_uj']:.1f}",
                      f"{t['latency_ms']:.3f}", f"{t['area_mm2']:.1f}", f"{t['tops']:.2f}",
                      f"{t['tops_per_w']:.2f}", f"{ref[0]}, {ref[1]}, {ref[2]}")
    return table


def search(out: Path, *, trials: int, epochs: int, seed: int, console: Console) -> str:
    """Run (or resume) the demo study; return its storage URL."""
    import optuna

    from nas_edge.search import Objective, run_search

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{out / 'nas_edge.db'}"
    objective = Objective("cnn", HARDWARE, "digits", objectives=("accuracy", "energy_uj"), space_options=SPACE,
                          training={"epochs": epochs}, seed=seed)
    t0 = time.perf_counter()

    def show(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        values = ", ".join(f"{n}={v:.4g}" for n, v in zip(objective.objectives, trial.values or [], strict=False))
        console.print(f"  trial {trial.number:2d} {trial.state.name.lower():8s} {values}  "
                      f"[dim]{time.perf_counter() - t0:5.1f} s[/]", highlight=False)

    study = run_search(objective=objective, n_trials=trials, storage=storage, study_name=STUDY,
                       seed=seed, callbacks=[show])
    front = sorted(t.number for t in study.best_trials)
    console.print(f"search: {len(study.trials)} trials, Pareto front {front} "
                  f"({time.perf_counter() - t0:.1f} s)", highlight=False)
    return storage


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m nas_edge.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out", help="output folder (database, exports, report)")
    parser.add_argument("--trials", type=int, default=12, help="search trials")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs per search trial")
    parser.add_argument("--final-epochs", type=int, default=8, help="training epochs of the exported winners")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    console = Console(width=160)
    t0 = time.perf_counter()
    console.rule("1. cost model: VGG-8 on the NeuroSim-like profiles")
    console.print(cost_table())

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    console.rule(f"2. search: CNN on digits, accuracy vs energy on {HARDWARE} ({args.trials} trials)")
    storage = search(out, trials=args.trials, epochs=args.epochs, seed=args.seed, console=console)

    from nas_edge.cli.export import _table
    from nas_edge.export import ExportOptions, export_study

    console.rule("3. export of the Pareto winners: ONNX, checks, ORT parity and latency, INT8, ORT format")
    result = export_study(storage, STUDY, out, pareto=True, epochs=args.final_epochs, seed=args.seed,
                          options=ExportOptions(quantize="int8", ort_format=True, runs=100),
                          progress=lambda msg: console.print(msg, highlight=False))
    console.print(_table(result.exports))
    console.rule("4. deployment report")
    console.print(f"done in {time.perf_counter() - t0:.0f} s; per model: {out}/trial-N/report.html; study report:",
                  highlight=False)
    html = result.html.resolve()
    print(html, flush=True)
    return html


if __name__ == "__main__":
    main()

"""``nas-edge export`` (winners of a study to verified ONNX + deployment report) and ``nas-edge report``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from nas_edge.cli._common import DEVICE_HELP, console, err_console, fail, printable, shown

_STORAGE_HELP = "Optuna storage URL (or a journal file *.log) of the study"


def export(
    out: Annotated[str, typer.Option("--out", "-o", help="output folder: trial-N/ per model and the study report")],
    storage: Annotated[str, typer.Option(help=_STORAGE_HELP)] = "sqlite:///nas_edge.db",
    study_name: Annotated[str, typer.Option(help="study to export from")] = "nas-edge",
    trial: Annotated[int | None, typer.Option(help="export this trial number")] = None,
    pareto: Annotated[bool, typer.Option("--pareto", help="export the feasible Pareto front (the default)")] = False,
    best: Annotated[str | None, typer.Option(help="export the best feasible trial on this objective, e.g. "
                                             "accuracy")] = None,
    min_accuracy: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="leave out trials whose search "
                                                       "accuracy is below this (default: those at chance level, "
                                                       "named in a warning; 0 exports them all)")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="final training epochs (default: the search's)")] = None,
    finetune_epochs: Annotated[int, typer.Option(min=1, help="fine-tuning epochs of a trial the search scored with "
                                                 "a supernet (it starts from the inherited weights)")] = 3,
    supernet: Annotated[str | None, typer.Option(help="supernet checkpoint of such trials (default: the one the "
                                                 "search used)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the final training")] = 0,
    quantize: Annotated[str | None, typer.Option(help="int8: also write an INT8 model (static QDQ calibrated on "
                                                 "the dataset; dynamic for transformers)")] = None,
    ort: Annotated[bool, typer.Option("--ort", help="also write ORT format models and required_operators.config "
                                      "for a reduced (mobile) build")] = False,
    ort_target: Annotated[str, typer.Option(help="ORT format target platform: arm or amd64")] = "arm",
    hardware: Annotated[list[str] | None, typer.Option("--hardware", "-H", help="extra profile (built-in name or "
                                                       "YAML) for the cost tables; repeatable")] = None,
    host_profile: Annotated[str, typer.Option(help="digital profile whose latency estimate is set against the "
                                              "measurement on this host: 'calibrate' measures this host first "
                                              "(~1 s), or a profile name / YAML file")] = "calibrate",
    data: Annotated[str | None, typer.Option(help="dataset (default: the study's)")] = None,
    threads: Annotated[int, typer.Option(min=1, help="ONNX Runtime / PyTorch threads for latency")] = 1,
    runs: Annotated[int, typer.Option(min=1, help="timed runs per latency figure")] = 200,
    atol: Annotated[float, typer.Option(help="fp32 parity tolerance (max abs difference)")] = 1e-4,
    device: Annotated[str, typer.Option(help=f"where the models train: {DEVICE_HELP}")] = "auto",
) -> None:
    """Rebuild, retrain (or fine-tune from a supernet), export to ONNX, verify in ONNX Runtime and report the
    chosen trials of a study."""
    if quantize not in (None, "int8"):
        fail(f"unknown --quantize {quantize!r}; expected int8")

    from nas_edge.evaluate.device import resolve_device
    from nas_edge.export import ExportOptions, export_study
    from nas_edge.export.study import CHANCE

    resolve_device(device)

    options = ExportOptions(quantize=quantize, ort_format=ort, ort_target=ort_target, hardware=tuple(hardware or ()),
                            host_profile=host_profile, atol=atol, threads=threads, runs=runs)
    result = export_study(storage, study_name, out, trial=trial, pareto=pareto, best=best, epochs=epochs, seed=seed,
                          data=data, options=options, min_accuracy=CHANCE if min_accuracy is None else min_accuracy,
                          finetune_epochs=finetune_epochs, supernet=supernet, device=device,
                          progress=lambda msg: err_console.print(shown(msg), highlight=False))
    console.print(_table(result.exports))
    typer.echo(printable(result.html.resolve()))


def _table(exports: list[Any]) -> Any:
    from rich.table import Table

    table = Table(title="exported models")
    for col in ("trial", "accuracy", "INT8", "parity", "ORT p50 ms", "PyTorch p50 ms", "INT8 p50 ms", "size",
                "folder"):
        table.add_column(col, justify="left" if col in ("trial", "folder") else "right")
    for e in exports:
        r = e.record
        q = r.get("quantization") or {}
        table.add_row(shown(r["source"].get("trial", e.name)), f"{r['accuracy']['onnx_fp32']:.4f}",
                      f"{q['accuracy']:.4f}" if q else "–", f"{r['verification']['parity']['max_abs_diff']:.1e}",
                      f"{r['latency']['ort_fp32']['p50_ms']:.3f}", f"{r['latency']['torch_eager']['p50_ms']:.3f}",
                      f"{q['latency']['p50_ms']:.3f}" if q else "–", f"{r['model']['bytes'] / 1024:.0f} KiB",
                      shown(e.dir))
    return table


def report(
    out: Annotated[str, typer.Option("--out", "-o", help="report folder (exports found in its trial-N/ folders "
                                     "are included and re-rendered)")],
    storage: Annotated[str, typer.Option(help=_STORAGE_HELP)] = "sqlite:///nas_edge.db",
    study_name: Annotated[str, typer.Option(help="study to report on")] = "nas-edge",
    trial: Annotated[list[int] | None, typer.Option(help="trials to mark as chosen (repeatable; default: the "
                                                    "exported ones, else the Pareto front)")] = None,
    hardware: Annotated[list[str] | None, typer.Option("--hardware", "-H", help="profile for trials whose own "
                                                       "profile cannot be loaded")] = None,
) -> None:
    """Regenerate the deployment report (JSON, Markdown, HTML) of a study, without retraining anything."""

    from nas_edge.export import study_report

    paths = study_report(storage, study_name, out, chosen=trial, hardware=tuple(hardware or ()))
    err_console.print(f"wrote {', '.join(p.name for p in paths)} in {shown(paths[0].parent)}", highlight=False)
    typer.echo(printable(paths[-1].resolve()))


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("report")(report)

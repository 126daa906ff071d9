"""``nas-edge profile MODEL.onnx --hardware NAME|FILE [...]``: cost any ONNX model layer by layer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from nas_edge.cli._common import console, err_console, fail, shown, wide_terminal

_FORMATS = ("json", "csv", "md", "text")
_SUFFIXES = {".json": "json", ".csv": "csv", ".md": "md", ".markdown": "md", ".txt": "text", ".text": "text"}


def profile(
    model: Annotated[str, typer.Argument(help="ONNX model file (external-data models: keep the data files beside it)")],
    hardware: Annotated[list[str], typer.Option(
        "--hardware", "-H", help="built-in profile name or YAML file; repeat to compare chips side by side")],
    batch: Annotated[int, typer.Option("--batch", "-b", min=1, help="inferences per run")] = 1,
    input_shape: Annotated[list[str] | None, typer.Option(
        "--input-shape", "-s",
        help="NAME=DIMS for an input (e.g. input=1x3x224x224) or a symbolic dimension (e.g. sequence=128)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON document (nas-edge.profile v1)")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print one CSV line per (hardware, layer)")] = False,
    as_md: Annotated[bool, typer.Option("--md", help="print a Markdown report")] = False,
    as_text: Annotated[bool, typer.Option("--text", help="print compact plain text (the default when the output "
                                          "is not a terminal or is narrower than 100 columns)")] = False,
    out: Annotated[str | None, typer.Option("--out", "-o", help="write to this file instead (format from the "
                                            "flag, else from the suffix .json/.csv/.md/.txt)")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="how many of the most expensive layers to list")] = 10,
    layers: Annotated[bool | None, typer.Option("--layers/--no-layers", help="show the per-layer table (default: "
                                                "in the terminal table and Markdown, not in plain text)")] = None,
    calibration_data: Annotated[str | None, typer.Option(
        "--calibration-data", help="a few real inputs (.npy: one array, the first axis the sample; .npz: one "
        "array per input name): IMC array and DAC energy from the bit density of the values each layer sees")] = None,
) -> None:
    """Profile an ONNX model layer by layer on one or more hardware profiles (IMC chips or edge devices)."""
    chosen = [f for f, on in zip(_FORMATS, (as_json, as_csv, as_md, as_text), strict=True) if on]
    if len(chosen) > 1:
        fail("choose one of --json, --csv, --md, --text")
    fmt = chosen[0] if chosen else None
    if out and fmt is None:
        fmt = _SUFFIXES.get(Path(out).suffix.lower())
        if fmt is None:
            fail(f"cannot tell the format of {out} from its suffix: use .json, .csv, .md or .txt, or give "
                 "--json, --csv, --md or --text")
    try:
        result = _run(model, hardware, batch, input_shape or [], calibration_data)
    except MemoryError:
        fail("out of memory while reading the model")
    if fmt is None and wide_terminal():
        _print_rich(result, top=top, layers=True if layers is None else layers)
        return
    fmt = fmt or "text"
    text = {"json": lambda: result.to_json() + "\n", "csv": result.to_csv,
            "md": lambda: result.to_markdown(top=top, layers=True if layers is None else layers),
            "text": lambda: result.to_text(top=top, layers=bool(layers))}[fmt]()
    if out:
        from nas_edge._io import write_atomic

        try:
            write_atomic(out, text)
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}")
        err_console.print(f"wrote {shown(out)} ({fmt})", highlight=False)
    else:
        typer.echo(text, nl=False)


def _run(model: str, hardware: list[str], batch: int, shapes: list[str], calibration_data: str | None) -> Any:
    from nas_edge.hardware import load_profile
    from nas_edge.profiling import profile_onnx
    from nas_edge.workload.onnx_adapter import parse_shape

    if not hardware:
        fail("give at least one --hardware NAME|FILE (see `nas-edge hardware list`)")
    for h in hardware:
        load_profile(h)  # a bad hardware name fails before the model is read
    given: dict[str, tuple[int, ...]] = {}
    for text in shapes:
        name, dims = parse_shape(text)
        given[name] = dims
    data = None
    if calibration_data is not None:
        from nas_edge.cost.values import load_calibration_data

        data = load_calibration_data(calibration_data)
    return profile_onnx(model, hardware, batch=batch, input_shapes=given or None, calibration_data=data)


def _print_rich(result: Any, *, top: int, layers: bool) -> None:
    from rich.table import Table

    from nas_edge.profiling import TOTAL_ROWS, fmt_count, fmt_energy_pj, fmt_time_ns, shape_text

    console.print(f"[bold]{shown(result.header_line())}[/]", highlight=False)
    hw = result.hardware
    rows = result.layer_rows()
    if layers:
        table = Table(title="layers", title_justify="left", header_style="bold")
        for col, just in (("#", "right"), ("name", "left"), ("op", "left"), ("K x N", "right"),
                          ("vectors", "right"), ("MACs", "right")):
            table.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
        for h in hw:
            tag = f" {shown(h.name)}" if len(hw) > 1 else ""
            if h.kind == "imc":
                for col in ("arrays", "util", "ADC conv"):
                    table.add_column(col + tag, justify="right")
            table.add_column("energy" + tag, justify="right")
            table.add_column("latency" + tag, justify="right")
        for r in rows:
            i = r["index"]
            cells = [str(i), shown(r["name"]), shown(r["op_type"] or r["kind"]), shape_text(r),
                     fmt_count(r["m"]) if r["kind"] in ("conv", "linear", "dynamic_matmul") else "-",
                     fmt_count(r["macs"])]
            for h in hw:
                if h.kind == "imc":
                    static = r["kind"] in ("conv", "linear")
                    cells += [f"{h.layer('arrays')[i]:.0f}" if static else "-",
                              f"{h.layer('utilisation')[i]:.0%}" if static else "-",
                              fmt_count(h.layer("adc_conversions")[i]) if static else "-"]
                cells += [fmt_energy_pj(h.layer("energy_pj")[i]), fmt_time_ns(h.layer("latency_ns")[i])]
            table.add_row(*cells)
        console.print(table)
    totals = Table(title="totals", title_justify="left", header_style="bold")
    totals.add_column("")
    for h in hw:
        totals.add_column(f"{shown(h.name)} ({h.kind})", justify="right")
    for label, fmt in TOTAL_ROWS:
        totals.add_row(label, *(fmt(h) for h in hw))
    console.print(totals)
    for h in hw:
        lat, en = h.layer("latency_ns"), h.layer("energy_pj")
        tl, te = max(float(lat.sum()), 1e-300), max(float(en.sum()), 1e-300)
        t = Table(title=f"top {top} layers by latency on {shown(h.name)}", title_justify="left", header_style="bold")
        for col in ("#", "name", "op", "latency", "share", "energy", "share "):
            t.add_column(col, justify="left" if col in ("name", "op") else "right")
        for i in h.top("latency_ns", top):
            t.add_row(str(i), shown(rows[i]["name"]), shown(rows[i]["op_type"] or rows[i]["kind"]),
                      fmt_time_ns(lat[i]), f"{lat[i] / tl:.1%}", fmt_energy_pj(en[i]), f"{en[i] / te:.1%}")
        console.print(t)
    for w in result.warnings:
        err_console.print(f"[yellow]warning:[/] {shown(w)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``profile`` command to the ``nas-edge`` app."""
    app.command("profile")(profile)

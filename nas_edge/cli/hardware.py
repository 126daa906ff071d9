"""``nas-edge hardware``: list, show, validate and describe hardware profiles."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from nas_edge.cli._common import App, console, err_console, fail, shown

app = App(help="Hardware profiles: built-in ones and your own YAML files.", no_args_is_help=True)


@app.command("list")
def list_profiles() -> None:
    """List the built-in profiles."""
    from nas_edge.hardware import builtin_names, load_profile

    table = Table(title="built-in hardware profiles")
    for col in ("name", "kind", "summary", "description"):
        table.add_column(col, overflow="fold")
    for name in builtin_names():
        p = load_profile(name)
        table.add_row(shown(name), p.kind, shown(_summary(p)), shown(p.description))
    console.print(table)


def _summary(p) -> str:
    if p.kind == "imc":
        a = p.array
        return (f"{a.rows}x{a.cols}, {a.cell_bits} b/cell, {p.adc.bits}-b {p.adc.model} ADC, "
                f"{a.rows_parallel} rows parallel, {p.technology_nm:g} nm")
    return f"{p.peak_gmacs_per_s:g} GMAC/s peak, {p.bandwidth_gb_per_s:g} GB/s, {p.technology_nm:g} nm"


@app.command("show")
def show(
    profile: Annotated[str, typer.Argument(help="built-in name or YAML file")],
    as_yaml: Annotated[bool, typer.Option("--yaml", help="print exactly the loadable profile as YAML (no "
                                          "comments)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print exactly the loadable profile as JSON")] = False,
    derived: Annotated[bool, typer.Option("--derived", help="add a 'derived' block (ADC energy, latency, area; "
                                          "arrays per tile) to --yaml/--json: informative, not loadable")] = False,
) -> None:
    """Print a profile with its base applied, as a file you can save and edit (`show X > mine.yaml`).

    Without a flag: YAML with the summary and the derived ADC figures as comments. The output loads back to
    the same profile (`base` is already applied, so the file stands alone).
    """
    from nas_edge.hardware import load_profile

    if as_yaml and as_json:
        fail("choose one of --yaml, --json")
    p = load_profile(profile)
    data = loadable_dict(p)
    extra = derived_figures(p)
    if as_json:
        typer.echo(json.dumps({**data, "derived": extra} if derived and extra else data, indent=2))
        return
    import yaml

    body = yaml.safe_dump({**data, "derived": extra} if derived and extra else data, sort_keys=False,
                          allow_unicode=True, width=100)
    if as_yaml:
        typer.echo(body, nl=False)
        return
    head = [f"# {p.name} ({p.kind}): {_summary(p)}"]
    if p.base:
        head.append(f"# resolved from base {p.base!r}: every field is written out, the file stands alone")
    tail = ["# derived figures (not read on load):"] + [f"#   {k}: {v:.6g}" for k, v in extra.items()] if extra else []
    typer.echo("\n".join(head) + "\n" + body + "\n".join(tail) + ("\n" if tail else ""), nl=False)


def loadable_dict(p) -> dict:
    """The profile as a mapping that loads back to an equal profile: base applied (and dropped), kind first."""
    from nas_edge.hardware import profile_to_dict

    data = profile_to_dict(p)
    data.pop("base", None)
    return {"name": data.pop("name"), "kind": data.pop("kind"), **data}


def derived_figures(p) -> dict[str, float]:
    """ADC energy / latency / area at the profile's node and arrays per tile (IMC profiles; empty otherwise)."""
    if p.kind != "imc":
        return {}
    from nas_edge.hardware import adc_figures

    f = adc_figures(p.adc, technology_nm=p.technology_nm, clock_ghz=p.clock_ghz)
    return {"adc_energy_pj": f.energy_pj, "adc_latency_ns": f.latency_ns, "adc_area_um2": f.area_um2,
            "arrays_per_tile": p.arrays_per_tile}


@app.command("validate")
def validate(files: Annotated[list[str], typer.Argument(help="profile files (or built-in names)")]) -> None:
    """Validate profile files; exits 1 if any is invalid, naming the file, field and what was expected."""
    from nas_edge.hardware import ProfileError, load_profile

    bad = 0
    for f in files:
        try:
            p = load_profile(f)
        except ProfileError as exc:
            bad += 1
            err_console.print(f"[red]invalid[/] {shown(exc)}", soft_wrap=True, highlight=False)
        else:
            console.print(f"[green]ok[/] {shown(f)} ({shown(p.name)}, {p.kind})", highlight=False)
            if p.scaling is not None:
                console.print(f"  scaled from {p.scaling.from_nm:g} nm to {p.scaling.to_nm:g} nm: "
                              f"{len(p.scaling.scaled)} figures", highlight=False)
                for note in p.scaling.explicit:
                    console.print(f"  note: {shown(note)}", highlight=False, soft_wrap=True)
    if bad:
        raise typer.Exit(1)


@app.command("schema")
def schema(out: Annotated[str | None, typer.Option("--out", help="write to this file")] = None) -> None:
    """Print the JSON Schema of a profile file (for editor validation)."""
    from nas_edge._io import write_atomic
    from nas_edge.hardware import json_schema

    text = json.dumps(json_schema(), indent=2)
    if out:
        write_atomic(out, text + "\n")
        console.print(f"wrote {shown(out)}", highlight=False)
    else:
        typer.echo(text)


@app.command("calibrate")
def calibrate_cmd(
    out: Annotated[str, typer.Option("--out", "-o", help="profile YAML file to write")],
    name: Annotated[str, typer.Option("--name", help="profile name")] = "calibrated-cpu",
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="intra-op threads (default: all cores)")]
    = None,
    quick: Annotated[bool, typer.Option("--quick", help="fewer, shorter benchmarks (a few seconds)")] = False,
    repeat: Annotated[int | None, typer.Option("--repeat", min=1, help="passes over the benchmarks, each "
                                               "keeping its fastest (default 3, 1 with --quick)")] = None,
    energy_per_mac_pj: Annotated[float, typer.Option(help="nominal, not measured")] = 20.0,
    energy_per_byte_pj: Annotated[float, typer.Option(help="nominal, not measured")] = 10.0,
    technology_nm: Annotated[float, typer.Option(help="nominal, not measured")] = 10.0,
) -> None:
    """Measure this machine with ONNX Runtime micro-benchmarks and write a digital profile YAML."""
    try:
        from nas_edge.hardware.calibrate import calibrate, write_profile
    except ImportError as exc:
        fail(f"calibration needs onnx and onnxruntime (pip install 'nas-edge[onnx]'): {exc}")
    for value, label in ((energy_per_mac_pj, "--energy-per-mac-pj"), (energy_per_byte_pj, "--energy-per-byte-pj"),
                         (technology_nm, "--technology-nm")):
        if not value > 0:
            fail(f"{label} must be > 0, got {value}")
    from pathlib import Path

    if Path(out).is_dir():  # fail before minutes of measuring, not after
        fail(f"cannot write {out}: it is a directory")
    try:
        cal = calibrate(threads=threads, name=name, quick=quick, repeat=repeat, energy_per_mac_pj=energy_per_mac_pj,
                        energy_per_byte_pj=energy_per_byte_pj, technology_nm=technology_nm,
                        progress=lambda msg: err_console.print(f"[dim]{shown(msg)}[/]", highlight=False))
        write_profile(cal, out)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    p = cal.profile
    console.print(f"wrote {shown(out)}: {p['peak_gmacs_per_s']:g} GMAC/s peak, {p['bandwidth_gb_per_s']:g} GB/s, "
                  f"{p['layer_overhead_ns']:g} ns per op, efficiency {p['efficiency']}", highlight=False)

"""Profile any ONNX model (or Workload) layer by layer on one or more hardware profiles.

>>> from nas_edge.profiling import profile_onnx
>>> result = profile_onnx("model.onnx", hardware=["neurosim-rram-22nm", "my_cpu.yaml"])  # doctest: +SKIP
>>> result.hardware[0].totals["energy_uj"], result.top_layers(0)                       # doctest: +SKIP
>>> open("profile.json", "w").write(result.to_json())                                   # doctest: +SKIP

JSON form (``result.to_dict()`` / ``to_json()``), schema ``"nas-edge.profile"`` version ``1``. Fields are only
ever added within a version; a rename or removal bumps it. Units are in the names.

.. code-block:: text

    schema       "nas-edge.profile"
    version      1
    model        source (path or label), producer, opset, ir_version,
                 inputs {input name: [dims used, batch 1]}, batch (inferences costed)
    summary      layers, macs (static + dynamic matmuls), params (static weights on crossbars),
                 static_layers, initializer_params (every weight in the file),
                 by_kind {kind: {layers, ops}}   (ops: MACs for matmul kinds, elementary ops otherwise)
    warnings     [str]  unknown ops, nodes without shapes, networks that do not fit a chip, ...
    layers       [{index, name, op_type, kind, k, n, m, groups, kernel, macs, params, in_elems, out_elems}]
                 one per Workload row (see nas_edge.workload.table for the column meanings)
    hardware     [{name, kind ("imc" | "digital"), source (as given),
                   totals {nas_edge.cost TOTAL_FIELDS: energy_uj, latency_ms, area_mm2, frames_per_s,
                           tops, tops_per_w, arrays_used, utilisation, adc_conversions, fits, ...},
                   layers [{nas_edge.cost LAYER_FIELDS: arrays, utilisation, adc_conversions, energy_pj,
                            latency_ns, energy_<component>_pj, ...}]  (same order as the top-level layers),
                   top_latency [layer index, ...]  (the 10 slowest, slowest first),
                   top_energy  [layer index, ...]  (the 10 most energy-hungry)}]

Non-finite numbers are written as ``null``. CSV (``to_csv``) has one line per (hardware, layer) with the
layer columns followed by the cost columns, every column name once (a cost column that repeats a layer
column's name is prefixed ``cost_``: ``cost_macs``); Markdown (``to_markdown``) is the human report;
``to_text`` is compact plain text for pipes and narrow terminals (totals and the top layers, names last and
never wrapped).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nas_edge._json import finite_or_none
from nas_edge._text import md_escape, printable

SCHEMA = "nas-edge.profile"
SCHEMA_VERSION = 1
LAYER_COLUMNS = ("index", "name", "op_type", "kind", "k", "n", "m", "groups", "kernel", "macs", "params",
                 "in_elems", "out_elems")


@dataclass(frozen=True)
class HardwareResult:
    """One hardware profile's cost of the model: totals and per-layer arrays (rows = workload rows)."""

    name: str
    kind: str
    source: str
    totals: dict[str, float]
    layers: np.ndarray  # (n_layers, len(LAYER_FIELDS))
    cost: Any = field(repr=False, default=None)

    def layer(self, name: str) -> np.ndarray:
        from nas_edge.cost import LAYER_FIELDS

        return self.layers[:, LAYER_FIELDS.index(name)]

    def top(self, by: str = "latency_ns", n: int = 10) -> list[int]:
        """Indices of the ``n`` layers highest in ``by`` (a LAYER_FIELDS name), highest first."""
        values = self.layer(by)
        order = np.argsort(-values, kind="stable")
        return [int(i) for i in order[:n] if values[i] > 0]


@dataclass(frozen=True)
class ProfileResult:
    """A model's workload costed on several hardware profiles. See the module docstring for the JSON form."""

    model: dict[str, Any]
    workload: Any  # nas_edge.workload.Workload
    hardware: list[HardwareResult]
    warnings: list[str]

    # -- views ------------------------------------------------------------------------------------------
    def op_types(self) -> tuple[str, ...]:
        ops = self.workload.op_types
        return ops if len(ops) == len(self.workload) else ("",) * len(self.workload)

    def layer_rows(self) -> list[dict[str, Any]]:
        from nas_edge.workload import OpKind

        w, ops = self.workload, self.op_types()
        return [{"index": i, "name": w.names[i], "op_type": ops[i], "kind": OpKind(int(w.kind[i])).name.lower(),
                 "k": int(w.k[i]), "n": int(w.n[i]), "m": int(w.m[i]), "groups": int(w.groups[i]),
                 "kernel": int(w.kernel[i]), "macs": float(w.macs[i]), "params": float(w.params[i]),
                 "in_elems": float(w.in_elems[i]), "out_elems": float(w.out_elems[i])}
                for i in range(len(w))]

    def top_layers(self, hardware: int = 0, by: str = "latency_ns", n: int = 10) -> list[int]:
        return self.hardware[hardware].top(by, n)

    def summary(self) -> dict[str, Any]:
        from nas_edge.workload import OpKind

        w = self.workload
        by_kind: dict[str, dict[str, float]] = {}
        for kind in OpKind:
            mask = w.kind == int(kind)
            if mask.any():
                by_kind[kind.name.lower()] = {"layers": int(mask.sum()), "ops": float(w.macs[mask].sum())}
        return {"layers": len(w), "macs": w.total_macs, "params": w.total_params,
                "static_layers": int(w.static_mask.sum()),
                "initializer_params": float(w.meta.get("initializer_params", w.total_params)),
                "by_kind": by_kind}

    # -- serialisations ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        from nas_edge.cost import LAYER_FIELDS

        return {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "model": self.model,
            "summary": self.summary(),
            "warnings": list(self.warnings),
            "layers": self.layer_rows(),
            "hardware": [
                {"name": h.name, "kind": h.kind, "source": h.source,
                 "totals": {k: finite_or_none(v) for k, v in h.totals.items()},
                 "layers": [{f: finite_or_none(h.layers[i, j]) for j, f in enumerate(LAYER_FIELDS)}
                            for i in range(h.layers.shape[0])],
                 "top_latency": h.top("latency_ns"), "top_energy": h.top("energy_pj")}
                for h in self.hardware
            ],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_csv(self) -> str:
        from nas_edge.cost import LAYER_FIELDS

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(csv_header(LAYER_FIELDS))
        rows = self.layer_rows()
        for h in self.hardware:
            for i, row in enumerate(rows):
                writer.writerow((h.name, *(row[c] for c in LAYER_COLUMNS),
                                 *(repr(float(v)) for v in h.layers[i])))
        return buf.getvalue()

    def header_line(self) -> str:
        """One line about the model: layers, MACs, weights, inputs, batch, opset."""
        m, s = self.model, self.summary()
        return (f"{m['source']}: {s['layers']} layers, {s['static_layers']} with static weights, "
                f"{fmt_count(s['macs'], 'MACs')}, {fmt_count(s['params'])} static weights "
                f"({fmt_count(s['initializer_params'])} in the file); inputs {fmt_inputs(m['inputs'])}, "
                f"batch {m['batch']}, opset {m['opset']}")

    def to_text(self, top: int = 10, layers: bool = False) -> str:
        """Compact plain text: the model line, totals per chip, the ``top`` slowest layers per chip (layer
        names last, whole) and, with ``layers``, every layer. Fits a pipe, a log file or a narrow terminal."""
        hw = self.hardware
        out = [self.header_line(), "", "totals"]
        out += plain_table(["", *(f"{h.name} ({h.kind})" for h in hw)],
                           [[label, *(fmt(h) for h in hw)] for label, fmt in TOTAL_ROWS], indent=2)
        names, ops = self.workload.names, self.op_types()
        for h in hw:
            lat, en = h.layer("latency_ns"), h.layer("energy_pj")
            tl, te = max(float(lat.sum()), 1e-300), max(float(en.sum()), 1e-300)
            out += ["", f"top {top} layers by latency on {h.name}"]
            out += plain_table(["#", "latency", "share", "energy", "share", "op", "layer"],
                               [[str(i), fmt_time_ns(lat[i]), f"{lat[i] / tl:.1%}", fmt_energy_pj(en[i]),
                                 f"{en[i] / te:.1%}", ops[i] or _kind_name(self.workload, i), names[i]]
                                for i in h.top("latency_ns", top)], indent=2)
        if layers:
            for h in hw:
                out += ["", f"layers on {h.name}"]
                out += plain_table(["#", "K x N", "MACs", "energy", "latency", "op", "layer"],
                                   [[str(r["index"]), shape_text(r), fmt_count(r["macs"]),
                                     fmt_energy_pj(h.layer("energy_pj")[r["index"]]),
                                     fmt_time_ns(h.layer("latency_ns")[r["index"]]), r["op_type"] or r["kind"],
                                     r["name"]] for r in self.layer_rows()], indent=2)
        if self.warnings:
            out += [""] + [f"warning: {w}" for w in self.warnings]
        return printable("\n".join(out), keep_newlines=True) + "\n"  # names from the file: no terminal escapes

    def to_markdown(self, top: int = 10, layers: bool = True) -> str:
        m = self.model
        s = self.summary()
        lines = [f"# Profile: {md(m['source'])}", "",
                 f"{s['layers']} layers ({s['static_layers']} with static weights), "
                 f"{fmt_count(s['macs'], 'MACs')}, {fmt_count(s['params'])} static weights "
                 f"({fmt_count(s['initializer_params'])} in the file), batch {m['batch']}, "
                 f"inputs {md(fmt_inputs(m['inputs']))}, opset {m['opset']}.", ""]
        lines += ["## Totals", "", "| | " + " | ".join(md(h.name) for h in self.hardware) + " |",
                  "|---|" + "---:|" * len(self.hardware)]
        for label, fmt in TOTAL_ROWS:
            lines.append(f"| {label} | " + " | ".join(fmt(h) for h in self.hardware) + " |")
        for h in self.hardware:
            lines += ["", f"## Top {top} layers by latency on {md(h.name)}", "",
                      "| # | layer | op | latency | share | energy | share |", "|---:|---|---|---:|---:|---:|---:|"]
            lat, en = h.layer("latency_ns"), h.layer("energy_pj")
            tl, te = max(lat.sum(), 1e-300), max(en.sum(), 1e-300)
            for i in h.top("latency_ns", top):
                lines.append(f"| {i} | {md(self.workload.names[i])} | {md(self.op_types()[i])} | "
                             f"{fmt_time_ns(lat[i])} | {lat[i] / tl:.1%} | {fmt_energy_pj(en[i])} | {en[i] / te:.1%} |")
        if layers:
            head = "| # | layer | op | kind | K x N (groups) | vectors | MACs |"
            sep = "|---:|---|---|---|---|---:|---:|"
            for h in self.hardware:
                head += f" arrays {md(h.name)} | util | energy {md(h.name)} | latency {md(h.name)} |" \
                    if h.kind == "imc" else f" energy {md(h.name)} | latency {md(h.name)} |"
                sep += "---:|---:|---:|---:|" if h.kind == "imc" else "---:|---:|"
            lines += ["", "## Layers", "", head, sep]
            for r in self.layer_rows():
                i = r["index"]
                vectors = fmt_count(r["m"]) if r["kind"] in ("conv", "linear", "dynamic_matmul") else "-"
                cells = [str(i), md(r["name"]), md(r["op_type"]), r["kind"], shape_text(r), vectors,
                         fmt_count(r["macs"])]
                for h in self.hardware:
                    if h.kind == "imc":
                        cells += [f"{h.layer('arrays')[i]:.0f}", f"{h.layer('utilisation')[i]:.0%}"]
                    cells += [fmt_energy_pj(h.layer("energy_pj")[i]), fmt_time_ns(h.layer("latency_ns")[i])]
                lines.append("| " + " | ".join(cells) + " |")
        if self.warnings:
            lines += ["", "## Warnings", ""] + [f"- {md(w)}" for w in self.warnings]
        return "\n".join(lines) + "\n"


# ---- formatting helpers (shared with the CLI) -------------------------------------------------------------

def csv_header(cost_fields: Sequence[str]) -> list[str]:
    """``hardware``, the layer columns, then the cost columns; a cost column that repeats a name gets ``cost_``."""
    return ["hardware", *LAYER_COLUMNS, *(f"cost_{f}" if f in LAYER_COLUMNS else f for f in cost_fields)]


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, indent: int = 0) -> list[str]:
    """Lines of a plain-text table: columns padded to their widest cell, the last column neither padded nor
    cut (put long free text, such as layer names, last). Text columns (the last one and any whose cells are not
    numbers) are left-aligned, numbers right-aligned."""
    cells = [[str(h) for h in headers], *([str(c) for c in r] for r in rows)]
    n = len(headers)
    widths = [max(len(r[j]) for r in cells) for j in range(n)]
    numeric = [j < n - 1 and all(_looks_numeric(r[j]) for r in cells[1:]) for j in range(n)]
    pad = " " * indent
    lines = []
    for r in cells:
        parts = [(r[j].rjust(widths[j]) if numeric[j] else r[j].ljust(widths[j])) if j < n - 1 else r[j]
                 for j in range(n)]
        lines.append((pad + "  ".join(parts)).rstrip())
    return lines


def _looks_numeric(text: str) -> bool:
    head = text.strip().split(" ")[0].rstrip("%")
    try:
        float(head)
    except ValueError:
        return text.strip() in ("", "-", "–")
    return True


def _kind_name(workload: Any, i: int) -> str:
    from nas_edge.workload import OpKind

    return OpKind(int(workload.kind[i])).name.lower()


md = md_escape  # names from the model and the profiles are text, never Markdown or HTML


def fmt_count(v: float, unit: str = "") -> str:
    """``1.23 GMACs``, ``45.6 M``, ``789``: three significant digits with an SI prefix."""
    v = float(v)
    for div, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g} {prefix}{unit}"
    return f"{v:.3g} {unit}".strip()


def fmt_energy_pj(pj: float) -> str:
    pj = float(pj)
    for div, unit in ((1e9, "mJ"), (1e6, "uJ"), (1e3, "nJ")):
        if abs(pj) >= div:
            return f"{pj / div:.3g} {unit}"
    return f"{pj:.3g} pJ"


def fmt_time_ns(ns: float) -> str:
    ns = float(ns)
    for div, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "us")):
        if abs(ns) >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_inputs(inputs: Mapping[str, Sequence[int]]) -> str:
    return ", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in inputs.items()) or "none"


def shape_text(row: Mapping[str, Any]) -> str:
    """'K x N' for matmul kinds ('/g' for groups), '-' otherwise."""
    if row["kind"] not in ("conv", "linear", "dynamic_matmul"):
        return "-"
    g = f" /{row['groups']}" if row["groups"] > 1 else ""
    return f"{row['k']} x {row['n']}{g}"


def _imc(h: HardwareResult, text: str) -> str:
    return text if h.kind == "imc" else "-"


TOTAL_ROWS: tuple[tuple[str, Any], ...] = (
    ("energy", lambda h: fmt_energy_pj(h.totals["energy_uj"] * 1e6)),
    ("latency (layer by layer)", lambda h: fmt_time_ns(h.totals["latency_ms"] * 1e6)),
    ("frames/s", lambda h: f"{h.totals['frames_per_s']:.4g}"),
    ("frames/s pipelined", lambda h: _imc(h, f"{h.totals['frames_per_s_pipelined']:.4g}")),
    ("TOPS", lambda h: f"{h.totals['tops']:.3g}"),
    ("TOPS/W", lambda h: f"{h.totals['tops_per_w']:.3g}"),
    ("area", lambda h: f"{h.totals['area_mm2']:.4g} mm2" if h.totals["area_mm2"] > 0 else "-"),
    ("arrays used / on chip", lambda h: _imc(h, f"{h.totals['arrays_used']:.0f} / {h.totals['arrays_on_chip']:.0f}")),
    ("utilisation", lambda h: _imc(h, f"{h.totals['utilisation']:.1%}")),
    ("ADC conversions", lambda h: _imc(h, fmt_count(h.totals["adc_conversions"]))),
    ("fits on chip", lambda h: _imc(h, "yes" if h.totals["fits"] > 0.5 else "no")),
)


# ---- entry points -----------------------------------------------------------------------------------------

def _as_list(hardware: Any) -> list[Any]:
    if isinstance(hardware, (str, bytes)) or not isinstance(hardware, Sequence):
        return [hardware]
    return list(hardware)


def profile_workload(workload: Any, hardware: Any, *, model: Mapping[str, Any] | None = None,
                     values: Any = None) -> ProfileResult:
    """Cost an existing Workload (e.g. from ``Workload.from_torch``) on one or more hardware profiles;
    ``values`` (a :class:`nas_edge.cost.values.ValueTrace`) makes the IMC array energy value-aware."""
    from nas_edge.cost import estimate
    from nas_edge.hardware import load_profile

    specs = _as_list(hardware)
    if not specs:
        raise ValueError("give at least one hardware profile")
    profiles = [load_profile(h) for h in specs]  # ProfileError before any costing
    results, warnings = [], list(workload.warnings)
    if values is not None:
        warnings.extend(values.notes)
    for spec, prof in zip(specs, profiles, strict=True):
        cost = estimate(workload, prof, values=values)
        totals = {k: float(v) for k, v in cost.totals.items()}
        if prof.kind == "imc" and totals.get("fits", 1.0) < 0.5:
            warnings.append(f"{prof.name}: the network needs {totals['arrays_needed']:.0f} arrays, the chip has "
                            f"{totals['arrays_on_chip']:.0f}"
                            + (" (weights are re-programmed)" if totals.get("feasible", 0) > 0.5 else
                               " (infeasible)"))
        source = spec if isinstance(spec, str) else str(getattr(spec, "name", spec))
        results.append(HardwareResult(prof.name, prof.kind, str(source), totals, cost.layers, cost))
    meta = workload.meta
    info = {"source": meta.get("source", "<workload>"), "producer": meta.get("producer", ""),
            "opset": meta.get("opset"), "ir_version": meta.get("ir_version"),
            "inputs": dict(meta.get("inputs", {})), "batch": workload.batch, **dict(model or {})}
    return ProfileResult(model=info, workload=workload, hardware=results, warnings=warnings)


def profile_onnx(model: Any, hardware: Any, batch: int = 1,
                 input_shapes: Mapping[str, Sequence[int] | int] | None = None,
                 calibration_data: Any = None) -> ProfileResult:
    """Profile an ONNX model (path, bytes or ``onnx.ModelProto``) on hardware profiles (names, YAML paths or
    profile objects; one or a list). ``calibration_data`` (an array, or arrays by input name; the first axis
    the sample) makes the IMC array energy value-aware (:mod:`nas_edge.cost.values`). Raises ``OnnxError`` /
    ``ProfileError`` / ``CalibrationDataError`` with one-line messages."""
    from nas_edge.hardware import load_profile
    from nas_edge.workload.onnx_adapter import from_onnx

    for h in _as_list(hardware):
        load_profile(h)  # fail on a bad hardware name before reading a large model
    workload = from_onnx(model, input_shapes=input_shapes, batch=batch)
    values, info = None, None
    if calibration_data is not None:
        from nas_edge.cost.values import trace_onnx

        values = trace_onnx(model, calibration_data)
        info = {"calibration": {"inputs": values.inputs_used, "layers_traced": len(values.layers)}}
    return profile_workload(workload, hardware, model=info, values=values)


__all__ = ["SCHEMA", "SCHEMA_VERSION", "HardwareResult", "ProfileResult", "csv_header", "plain_table", "profile_onnx",
           "profile_workload"]

"""Deployment reports: ``report.json`` (versioned schema), ``report.md`` and a self-contained ``report.html``.

Two documents, each rendered from its JSON record alone (so ``nas-edge report`` can regenerate them):

- per export, schema ``"nas-edge.export"`` version 1 (see :data:`EXPORT_SCHEMA`): source (study, trial,
  architecture, search-time values), environment, dataset, training, model (file, opset, inputs/outputs,
  operators, params, MACs, preprocessing), verification (checker, shape inference, parity), latency (ORT fp32
  and PyTorch eager, p50/p90 ms), accuracy (PyTorch, ONNX, INT8, search, analog), quantization, ort_format,
  hardware (per profile: summary, totals, per-layer IMC mapping), host_estimate (estimated vs measured
  latency), files (bytes, sha256) and checklist;
- per study, schema ``"nas-edge.study-report"`` version 1 (see :data:`STUDY_SCHEMA`): study (name, directions,
  objective names, trial counts), trials (number, state, values, feasible, Pareto flag, architecture summary,
  the search method's trace: :mod:`nas_edge.search.trace`, e.g. DNAS's lambda schedule and architecture
  probabilities per epoch, drawn as line charts), pareto and chosen trial numbers, exports (each one's key
  figures and folder) and analytic costs of chosen trials that have no export.

Fields are only ever added within a version; a rename or removal bumps it. Non-finite numbers are ``null``.
The HTML has no scripts, no external style sheets, fonts or images: plots are inline SVG.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nas_edge._io import write_atomic
from nas_edge._json import json_safe
from nas_edge._text import md_escape as md
from nas_edge.cost.layout import ENERGY_COMPONENTS
from nas_edge.export._svg import bars_svg, fmt_num, front_2d, line_svg, lines_svg, scatter_svg
from nas_edge.search.trace import Trace, TracePlot

EXPORT_SCHEMA_ID, STUDY_SCHEMA_ID, SCHEMA_VERSION = "nas-edge.export", "nas-edge.study-report", 1
ENERGY_PARTS = ENERGY_COMPONENTS  # the cost model's energy components, in its order

_NUM = {"type": ["number", "null"]}
_LAT = {"type": "object", "required": ["p50_ms", "p90_ms", "runs"],
        "properties": {"p50_ms": {"type": "number"}, "p90_ms": {"type": "number"}, "runs": {"type": "integer"}}}
EXPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "nas-edge export report", "type": "object",
    "required": ["schema", "version", "name", "source", "environment", "dataset", "model", "verification",
                 "latency", "accuracy", "quantization", "ort_format", "hardware", "files", "checklist"],
    "properties": {
        "schema": {"const": EXPORT_SCHEMA_ID}, "version": {"const": SCHEMA_VERSION}, "name": {"type": "string"},
        "source": {"type": "object", "required": ["kind"]},
        "model": {"type": "object",
                  "required": ["file", "bytes", "opset", "inputs", "outputs", "operators", "params", "macs"],
                  "properties": {"opset": {"type": "integer", "minimum": 18}, "bytes": {"type": "integer"},
                                 "params": {"type": "integer"}, "macs": {"type": "number"}}},
        "verification": {"type": "object", "required": ["checker", "shape_inference", "parity"],
                         "properties": {"parity": {"type": "object",
                                                   "required": ["max_abs_diff", "atol", "passed", "samples"]}}},
        "latency": {"type": "object", "required": ["ort_fp32", "torch_eager", "threads", "batch"],
                    "properties": {"ort_fp32": _LAT, "torch_eager": _LAT}},
        "accuracy": {"type": "object", "required": ["torch_fp32", "onnx_fp32", "int8"],
                     "properties": {"torch_fp32": _NUM, "onnx_fp32": _NUM, "int8": _NUM}},
        "quantization": {"type": ["object", "null"]},
        "ort_format": {"type": ["object", "null"]},
        "hardware": {"type": "array", "items": {"type": "object", "required": ["name", "kind", "totals", "layers"]}},
        "files": {"type": "array", "items": {"type": "object", "required": ["file", "bytes", "sha256"]}},
        "checklist": {"type": "object", "required": ["opset", "operators", "inputs", "files_to_ship"]},
    },
}
STUDY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "nas-edge study report", "type": "object",
    "required": ["schema", "version", "study", "trials", "pareto", "chosen", "exports", "analytic"],
    "properties": {
        "schema": {"const": STUDY_SCHEMA_ID}, "version": {"const": SCHEMA_VERSION},
        "study": {"type": "object", "required": ["name", "directions", "objectives", "n_trials", "states"]},
        "trials": {"type": "array", "items": {"type": "object", "required": ["number", "state", "values"]}},
        "pareto": {"type": "array", "items": {"type": "integer"}},
        "chosen": {"type": "array", "items": {"type": "integer"}},
        "exports": {"type": "array", "items": {"type": "object", "required": ["trial", "dir", "summary"]}},
        "analytic": {"type": "array"},
    },
}


# ---- JSON ---------------------------------------------------------------------------------------------------

def clean(value: Any) -> Any:
    """JSON-safe copy for the report files: :func:`nas_edge._json.json_safe` with non-finite floats as None."""
    return json_safe(value, finite=True)


def to_json(record: Mapping[str, Any]) -> str:
    return json.dumps(clean(record), indent=2, allow_nan=False) + "\n"


# ---- formatting helpers -------------------------------------------------------------------------------------

def _f(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        return fmt_num(v) if digits == 3 else f"{v:.{digits}f}"
    return str(v)


_UNITS = (("_uj_ms", "µJ·ms"), ("_uj", "µJ"), ("_pj", "pJ"), ("_fj", "fJ"), ("_ms", "ms"), ("_ns", "ns"),
          ("_mm2", "mm²"), ("_um2", "µm²"), ("_mw", "mW"), ("_s", "s"))
_NAMED = {"accuracy": "accuracy (%)", "params": "parameters", "macs": "MACs", "naswot": "NASWOT score",
          "synflow": "SynFlow score", "tops": "TOPS", "tops_per_w": "TOPS/W", "tops_per_mm2": "TOPS/mm²",
          "frames_per_s": "frames/s", "frames_per_s_pipelined": "frames/s (pipelined)", "edp_uj_ms": "EDP (µJ·ms)",
          "utilisation": "utilisation (%)", "adc_conversions": "ADC conversions"}


def is_accuracy(name: str) -> bool:
    """Accuracy-type metrics: shown as percentages everywhere."""
    return name == "accuracy" or name.startswith("analog_accuracy")


def metric_label(name: str) -> str:
    """A metric's name for people, with its unit: ``energy_uj`` -> ``energy (µJ)``."""
    if name in _NAMED:
        return _NAMED[name]
    if is_accuracy(name):
        return name.replace("_", " ") + " (%)"
    for suffix, unit in _UNITS:
        if name.endswith(suffix):
            return f"{name[: -len(suffix)].replace('_', ' ')} ({unit})"
    return name.replace("_", " ")


def metric_text(name: str, v: Any) -> str:
    """One format per metric: accuracies as percentages, everything else :func:`_f`."""
    return _pct(v) if is_accuracy(name) else _f(v)


def plot_value(name: str, v: float) -> float:
    """The value a plot axis labelled :func:`metric_label` shows (accuracies in %)."""
    return 100.0 * v if is_accuracy(name) else v


def _pct(v: Any) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{100 * float(v):.2f} %"


def _bytes(n: Any) -> str:
    if n is None:
        return "–"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def _shape(t: Mapping[str, Any]) -> str:
    return f"{t['name']}: {t.get('dtype')} [{', '.join(str(d) for d in t.get('shape', []))}]"


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table whose cells are text (names from studies and models never become HTML or links)."""
    lines = ["| " + " | ".join(md(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(md(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _html_table(headers: Sequence[str] | None, rows: Sequence[Sequence[Any]], *, cls: str = "",
                raw_last: bool = False) -> str:
    """A table in a box that scrolls sideways when the table is wider than the page. ``headers`` ``None``: no
    header row (key/value tables). ``raw_last``: the last cell of each row is HTML already (a link)."""
    head = "" if headers is None else \
        "<thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in headers) + "</tr></thead>"

    def cells(r: Sequence[Any]) -> str:
        out = [f"<td>{html.escape(str(v))}</td>" for v in r]
        if raw_last and r:
            out[-1] = f"<td>{r[-1]}</td>"
        return "".join(out)

    body = "".join(f"<tr>{cells(r)}</tr>" for r in rows)
    return f'<div class="scroll"><table class="{cls}">{head}<tbody>{body}</tbody></table></div>'


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1180px;color:#222;
line-height:1.4;padding:0 16px}h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:1.8em}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}td,th{border:1px solid #ddd;padding:3px 7px;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.kv td:first-child{font-weight:600}.ok{color:#2a7d2a;font-weight:600}.bad{color:#b22;font-weight:600}
code{background:#f4f4f4;padding:1px 4px;border-radius:3px}.muted{color:#666;font-size:12px}
details{margin:8px 0}svg{margin:8px 8px 8px 0;background:#fff;max-width:100%;height:auto}
.plots{display:flex;flex-wrap:wrap;align-items:flex-start;gap:0 16px}.plots>*{max-width:100%;min-width:0}
.scroll{overflow-x:auto;max-width:100%}.kv td{overflow-wrap:anywhere}.kv td:last-child{text-align:left}
"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n{body}\n</body></html>\n")


# ---- shared pieces ------------------------------------------------------------------------------------------

def summary_rows(r: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The key figures of one export as (label, value) pairs."""
    m, lat, acc = r["model"], r["latency"], r["accuracy"]
    q = r.get("quantization")
    rows = [
        ("accuracy PyTorch fp32", _pct(acc.get("torch_fp32"))),
        ("accuracy ONNX Runtime fp32", _pct(acc.get("onnx_fp32"))),
    ]
    if q:
        rows.append(("accuracy INT8", f"{_pct(q['accuracy'])} (drop {q['accuracy_drop_points']:.2f} points, "
                                      f"target ≤ {q['target_drop_points']:.0f})"))
    if acc.get("search") is not None:
        rows.append(("accuracy during the search", _pct(acc["search"])))
    for k, v in _analog_items(acc.get("analog")):
        rows.append((f"analog accuracy {k}", v))
    rows += [
        ("ORT fp32 latency p50 / p90", f"{_f(lat['ort_fp32']['p50_ms'])} / {_f(lat['ort_fp32']['p90_ms'])} ms"),
        ("PyTorch eager latency p50 / p90",
         f"{_f(lat['torch_eager']['p50_ms'])} / {_f(lat['torch_eager']['p90_ms'])} ms"),
        ("ORT / PyTorch p50", _f(lat.get("ort_over_torch_p50"))),
    ]
    if q:
        rows.append(("INT8 latency p50 / p90 (× fp32)", f"{_f(q['latency']['p50_ms'])} / "
                                                        f"{_f(q['latency']['p90_ms'])} ms ({_f(q['latency_ratio'])}×)"))
        rows.append(("INT8 file size (× fp32)", f"{_bytes(q['bytes'])} ({_f(q['size_ratio'])}×)"))
    rows += [
        ("file size fp32", _bytes(m["bytes"])),
        ("parameters", _f(m["params"])),
        ("MACs per inference", _f(m["macs"]) + (f" (analytic: {_f(m['macs_analytic'])})"
                                                if m.get("macs_analytic") is not None else "")),
        ("opset / IR version", f"{m['opset']} / {m['ir_version']}"),
        ("parity max |ORT − PyTorch|", f"{r['verification']['parity']['max_abs_diff']:.2e} "
                                      f"(tolerance {r['verification']['parity']['atol']:.0e})"),
    ]
    return rows


def _analog_items(analog: Any) -> list[tuple[str, str]]:
    if not isinstance(analog, Mapping):
        return []
    out = []
    for k, v in analog.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append((str(k), _pct(v) if 0 <= float(v) <= 1 else _f(float(v))))
    return out


def _profile_summary(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    prof = p.get("profile") or {}
    rows = [("name", p["name"]), ("kind", p["kind"])]
    if p.get("chip"):  # a co-searched chip: its knobs, not the base profile's description
        rows.append(("co-searched chip", f"{p['chip']} (knobs chosen by the search on base "
                                         f"{p.get('base') or p['name'].split('@')[0]})"))
    else:
        rows.append(("description", prof.get("description", "")))
    if p["kind"] == "imc":
        a, adc, pr = prof.get("array", {}), prof.get("adc", {}), prof.get("precision", {})
        rows += [("technology", f"{prof.get('technology_nm')} nm, {prof.get('clock_ghz')} GHz"),
                 ("array", f"{a.get('rows')}×{a.get('cols')}, {a.get('cell_bits')} bit/cell, "
                           f"{a.get('rows_parallel')} rows in parallel, {a.get('mapping')} mapping"),
                 ("ADC", f"{adc.get('model')} {adc.get('bits')} bit, {a.get('cols_per_adc')} columns per ADC"),
                 ("DAC", f"{a.get('dac_bits')} bit"),
                 ("precision", f"weights {pr.get('weight_bits')} b, inputs {pr.get('input_bits')} b")]
    else:
        rows += [("peak", f"{prof.get('peak_gmacs_per_s')} GMAC/s, {prof.get('elementwise_gops_per_s')} Gop/s "
                          "element-wise"),
                 ("memory bandwidth", f"{prof.get('bandwidth_gb_per_s')} GB/s"),
                 ("energy", f"{prof.get('energy_per_mac_pj')} pJ/MAC, {prof.get('energy_per_byte_pj')} pJ/byte")]
    return rows


_TOTALS = (("energy_uj", "energy (µJ)"), ("latency_ms", "latency (ms)"), ("pipeline_stage_ms", "pipeline stage (ms)"),
           ("frames_per_s", "frames/s"), ("area_mm2", "area (mm²)"), ("arrays_used", "arrays used"),
           ("arrays_on_chip", "arrays on chip"), ("utilisation", "utilisation"),
           ("adc_conversions", "ADC conversions"), ("tops_per_w", "TOPS/W"), ("fits", "fits on chip"))


def _totals_rows(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    t = p["totals"]
    keys = _TOTALS if p["kind"] == "imc" else (_TOTALS[:2] + _TOTALS[3:5] + (("tops_per_w", "TOPS/W"),))
    rows = []
    for k, label in keys:
        v = t.get(k)
        if k == "utilisation":
            rows.append((label, _pct(v)))
        elif k == "fits":
            rows.append((label, "–" if v is None else ("yes" if v > 0.5 else "no")))
        else:
            rows.append((label, _f(v)))
    return rows


def _layer_rows(p: Mapping[str, Any]) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """Per-layer mapping table: static layers one by one, digital ops summed in one line; plus all rows."""
    imc = p["kind"] == "imc"
    headers = (["layer", "op", "K (rows)", "N (outputs)", "M (vectors)", "groups", "arrays", "duplication",
                "utilisation", "ADC conversions", "energy (pJ)", "array (pJ)", "ADC (pJ)", "DAC (pJ)",
                "shift-add (pJ)", "buffer (pJ)", "digital (pJ)", "latency (ns)"] if imc
               else ["layer", "op", "K (rows)", "N (outputs)", "M (vectors)", "MACs", "energy (pJ)", "latency (ns)"])

    def row(lay: Mapping[str, Any]) -> list[str]:
        if imc:
            return [lay["name"], lay["op"], _f(lay["k"]), _f(lay["n"]), _f(lay["m"]), _f(lay["groups"]),
                    _f(lay.get("arrays")), _f(lay.get("duplication")) if lay.get("arrays") else "–",
                    _pct(lay.get("utilisation")) if lay.get("arrays") else "–",
                    _f(lay.get("adc_conversions")), _f(lay.get("energy_pj")),
                    *(_f(lay.get(f"energy_{c}_pj")) for c in ("array", "adc", "dac", "shift_add", "buffer",
                                                               "digital")),
                    _f(lay.get("latency_ns"))]
        return [lay["name"], lay["op"], _f(lay["k"]), _f(lay["n"]), _f(lay["m"]), _f(lay.get("macs")),
                _f(lay.get("energy_pj")), _f(lay.get("latency_ns"))]

    static = [lay for lay in p["layers"] if lay["op"] in ("conv", "linear")]
    other = [lay for lay in p["layers"] if lay["op"] not in ("conv", "linear")]
    rows = [row(lay) for lay in static]
    if other:
        def total(key: str) -> float:
            return sum(float(lay.get(key) or 0.0) for lay in other)

        if imc:
            rows.append([f"{len(other)} digital ops", "digital", "", "", "", "", "", "", "", "", _f(total("energy_pj")),
                         "", "", "", "", _f(total("energy_buffer_pj")), _f(total("energy_digital_pj")),
                         _f(total("latency_ns"))])
        else:
            rows.append([f"{len(other)} other ops", "other", "", "", "", _f(total("macs")), _f(total("energy_pj")),
                         _f(total("latency_ns"))])
    return headers, rows, [row(lay) for lay in p["layers"]]


def _energy_chart(p: Mapping[str, Any], top: int = 12) -> str:
    layers = sorted(p["layers"], key=lambda lay: -(lay.get("energy_pj") or 0.0))[:top]
    layers = [lay for lay in layers if (lay.get("energy_pj") or 0) > 0]
    if not layers:
        return ""
    parts = [c for c in ENERGY_PARTS if any((lay.get(f"energy_{c}_pj") or 0) > 0 for lay in layers)]
    series = {c.replace("_", "-"): [(lay.get(f"energy_{c}_pj") or 0.0) / 1e6 for lay in layers] for c in parts}
    return bars_svg([lay["name"] for lay in layers], series, stacked=True, unit="µJ",
                    title=f"energy by component, {len(layers)} most energy-hungry layers ({p['name']})")


def _layer_latency_chart(p: Mapping[str, Any], top: int = 12) -> str:
    """The ``top`` slowest layers on one chip (latency layer by layer, µs)."""
    layers = sorted((lay for lay in p["layers"] if (lay.get("latency_ns") or 0) > 0),
                    key=lambda lay: -(lay.get("latency_ns") or 0.0))[:top]
    if not layers:
        return ""
    return bars_svg([lay["name"] for lay in layers], {"latency": [lay["latency_ns"] / 1e3 for lay in layers]},
                    unit="µs", title=f"latency of the {len(layers)} slowest layers ({p['name']})")


def _layer_charts(p: Mapping[str, Any]) -> str:
    return f'<div class="plots">{_energy_chart(p)}{_layer_latency_chart(p)}</div>'


def _latency_chart(r: Mapping[str, Any]) -> str:
    lat = r["latency"]
    labels = ["PyTorch eager fp32", "ORT fp32"]
    p50 = [lat["torch_eager"]["p50_ms"], lat["ort_fp32"]["p50_ms"]]
    p90 = [lat["torch_eager"]["p90_ms"], lat["ort_fp32"]["p90_ms"]]
    q = r.get("quantization")
    if q:
        labels.append("ORT INT8")
        p50.append(q["latency"]["p50_ms"])
        p90.append(q["latency"]["p90_ms"])
    h = r.get("host_estimate")
    if h and h.get("estimated_ms") is not None:
        labels.append(f"estimate: {h['profile']}")
        p50.append(h["estimated_ms"])
        p90.append(0.0)  # one number, no spread
    return bars_svg(labels, {"p50": p50, "p90": p90}, unit="ms",
                    title=f"latency at batch 1, {lat['threads']} thread(s): measured on this host vs estimated")


# ---- per-export report --------------------------------------------------------------------------------------

def _source_rows(src: Mapping[str, Any]) -> list[tuple[str, str]]:
    if src.get("kind") != "trial":
        return [("source", "a torch module given to export_model()")]
    rows = [("study", str(src.get("study"))), ("trial", str(src.get("trial")))]
    names = src.get("objectives") or []
    values = src.get("values") or []
    for i, v in enumerate(values):
        name = names[i] if i < len(names) else str(i)
        rows.append((f"objective: {metric_label(name)}", metric_text(name, v)))
    if src.get("architecture_summary"):
        rows.append(("architecture", str(src["architecture_summary"])))
    if src.get("hardware_name"):
        rows.append(("hardware of the trial", str(src["hardware_name"])))
    hw = src.get("hardware")
    if isinstance(hw, Mapping) and hw.get("space") == "hardware":
        from nas_edge.search.hardware_cost import chip_summary

        rows.append(("co-searched chip", chip_summary(hw)))
    return rows


def export_markdown(r: Mapping[str, Any]) -> str:
    """``report.md`` of one export."""
    out = [f"# Deployment report: {md(r['name'])}", "",
           f"Generated {r.get('created', '')} by nas-edge {r['environment'].get('nas_edge')} "
           f"(torch {r['environment'].get('torch')}, onnx {r['environment'].get('onnx')}, "
           f"onnxruntime {r['environment'].get('onnxruntime')}) on {md(r['environment'].get('processor'))}.", "",
           _md_table(["item", "value"], _source_rows(r["source"])), "",
           *(f"> **warning:** {md(w)}" for w in r.get("warnings") or []), "", "## Summary", "",
           _md_table(["figure", "value"], summary_rows(r)), ""]
    t = r.get("training")
    if t:
        start = t.get("start") or {}
        origin = (f" Fine-tuned from the weights of the supernet `{md(start.get('checkpoint'))}` (inherited "
                  f"accuracy {_pct(start.get('inherited_accuracy'))})." if start.get("from") == "supernet" else "")
        out += ["## Training", "", f"{t.get('epochs', '?')} epochs, seed {t.get('seed', '?')}: validation accuracy "
                f"{_pct(t['accuracy'])} in {t['seconds']:.1f} s.{origin}", ""]
    v = r["verification"]
    si = v["shape_inference"]
    out += ["## Verification", "",
            f"- `{v['checker']}`: passed",
            f"- strict shape inference: {si['tensors'] - len(si['unknown_shapes'])}/{si['tensors']} tensors typed",
            f"- ONNX Runtime vs PyTorch on {v['parity']['samples']} validation inputs (batch sizes "
            f"{', '.join(map(str, v['parity'].get('batch_sizes', [])))}): max abs diff "
            f"{v['parity']['max_abs_diff']:.2e} ≤ {v['parity']['atol']:.0e}",
            f"- export {v['export_seconds']:.1f} s, verification {v['verify_seconds']:.1f} s", ""]
    q = r.get("quantization")
    if q:
        out += ["## INT8 quantisation", "",
                _md_table(["item", "value"], [("method", f"{q['method']} ({q['format']})"),
                                     ("calibration samples", _f(q.get("calibration_samples"))),
                                     ("accuracy fp32 → INT8", f"{_pct(q['accuracy_fp32'])} → {_pct(q['accuracy'])}"),
                                     ("drop (points)", f"{q['accuracy_drop_points']:.2f} "
                                                       f"({'within' if q['within_target'] else 'ABOVE'} target "
                                                       f"{q['target_drop_points']:.0f})"),
                                     ("top-1 agreement with fp32", _pct(q["top1_agreement"])),
                                     ("size", f"{_bytes(q['bytes'])} ({_f(q['size_ratio'])}× fp32)"),
                                     ("latency p50", f"{_f(q['latency']['p50_ms'])} ms "
                                                     f"({_f(q['latency_ratio'])}× fp32)")]), ""]
    o = r.get("ort_format")
    if o:
        out += ["## ORT format", "", f"`{o['command']}` → {', '.join(o['files'])} and `{o['config']}`.", "",
                _md_table(["domain", "opset", "operators"],
                          [(x["domain"], x["opset"], ", ".join(x["ops"])) for x in o["operators"]]), ""]
    out += ["## Hardware", ""]
    for p in r["hardware"]:
        headers, rows, _ = _layer_rows(p)
        out += [f"### {md(p['name'])} ({md(p['kind'])})", "", _md_table(["item", "value"], _profile_summary(p)), "",
                _md_table(["total", "value"], _totals_rows(p)), "", _md_table(headers, rows), ""]
    cmp_rows = search_vs_export(r)
    if cmp_rows:
        out += [f"Search-time estimate (the space's analytic workload) against the exported graph "
                f"({md(r['source'].get('hardware_name'))}):", "",
                _md_table(["", "search", "exported", "difference"], cmp_rows), "", _CMP_NOTE, ""]
    h = r.get("host_estimate")
    if h:
        out += ["## Estimated vs measured latency (this host)", "",
                _md_table(["profile", "estimated ms", "measured p50 ms", "measured p90 ms", "estimate / measured"],
                          [(h["profile"], _f(h["estimated_ms"]), _f(h["measured_p50_ms"]), _f(h["measured_p90_ms"]),
                            _f(h["ratio_estimated_over_measured"]))]), "", h["note"], ""]
    out += _checklist_md(r["checklist"], r["files"])
    return "\n".join(out)


def _checklist_md(c: Mapping[str, Any], files: Sequence[Mapping[str, Any]]) -> list[str]:
    pre = c["preprocessing"]
    return ["## Deployment checklist", "",
            f"- [x] opset {c['opset']} (IR version {c['ir_version']}), batch axis dynamic",
            f"- [x] inputs: {'; '.join(_shape(t) for t in c['inputs'])}",
            f"- [x] outputs: {'; '.join(_shape(t) for t in c['outputs'])}",
            f"- [x] preprocessing: {pre.get('formula', 'none') if pre.get('baked_in') else 'none'} "
            f"{'baked into the graph' if pre.get('baked_in') else ''} — {pre.get('note', '')}",
            f"- [x] operators (fp32): {', '.join(c['operators'])}",
            *([f"- [x] operators (INT8): {', '.join(c['int8_operators'])}"] if c.get("int8_operators") else []),
            f"- [x] runtime: {c['runtime']}",
            *([f"- [x] reduced build: `--include_ops_by_config {c['reduced_build_config']}`"]
              if c.get("reduced_build_config") else []),
            f"- [{'x' if c['checks']['parity_fp32'] else ' '}] fp32 parity with PyTorch",
            *([f"- [{'x' if c['checks']['int8_within_target'] else ' '}] INT8 accuracy drop within target"]
              if c["checks"].get("int8_within_target") is not None else []),
            "", "Files to ship:", "",
            _md_table(["file", "size", "sha256", "purpose"],
                      [(f["file"], _bytes(f["bytes"]), f["sha256"][:16] + "…", f.get("purpose", ""))
                       for f in files]), ""]


def _kv_html(rows: Sequence[tuple[str, str]]) -> str:
    return _html_table(None, rows, cls="kv")


def export_html(r: Mapping[str, Any]) -> str:
    """``report.html`` of one export (self-contained)."""
    env = r["environment"]
    parts = [f"<h1>Deployment report: {html.escape(r['name'])}</h1>",
             f"<p class=\"muted\">Generated {html.escape(str(r.get('created', '')))} by nas-edge "
             f"{html.escape(str(env.get('nas_edge')))} — torch {html.escape(str(env.get('torch')))}, onnx "
             f"{html.escape(str(env.get('onnx')))}, onnxruntime {html.escape(str(env.get('onnxruntime')))} on "
             f"{html.escape(str(env.get('processor')))}.</p>",
             _kv_html(_source_rows(r["source"])),
             *(f'<p class="bad">warning: {html.escape(w)}</p>' for w in r.get("warnings") or []),
             "<h2>Summary</h2>", _kv_html(summary_rows(r)),
             '<div class="plots">', _latency_chart(r), "</div>"]
    v = r["verification"]
    si = v["shape_inference"]
    parts += ["<h2>Verification</h2>", _kv_html([
        ("ONNX checker", f"{v['checker']}: passed"),
        ("shape inference (strict)", f"{si['tensors'] - len(si['unknown_shapes'])}/{si['tensors']} tensors typed"),
        ("parity", f"max |ORT − PyTorch| = {v['parity']['max_abs_diff']:.2e} ≤ {v['parity']['atol']:.0e} on "
                   f"{v['parity']['samples']} validation inputs"),
        ("time", f"export {v['export_seconds']:.1f} s, verification {v['verify_seconds']:.1f} s")])]
    q = r.get("quantization")
    if q:
        cls = "ok" if q["within_target"] else "bad"
        parts += ["<h2>INT8 quantisation</h2>", _kv_html([
            ("method", f"{q['method']} ({q['format']})"),
            ("accuracy fp32 → INT8", f"{_pct(q['accuracy_fp32'])} → {_pct(q['accuracy'])}"),
            ("top-1 agreement with fp32", _pct(q["top1_agreement"])),
            ("size", f"{_bytes(q['bytes'])} ({_f(q['size_ratio'])}× fp32)"),
            ("latency p50 / p90", f"{_f(q['latency']['p50_ms'])} / {_f(q['latency']['p90_ms'])} ms "
                                  f"({_f(q['latency_ratio'])}× fp32)")]),
            f"<p class=\"{cls}\">accuracy drop {q['accuracy_drop_points']:.2f} points "
            f"({'within' if q['within_target'] else 'above'} the target of {q['target_drop_points']:.0f})</p>"]
    o = r.get("ort_format")
    if o:
        parts += ["<h2>ORT format</h2>", f"<p><code>{html.escape(o['command'])}</code></p>",
                  _html_table(["domain", "opset", "operators"],
                              [(x["domain"], x["opset"], ", ".join(x["ops"])) for x in o["operators"]])]
    parts.append("<h2>Hardware</h2>")
    for p in r["hardware"]:
        headers, rows, all_rows = _layer_rows(p)
        parts += [f"<h3>{html.escape(p['name'])} ({html.escape(p['kind'])})</h3>", '<div class="plots">',
                  _kv_html(_profile_summary(p)), _kv_html(_totals_rows(p)), "</div>",
                  "<p>Per-layer mapping (weight layers; digital ops summed):</p>", _html_table(headers, rows),
                  f"<details><summary>all {len(all_rows)} rows</summary>{_html_table(headers, all_rows)}</details>",
                  _layer_charts(p)]
    cmp_rows = search_vs_export(r)
    if cmp_rows:
        parts += ["<p>Search-time estimate (the space's analytic workload) against the exported graph on "
                  f"{html.escape(str(r['source'].get('hardware_name')))}:</p>",
                  _html_table(["", "search", "exported", "difference"], cmp_rows),
                  f'<p class="muted">{html.escape(_CMP_NOTE)}</p>']
    h = r.get("host_estimate")
    if h:
        parts += ["<h2>Estimated vs measured latency (this host)</h2>", _kv_html([
            ("profile", h["profile"]), ("host", str(h.get("host"))), ("estimated", f"{_f(h['estimated_ms'])} ms"),
            ("measured p50 / p90", f"{_f(h['measured_p50_ms'])} / {_f(h['measured_p90_ms'])} ms"),
            ("estimate / measured", _f(h["ratio_estimated_over_measured"]))]),
            f"<p class=\"muted\">{html.escape(h['note'])}</p>"]
    parts.append(_checklist_html(r["checklist"], r["files"]))
    return _page(f"nas-edge deployment report: {r['name']}", "\n".join(parts))


def _checklist_html(c: Mapping[str, Any], files: Sequence[Mapping[str, Any]]) -> str:
    lines = [line[6:] for line in _checklist_md(c, files)[2:] if line.startswith("- [")]
    marks = [("✔" if line.startswith("- [x]") else "✘") for line in _checklist_md(c, files)[2:]
             if line.startswith("- [")]
    items = "".join(f"<li>{m} {html.escape(t)}</li>" for m, t in zip(marks, lines, strict=True))
    table = _html_table(["file", "size", "sha256", "purpose"],
                        [(f["file"], _bytes(f["bytes"]), f["sha256"], f.get("purpose", "")) for f in files])
    return f"<h2>Deployment checklist</h2><ul style=\"list-style:none;padding-left:0\">{items}</ul>" \
           f"<p>Files to ship:</p>{table}"


def write_export_report(folder: Path, record: Mapping[str, Any]) -> list[Path]:
    """Write ``report.json``, ``report.md`` and ``report.html`` of one export into ``folder`` (atomically)."""
    rec = clean(record)
    return _write_all(folder, to_json(rec), export_markdown(rec), export_html(rec))


def _write_all(folder: Path, js: str, md: str, page: str) -> list[Path]:
    paths = [write_atomic(folder / name, text) for name, text in
             (("report.json", js), ("report.md", md), ("report.html", page))]
    for p in paths:  # readable like any other output (the atomic writer's temp files are private)
        p.chmod(0o644)
    return paths


# ---- study report -------------------------------------------------------------------------------------------

def _pareto_plots(s: Mapping[str, Any]) -> list[str]:
    """Objective 0 against each other objective. Points: completed trials; large markers: the feasible Pareto
    front over all objectives; the dashed staircase: the feasible front of that 2-D projection only (with three
    or more objectives a front point can be dominated in a projection: no line runs through it)."""
    names, dirs = s["study"]["objectives"], s["study"]["directions"]
    trials = [t for t in s["trials"] if t["state"] == "COMPLETE" and t["values"]]
    chosen = [f"#{n}" for n in s["chosen"]]
    front = [f"#{n}" for n in s["pareto"]]
    if not trials:
        return ["<p>No completed trials.</p>"]
    if len(names) == 1:
        pts = [(t["number"], plot_value(names[0], t["values"][0]), f"#{t['number']}") for t in trials
               if t["values"][0] is not None]
        return [scatter_svg(pts, x_label="trial", y_label=metric_label(names[0]), highlight=chosen,
                            title=f"{metric_label(names[0])} of each trial")]
    plots = []
    for j in range(1, len(names)):
        shown = [t for t in trials if t["values"][0] is not None and t["values"][j] is not None]
        pts = [(plot_value(names[j], t["values"][j]), plot_value(names[0], t["values"][0]), f"#{t['number']}")
               for t in shown]
        feasible = [p for p, t in zip(pts, shown, strict=True) if t.get("feasible", True)]
        line = front if len(names) == 2 else front_2d(feasible, x_min=dirs[j] == "minimize",
                                                      y_min=dirs[0] == "minimize")
        plots.append(scatter_svg(pts, x_label=metric_label(names[j]), y_label=metric_label(names[0]),
                                 highlight=chosen, front=front, line=line,
                                 front_label="Pareto front" if len(names) == 2 else "Pareto front (all objectives)",
                                 title=f"{metric_label(names[0])} vs {metric_label(names[j])}"))
    return plots


def _history_plot(s: Mapping[str, Any]) -> str:
    """Best value so far (one objective) or the hypervolume of the feasible front so far (several)."""
    h = s.get("history") or {}
    pts = h.get("points") or []
    if len(pts) < 2:
        return ""
    if h.get("kind") == "best":
        name = s["study"]["objectives"][0]
        return line_svg({"trial": [(p[0], plot_value(name, p[1])) for p in pts],
                         "best so far": [(p[0], plot_value(name, p[2])) for p in pts]},
                        step=False, x_label="trial", y_label=metric_label(name),
                        title=f"optimisation history: {metric_label(name)}")
    return line_svg({"hypervolume": [(p[0], p[1]) for p in pts]}, step=True, x_label="trial",
                    y_label="hypervolume (normalised)",
                    title="hypervolume of the feasible front so far")


def _traces(s: Mapping[str, Any]) -> list[tuple[int, Trace]]:
    """The completed trials that carry a search method's trace (a DNAS-derived trial's curves)."""
    out = []
    for t in s["trials"]:
        trace = Trace.from_attr(t.get("trace")) if t["state"] == "COMPLETE" else None
        if trace is not None:
            out.append((t["number"], trace))
    return out


def _trace_svg(trace: Trace, plot: TracePlot, *, small: bool) -> str:
    series = dict(plot.series)
    label = plot.y_label
    values = [v for ys in series.values() for v in ys if math.isfinite(v)]
    if plot.log_y and values and min(values) > 0:
        series = {k: [math.log10(v) if v > 0 else math.nan for v in ys] for k, ys in series.items()}
        label = f"log10 {label}"
    return lines_svg({k: (trace.x, ys) for k, ys in series.items()}, x_label=trace.x_label, y_label=label,
                     title=plot.title, width=330 if small else 480, height=230 if small else 300)


def _trace_html(number: int, trace: Trace) -> str:
    parts = [f"<h3>Trial #{number}: derived by {html.escape(trace.method)}</h3>", '<div class="plots">',
             *(_trace_svg(trace, p, small=False) for p in trace.plots if not p.group), "</div>"]
    groups: dict[str, list[TracePlot]] = {}
    for p in trace.plots:
        if p.group:
            groups.setdefault(p.group, []).append(p)
    for group, plots in groups.items():
        parts += [f"<details><summary>{html.escape(group)} per {html.escape(trace.x_label)} ({len(plots)} "
                  f'plots)</summary><div class="plots">', *(_trace_svg(trace, p, small=True) for p in plots),
                  "</div></details>"]
    return "".join(parts)


def _trace_rows(s: Mapping[str, Any]) -> list[list[str]]:
    """Per traced trial: its method, length, and each ungrouped curve's first and last value."""
    rows = []
    for number, trace in _traces(s):
        ends = "; ".join(f"{p.title}: " + ", ".join(f"{k} {fmt_num(ys[0])} → {fmt_num(ys[-1])}"
                                                    for k, ys in p.series.items())
                         for p in trace.plots if not p.group)
        rows.append([f"#{number}", trace.method, f"{len(trace.x)} {trace.x_label}s", ends])
    return rows


def _hw_line(h: Mapping[str, Any]) -> tuple[str, ...]:
    t, imc = h["totals"], h["kind"] == "imc"
    return (h["name"], _f(t.get("energy_uj")), _f(t.get("latency_ms")), _f(t.get("arrays_used")) if imc else "–",
            _pct(t.get("utilisation")) if imc else "–", _f(t.get("adc_conversions")) if imc else "–")


_COMPARED = (("energy_uj", "energy (µJ)"), ("latency_ms", "latency (ms)"), ("area_mm2", "area (mm²)"),
             ("arrays_used", "arrays used"), ("macs", "MACs"), ("params", "weights on the chip"))


_CMP_NOTE = ("Weights, MACs and arrays must agree (same network); energy and latency of the digital ops may "
             "differ: the exported graph has batch norms folded into the convolutions and the input "
             "normalisation baked in.")


def search_vs_export(r: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """The trial's cost as the search estimated it (analytic workload) beside the cost of the exported graph."""
    src = r.get("source") or {}
    stored = src.get("cost") or {}
    entry = next((h for h in r.get("hardware", []) if h.get("source") == "trial"), None)
    if not stored or entry is None:
        return []
    rows = []
    for key, label in _COMPARED:
        a = stored.get(key)
        b = entry["totals"].get(key) if key not in ("macs", "params") else (
            r["model"]["macs"] if key == "macs" else sum(float(x.get("k", 0)) * float(x.get("n", 0))
                                                         for x in entry["layers"] if x["op"] in ("conv", "linear")))
        if a is None or b is None:
            continue
        rows.append((label, _f(float(a)), _f(float(b)), f"{(float(b) / float(a) - 1) * 100:+.1f} %" if a else "–"))
    return rows


def _export_summary_rows(s: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = ["trial", "accuracy fp32 (%)", "accuracy INT8 (%)", "ORT p50 (ms)", "INT8 p50 (ms)", "size",
               "parameters", "MACs", "opset", "report"]
    rows = []
    for e in s["exports"]:
        x = e["summary"]
        rows.append([f"#{e['trial']}", _pct(x.get("accuracy_onnx")), _pct(x.get("accuracy_int8")),
                     _f(x.get("ort_p50_ms")), _f(x.get("int8_p50_ms")), _bytes(x.get("bytes")), _f(x.get("params")),
                     _f(x.get("macs")), _f(x.get("opset")), f"{e['dir']}/report.html"])
    return headers, rows


def _trial_rows(s: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    names = s["study"]["objectives"]
    headers = ["trial", *(metric_label(n) for n in names), "chip", "feasible", "Pareto", "chosen", "architecture"]
    rows = []
    for t in s["trials"]:
        if t["state"] != "COMPLETE":
            continue
        rows.append([f"#{t['number']}", *(metric_text(n, v) for n, v in zip(names, t["values"], strict=False)),
                     t.get("chip") or "", _f(t.get("feasible")), "★" if t["number"] in s["pareto"] else "",
                     "◆" if t["number"] in s["chosen"] else "", t.get("architecture_summary") or ""])
    return headers, rows


def _study_head(s: Mapping[str, Any]) -> list[tuple[str, str]]:
    st = s["study"]
    return [("study", st["name"]), ("storage", str(st.get("storage", ""))),
            ("objectives", ", ".join(f"{metric_label(n)}, {d}" for n, d in zip(st["objectives"], st["directions"],
                                                                                 strict=False))),
            ("trials", ", ".join(f"{k.lower()} {v}" for k, v in st["states"].items())),
            ("Pareto front", ", ".join(f"#{n}" for n in s["pareto"]) or "–"),
            ("chosen", ", ".join(f"#{n}" for n in s["chosen"]) or "–")]


def study_markdown(s: Mapping[str, Any]) -> str:
    """``report.md`` of a study."""
    out = [f"# Study report: {md(s['study']['name'])}", "", f"Generated {s.get('created', '')}.", "",
           _md_table(["item", "value"], _study_head(s)), "", "## Completed trials", ""]
    headers, rows = _trial_rows(s)
    out += [_md_table(headers, rows), ""]
    traced = _trace_rows(s)
    if traced:
        out += ["## Search traces", "", "How a search method derived these trials (curves in report.html).", "",
                _md_table(["trial", "method", "length", "first → last"], traced), ""]
    if s["exports"]:
        headers, rows = _export_summary_rows(s)
        out += ["## Exported models", "", _md_table(headers, rows), ""]
        for e in s["exports"]:
            if e.get("hardware"):
                out += [f"### Trial #{e['trial']} on the hardware", ""]
                out += [_md_table(["profile", "energy (µJ)", "latency (ms)", "arrays", "utilisation",
                                   "ADC conversions"], [_hw_line(h) for h in e["hardware"]]), ""]
    for a in s["analytic"]:
        headers, rows, _ = _layer_rows(a["cost"])
        out += [f"## Trial #{a['trial']}: analytic mapping on {md(a['cost']['name'])} (not exported)", "",
                _md_table(["total", "value"], _totals_rows(a["cost"])), "", _md_table(headers, rows), ""]
    return "\n".join(out)


def study_html(s: Mapping[str, Any]) -> str:
    """``report.html`` of a study (self-contained; links to the exports' own reports)."""
    parts = [f"<h1>Study report: {html.escape(s['study']['name'])}</h1>",
             f"<p class=\"muted\">Generated {html.escape(str(s.get('created', '')))}.</p>",
             _kv_html(_study_head(s)), "<h2>Pareto front</h2>", '<div class="plots">', *_pareto_plots(s), "</div>"]
    history = _history_plot(s)
    if history:
        parts += ["<h2>Optimisation history</h2>", history]
    traced = _traces(s)
    if traced:
        parts += ["<h2>Search traces</h2>", *(_trace_html(n, t) for n, t in traced)]
    if s["exports"]:
        headers, rows = _export_summary_rows(s)
        linked = [[*r[:-1], f'<a href="{html.escape(r[-1])}">report</a>'] for r in rows]
        parts += ["<h2>Exported models</h2>", _html_table(headers, linked, raw_last=True)]
        for e in s["exports"]:
            parts.append(f"<h3>Trial #{e['trial']}</h3>")
            parts.append(_kv_html(e.get("key_figures", [])))
            for h in e.get("hardware", []):
                headers, rows, _ = _layer_rows(h)
                parts += [f"<details><summary>{html.escape(h['name'])}: per-layer mapping, "
                          f"{_f(h['totals'].get('energy_uj'))} µJ, {_f(h['totals'].get('latency_ms'))} ms"
                          f"</summary>{_kv_html(_profile_summary(h))}{_html_table(headers, rows)}"
                          f"{_layer_charts(h)}</details>"]
    for a in s["analytic"]:
        headers, rows, _ = _layer_rows(a["cost"])
        parts += [f"<h2>Trial #{a['trial']}: analytic mapping on {html.escape(a['cost']['name'])}</h2>",
                  "<p class=\"muted\">From the search space's analytic workload (no export yet).</p>",
                  '<div class="plots">', _kv_html(_profile_summary(a["cost"])), _kv_html(_totals_rows(a["cost"])),
                  "</div>", _html_table(headers, rows), _layer_charts(a["cost"])]
    headers, rows = _trial_rows(s)
    parts += ["<h2>Completed trials</h2>", _html_table(headers, rows)]
    return _page(f"nas-edge study report: {s['study']['name']}", "\n".join(parts))


def export_summary(record: Mapping[str, Any]) -> dict[str, Any]:
    """The key figures of an export record, for the study report."""
    q = record.get("quantization") or {}
    acc, lat = record["accuracy"], record["latency"]
    return {"accuracy_torch": acc.get("torch_fp32"), "accuracy_onnx": acc.get("onnx_fp32"),
            "accuracy_int8": q.get("accuracy"), "int8_drop_points": q.get("accuracy_drop_points"),
            "ort_p50_ms": lat["ort_fp32"]["p50_ms"], "ort_p90_ms": lat["ort_fp32"]["p90_ms"],
            "torch_p50_ms": lat["torch_eager"]["p50_ms"],
            "int8_p50_ms": (q.get("latency") or {}).get("p50_ms"), "bytes": record["model"]["bytes"],
            "int8_bytes": q.get("bytes"), "params": record["model"]["params"], "macs": record["model"]["macs"],
            "opset": record["model"]["opset"], "parity_max_abs_diff": record["verification"]["parity"]["max_abs_diff"]}


def write_study_report(out: Path, record: Mapping[str, Any]) -> list[Path]:
    """Write the study's ``report.json``/``.md``/``.html`` into ``out`` (atomically)."""
    rec = clean(record)
    return _write_all(out, to_json(rec), study_markdown(rec), study_html(rec))

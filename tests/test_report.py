"""Deployment report rendering: JSON schema and cleaning, self-contained HTML, Markdown, inline SVG charts."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from nas_edge.export._svg import bars_svg, front_2d, line_svg, nice_ticks, scatter_svg
from nas_edge.export.report import (
    EXPORT_SCHEMA,
    STUDY_SCHEMA,
    clean,
    export_html,
    export_markdown,
    study_html,
    study_markdown,
    to_json,
    write_export_report,
)

_LAT = {"p50_ms": 0.05, "p90_ms": 0.07, "mean_ms": 0.06, "min_ms": 0.04, "runs": 100, "warmup": 10}


def _layer(name: str, op: str, arrays: float) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name, "op": op, "k": 9, "n": 8, "m": 64, "groups": 1, "arrays": arrays,
                           "duplication": 1.0, "utilisation": 0.25, "adc_conversions": 1000.0, "energy_pj": 2e6,
                           "latency_ns": 1500.0, "macs": 4608.0}
    for c in ("array", "adc", "dac", "shift_add", "accumulate", "buffer", "interconnect", "digital", "leakage",
              "write"):
        row[f"energy_{c}_pj"] = 2e5
    return row


def _hardware(kind: str) -> dict[str, Any]:
    return {"name": f"chip-{kind}", "kind": kind, "source": "test",
            "profile": {"description": "a <test> chip", "array": {"rows": 128, "cols": 128}, "adc": {"bits": 4}},
            "totals": {"energy_uj": 4.0, "latency_ms": 0.003, "utilisation": 0.25, "fits": 1.0, "arrays_used": 2.0,
                       "tops_per_w": float("nan")},
            "layers": [_layer("conv1", "conv", 2.0), _layer("relu1", "elementwise", 0.0)]}


def export_record(*, quant: bool = True) -> dict[str, Any]:
    files = [{"file": "model.onnx", "bytes": 1000, "sha256": "a" * 64, "purpose": "fp32 model"}]
    inputs = [{"name": "input", "dtype": "float32", "shape": ["batch", 1, 8, 8]}]
    outputs = [{"name": "logits", "dtype": "float32", "shape": ["batch", 10]}]
    q = {"method": "static", "format": "QDQ", "calibration_samples": 64, "bytes": 600, "size_ratio": 0.6,
         "latency": _LAT, "latency_ratio": 0.9, "accuracy": 0.95, "accuracy_fp32": 0.96,
         "accuracy_drop_points": 1.0, "target_drop_points": 1.0, "within_target": True, "top1_agreement": 0.99,
         "operators": {"QLinearConv": 1}} if quant else None
    rec = {
        "schema": "nas-edge.export", "version": 1, "name": "trial-3", "created": "now",
        "source": {"kind": "trial", "study": "s", "trial": 3, "objectives": ["accuracy", "energy_uj"],
                   "values": [0.96, 4.0], "architecture_summary": "r8 | conv"},
        "environment": {"nas_edge": "0.1.0", "torch": "t", "onnx": "o", "onnxruntime": "1.32.0", "processor": "cpu"},
        "dataset": {"name": "digits"}, "training": None,
        "model": {"file": "model.onnx", "bytes": 1000, "opset": 20, "ir_version": 10, "inputs": inputs,
                  "outputs": outputs, "operators": {"Conv": 1, "Relu": 1}, "params": 100, "macs": 4608.0,
                  "macs_analytic": 4608.0, "preprocessing": {"baked_in": True, "formula": "(x - mean) / std",
                                                             "note": "raw pixels"}},
        "verification": {"checker": "full", "shape_inference": {"tensors": 3, "unknown_shapes": []},
                         "parity": {"samples": 10, "max_abs_diff": 1e-6, "atol": 1e-4, "passed": True,
                                    "batch_sizes": [1, 10]}, "export_seconds": 1.0, "verify_seconds": 0.5},
        "latency": {"batch": 1, "threads": 1, "ort_fp32": _LAT, "torch_eager": _LAT, "ort_over_torch_p50": 1.0},
        "accuracy": {"torch_fp32": 0.96, "onnx_fp32": 0.96, "int8": 0.95 if quant else None, "search": 0.96,
                     "analog": {"analog_accuracy_1d": 0.9}},
        "quantization": q, "ort_format": None,
        "hardware": [_hardware("imc"), _hardware("digital")],
        "host_estimate": {"profile": "chip-digital", "estimated_ms": 0.003, "measured_p50_ms": 0.05,
                          "measured_p90_ms": 0.07, "ratio_estimated_over_measured": 0.06, "host": "cpu",
                          "note": "order of magnitude"},
        "files": files, "warnings": ["trial skipped <x>"],
    }
    rec["source"]["cost"] = {"energy_uj": 5.0, "arrays_used": 2.0, "macs": 4608.0}
    rec["hardware"][0]["source"] = "trial"
    from nas_edge.export.pipeline import checklist

    rec["checklist"] = checklist(rec)
    return rec


def study_record() -> dict[str, Any]:
    trials = [{"number": i, "state": "COMPLETE", "values": [0.5 + i / 10, 10.0 - i], "feasible": True}
              for i in range(5)] + [{"number": 5, "state": "FAIL", "values": [], "feasible": True}]
    rec = export_record()
    from nas_edge.export.report import export_summary, summary_rows

    return {"schema": "nas-edge.study-report", "version": 1, "created": "now",
            "study": {"name": "s", "storage": "sqlite:///x.db", "objectives": ["accuracy", "energy_uj"],
                      "directions": ["maximize", "minimize"], "n_trials": 6, "states": {"COMPLETE": 5, "FAIL": 1}},
            "trials": trials, "pareto": [3, 4], "chosen": [3, 4],
            "exports": [{"trial": 3, "dir": "trial-3", "summary": export_summary(rec), "key_figures": summary_rows(rec),
                         "hardware": rec["hardware"]}],
            "analytic": [{"trial": 4, "cost": _hardware("imc")}]}


_REMOTE = re.compile(r"""(\bsrc\s*=|<link\b|<script\b|@import|url\(|<iframe|<img\b|href\s*=\s*["']?(https?:)?//)""",
                     re.I)


def _self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert not _REMOTE.search(page), _REMOTE.search(page)


def test_export_record_matches_its_schema_and_cleans_nan() -> None:
    from jsonschema import validate

    rec = export_record()
    text = to_json(rec)
    assert "NaN" not in text
    back = json.loads(text)
    assert back["hardware"][0]["totals"]["tops_per_w"] is None
    validate(back, EXPORT_SCHEMA)
    bad = dict(back, model={**back["model"], "opset": 17})  # below what the dynamo exporter can give
    with pytest.raises(Exception, match="17"):
        validate(bad, EXPORT_SCHEMA)
    validate(clean(study_record()), STUDY_SCHEMA)


def test_clean_handles_numpy_and_paths() -> None:
    np = pytest.importorskip("numpy")
    out = clean({"a": np.float32(1.5), "b": (np.int64(2), Path("x")), "c": np.float64("inf"), 3: True})
    assert out == {"a": 1.5, "b": [2, "x"], "c": None, "3": True}
    assert type(out["b"][0]) is int


def test_export_html_is_self_contained_and_complete() -> None:
    page = export_html(export_record())
    _self_contained(page)
    for needle in ("Deployment checklist", "model.onnx", "opset 20", "chip-imc", "Per-layer mapping", "conv1",
                   "warning: trial skipped", "search</th>",
                   "analog accuracy analog_accuracy_1d", "90.00 %", "INT8 quantisation", "estimate / measured",
                   "a &lt;test&gt; chip"):
        assert needle in page, needle
    assert page.count("<svg") == 5  # latency bars + an energy and a per-layer latency chart per profile
    assert "<test>" not in page  # text is escaped


def test_export_html_without_optional_sections() -> None:
    rec = export_record(quant=False)
    rec["host_estimate"] = None
    page = export_html(rec)
    _self_contained(page)
    assert "INT8 quantisation" not in page and "Estimated vs measured" not in page
    md = export_markdown(rec)
    assert "## INT8" not in md and "## Deployment checklist" in md


def test_markdown_tables_are_well_formed() -> None:
    md = export_markdown(export_record())
    for block in re.findall(r"(?:^\|.*\|$\n?)+", md, re.M):
        rows = [r for r in block.strip().splitlines()]
        widths = {len(re.split(r"(?<!\\)\|", r)) for r in rows}
        assert len(widths) == 1, block
    assert "| parity max \\|ORT − PyTorch\\| |" in md


def test_study_pages_mark_the_chosen_models() -> None:
    rec = study_record()
    page = study_html(rec)
    _self_contained(page)
    assert page.count('class="chosen"') == 2
    assert 'href="trial-3/report.html"' in page
    md = study_markdown(rec)
    assert "analytic mapping on chip-imc" in md and "| #3 |" in md


def test_written_reports_are_readable_by_others(tmp_path: Path) -> None:
    paths = write_export_report(tmp_path, export_record())
    assert [p.name for p in paths] == ["report.json", "report.md", "report.html"]
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in paths)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@given(st.floats(-1e300, 1e300), st.floats(-1e300, 1e300))
@example(0.0, 5e-324)  # a span that underflows when divided into steps
@example(1e6, 1e6 + 1e-9)  # a span too thin to label at 12 significant digits
def test_nice_ticks_cover_the_range(a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    ticks = nice_ticks(lo, hi)
    assert ticks[0] <= lo + 1e-9 * max(1.0, abs(lo)) and ticks[-1] >= hi - 1e-9 * max(1.0, abs(hi))
    assert all(x < y for x, y in itertools.pairwise(ticks))
    assert 2 <= len(ticks) <= 13


def test_scatter_skips_non_finite_points_and_draws_the_front() -> None:
    pts = [(1.0, 0.9, "#0"), (2.0, 0.95, "#1"), (math.nan, 0.5, "#2"), (3.0, 0.7, "#3")]
    svg = scatter_svg(pts, x_label="energy", y_label="accuracy", highlight=["#1"], front=["#0", "#1"],
                      line=["#0", "#1"])
    assert svg.count("<circle") == 2 and svg.count('class="chosen"') == 1  # #2 dropped, #1 drawn as chosen
    assert '<path class="front-line" d="M' in svg and "#2" not in svg


def test_stacked_bars_are_proportional() -> None:
    svg = bars_svg(["a", "b"], {"x": [1.0, 2.0], "y": [1.0, 0.0]}, stacked=True)
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="\d+" width="([\d.]+)"', svg)]
    a_x, a_y, b_x, b_y = widths[:4]
    assert a_x == pytest.approx(a_y) and b_x == pytest.approx(2 * a_x) and b_y == 0


# -- plots that do not mislead, units, one accuracy format, tables that fit (issue 17, item 3) ---------------

@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=12), st.booleans(), st.booleans())
def test_front_2d_is_exactly_the_non_dominated_points(xy: list[tuple[int, int]], x_min: bool, y_min: bool) -> None:
    pts = [(float(x), float(y), f"#{i}") for i, (x, y) in enumerate(xy)]
    sx, sy = (1 if x_min else -1), (1 if y_min else -1)

    def dominated(p: tuple[float, float, str]) -> bool:
        return any(sx * q[0] <= sx * p[0] and sy * q[1] <= sy * p[1] and (q[0], q[1]) != (p[0], p[1]) for q in pts)

    got = set(front_2d(pts, x_min=x_min, y_min=y_min))
    want = {p[2] for p in pts if not dominated(p)}
    firsts = {next(q[2] for q in pts if q[:2] == p[:2]) for p in pts if p[2] in want}  # duplicates: one label
    assert got == firsts


def _three_objective_record() -> dict[str, Any]:
    """Trial #2 is on the 3-D front (best latency) but dominated in the accuracy/energy projection by #1."""
    values = {0: [0.50, 5.0, 3.0], 1: [0.90, 2.0, 2.0], 2: [0.80, 3.0, 0.5], 3: [0.95, 8.0, 4.0], 4: [0.60, 9.0, 9.0]}
    rec = study_record()
    rec["study"].update(objectives=["accuracy", "energy_uj", "latency_ms"],
                        directions=["maximize", "minimize", "minimize"])
    rec["trials"] = [{"number": n, "state": "COMPLETE", "values": v, "feasible": True, "chip": "128x128 c1 adc4 m8 p16"}
                     for n, v in values.items()]
    rec["pareto"], rec["chosen"] = [1, 2, 3], []
    return rec


def _front_line_points(svg: str) -> list[tuple[float, float]]:
    path = re.search(r'class="front-line" d="([^"]+)"', svg).group(1)
    xs = [float(v) for v in re.findall(r"[MH]([\d.]+)", path)]
    ys = [float(v) for v in re.findall(r"(?:M[\d.]+,|V)([\d.]+)", path)]
    return list(zip(xs, ys, strict=True))


def test_three_objective_pareto_plot_draws_no_line_through_a_dominated_point() -> None:
    page = study_html(_three_objective_record())
    acc_energy = page[page.index('aria-label="accuracy (%) vs energy (µJ)"'):]
    acc_energy = acc_energy[: acc_energy.index("</svg>")]
    markers = dict(re.findall(r'<circle cx="([\d.]+)" cy="[\d.]+" r="4.5"[^>]*class="front"><title>(#\d)', acc_energy))
    assert sorted(markers.values()) == ["#1", "#2", "#3"]  # the 3-D front: markers
    line_x = {x for x, _ in _front_line_points(acc_energy)}
    on_line = {lab for x, lab in markers.items() if float(x) in line_x}
    assert on_line == {"#1", "#3"}  # #2 (worse accuracy and energy than #1) is not on this projection's line
    assert "front of this projection" in acc_energy and "Pareto front (all objectives)" in acc_energy


def test_axes_columns_and_accuracies_carry_units_and_one_format() -> None:
    page = study_html(_three_objective_record())
    for label in ("accuracy (%)", "energy (µJ)", "latency (ms)"):
        assert f">{label}</text>" in page and f"<th>{label}</th>" in page, label
    assert "energy_uj" not in page.replace('"energy_uj"', "")  # no raw metric names shown
    assert "<td>90.00 %</td>" in page and "<td>0.9</td>" not in page  # accuracy as a percentage, like elsewhere
    assert "<th>chip</th>" in page and "<td>128x128 c1 adc4 m8 p16</td>" in page
    export = export_html(export_record())
    for head in ("energy (pJ)", "latency (ns)", "K (rows)"):
        assert f"<th>{head}</th>" in export, head
    assert "objective: accuracy (%)" in export and "96.00 %" in export


def test_no_empty_header_rows() -> None:
    for page in (export_html(export_record()), study_html(study_record())):
        assert not re.search(r"<thead><tr>(<th></th>)+</tr></thead>", page)
    for md in (export_markdown(export_record()), study_markdown(study_record())):
        for block in re.findall(r"(?:^\|.*\|$\n?)+", md, re.M):
            head = block.splitlines()[0]
            assert any(c.strip() for c in head.strip("|").split("|")), head


def test_tables_sit_in_scrolling_boxes_and_plots_shrink() -> None:
    page = export_html(export_record())
    assert page.count("<table") == page.count('<div class="scroll"><table')
    assert ".scroll{overflow-x:auto" in page and "svg{" in page and "max-width:100%" in page


def test_per_layer_latency_and_history_charts() -> None:
    page = export_html(export_record())
    assert "latency of the 2 slowest layers (chip-imc) (µs)" in page
    rec = _three_objective_record()
    rec["history"] = {"kind": "hypervolume", "points": [[0, 0.1], [1, 0.5], [2, 0.7]], "reference": [1.1] * 3}
    page = study_html(rec)
    assert "Optimisation history" in page and "hypervolume of the feasible front so far" in page
    single = study_record()
    single["study"].update(objectives=["accuracy"], directions=["maximize"])
    for t in single["trials"]:
        t["values"] = t["values"][:1]
    single["history"] = {"kind": "best", "points": [[0, 0.5, 0.5], [1, 0.4, 0.5], [2, 0.7, 0.7]]}
    page = study_html(single)
    assert "optimisation history: accuracy (%)" in page and "best so far" in page


def test_line_chart_draws_each_series() -> None:
    svg = line_svg({"a": [(0, 1.0), (1, 2.0)], "b": [(0, 3.0), (1, math.inf)]}, x_label="x", y_label="y")
    assert svg.count('class="series"') == 2 and svg.count("<circle") == 3  # the infinite point is left out


def test_cosearched_chip_shows_its_knobs_not_the_base_description() -> None:
    rec = study_record()
    cost = rec["analytic"][0]["cost"]
    cost.update(name="base-chip@256x128-c2-adc6-m8-p32", chip="256x128 c2 adc6 m8 p32", base="base-chip")
    page = study_html(rec)
    assert "co-searched chip" in page
    assert "256x128 c2 adc6 m8 p32 (knobs chosen by the search on base base-chip)" in page
    assert "a &lt;test&gt; chip" not in page.split("analytic mapping")[1]  # the base profile's description is gone


def test_search_history_is_monotone_and_counts_feasible_trials_only() -> None:
    import optuna

    from nas_edge.search.history import search_history

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(t: optuna.Trial) -> tuple[float, float]:
        x, y = t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)
        t.set_constraint("c", x - 0.8)  # x > 0.8 is infeasible
        return x, y

    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective, n_trials=30)
    h = search_history(study)
    hv = [p[1] for p in h["points"]]
    feasible = [t.number for t in study.trials if t.params["x"] <= 0.8]
    assert [p[0] for p in h["points"]] == feasible and len(feasible) < 30
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(hv)) and hv[-1] > hv[0]
    single = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler(seed=2))
    single.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=10)
    pts = search_history(single)["points"]
    assert [p[2] for p in pts] == [min(q[1] for q in pts[: i + 1]) for i in range(len(pts))]


def test_band_lines_are_the_same_line_chart() -> None:
    from nas_edge.export._svg import lines_svg

    svg = lines_svg({"hw": ([1, 2, 3], [0.5, 0.7, 0.9], [0.4, 0.6, 0.8], [0.6, 0.8, 1.0])}, x_label="trials",
                    y_label="hv")
    assert svg.count("<polygon") == 1 and svg.count('class="series"') == 1 and "<circle" not in svg

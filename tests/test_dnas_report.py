"""A DNAS-derived trial's curves (lambda schedule, cost, architecture probabilities per epoch) stored with the
trial as a search trace and drawn in the study report; other trials get none; a tampered trace is ignored.
No torch: the derived architecture is built by hand."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import optuna
import pytest

from nas_edge.dnas import DerivedArchitecture, relax
from nas_edge.export import study_report
from nas_edge.export._svg import lines_svg
from nas_edge.search import TRACE_ATTR, Trace, set_metric_names
from nas_edge.spaces import create_space

SMALL = {"input_shape": (1, 8, 8), "num_classes": 10, "stages": 2, "max_depth": 2, "widths": [[8, 12], [16, 24]],
         "stem_widths": (8, 16), "resolutions": (8, 12)}
EPOCHS = 4

optuna.logging.set_verbosity(optuna.logging.WARNING)


def derived(target: str | None = "energy_uj<=0.5") -> tuple[DerivedArchitecture, int]:
    rx = relax(create_space("cnn", **SMALL))
    probs = {}
    for k, f in enumerate(rx.relaxed()):  # a distribution per epoch, moving towards choice k % n
        n = len(f.choices)
        probs[f.name] = [[(1 + e * (j == k % n)) / (n + e) for j in range(n)] for e in range(EPOCHS)]
    hist = {"lambda": [0.1 * 2 ** e for e in range(EPOCHS)], "tau": [1.0, 0.5, 0.25, 0.1],
            "expected_cost": [0.9, 0.7, 0.55, 0.45], "argmax_cost": [1.0, 0.6, 0.5, 0.4],
            "weight_loss": [2.3, 1.5, 1.0, 0.8], "arch_loss": [2.3, 1.6, 1.1, 0.9],
            "arch_accuracy": [0.1, 0.5, 0.7, 0.8]}
    arch = rx.architecture({f.name: 0 for f in rx.factors})
    point = DerivedArchitecture(arch, "energy_uj", None if target else 0.3, target, cost=0.4, expected_cost=0.45,
                                probabilities=probs, history=hist, seconds=1.0,
                                choices={f.name: f.choices for f in rx.relaxed()})
    return point, len(rx.relaxed())


def _study(tmp_path: Path, attrs: list[dict]) -> tuple[str, optuna.Study]:
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=url, study_name="s", directions=["maximize", "minimize"])
    set_metric_names(study, ["accuracy", "energy_uj"])
    for i, a in enumerate(attrs):
        study.add_trial(optuna.trial.create_trial(values=[0.9 - 0.1 * i, 0.3 + 0.1 * i], user_attrs=a))
    return url, study


def test_trace_round_trips_compactly() -> None:
    point, n_factors = derived()
    attr = point.user_attrs({"profile": "x"})[TRACE_ATTR]
    trace = Trace.from_attr(attr)
    assert trace is not None and trace.method == "dnas" and trace.x == [1.0, 2.0, 3.0, 4.0]
    plots = {p.title: p for p in trace.plots}
    assert plots["lambda steered to energy_uj<=0.5"].series == {"lambda": [0.1, 0.2, 0.4, 0.8]}
    assert plots["lambda steered to energy_uj<=0.5"].log_y
    assert plots["energy_uj: expected and argmax"].series["target"] == [0.5] * EPOCHS
    probs = [p for p in trace.plots if p.group == "architecture probabilities"]
    assert len(probs) == n_factors
    for p in probs:
        rows = point.probabilities[p.title]
        stored = [[p.series[str(c)][e] for c in point.choices[p.title]] for e in range(EPOCHS)]
        np.testing.assert_allclose(stored, rows, rtol=1e-3)  # four significant digits
        assert all(len(repr(v)) <= 8 for ys in attr["plots"][0]["series"].values() for v in ys)
    fixed = Trace.from_attr(derived(target=None)[0].trace().to_attr())
    assert fixed is not None and fixed.plots[0].title == "lambda fixed" and not fixed.plots[0].log_y


def test_study_report_draws_the_trace_of_the_dnas_trial_only(tmp_path: Path) -> None:
    point, n_factors = derived()
    url, study = _study(tmp_path, [{}, point.user_attrs({"profile": "x"}), {TRACE_ATTR: {"plots": "garbage"}}])
    out = tmp_path / "r"
    study_report(url, "s", out, study=study, chosen=[])
    page = (out / "report.html").read_text()
    section = page.split("<h2>Search traces</h2>", 1)[1].split("<h2>", 1)[0]
    assert re.findall(r"<h3>Trial #(\d+): derived by dnas</h3>", section) == ["1"]  # not #0, not the garbage #2
    assert section.count("<svg") == 4 + n_factors  # lambda, cost, losses, temperature, one per factor
    assert 'aria-label="lambda steered to energy_uj&lt;=0.5"' in section and ">log10 lambda</text>" in section
    assert "<summary>architecture probabilities per epoch" in section
    md = (out / "report.md").read_text()
    assert "## Search traces" in md and "| #1 | dnas | 4 epochs |" in md and "| #0 | dnas" not in md
    assert "lambda 0.1 → 0.8" in md


def test_study_report_without_traces_has_no_trace_section(tmp_path: Path) -> None:
    url, study = _study(tmp_path, [{}, {TRACE_ATTR: None}])
    out = tmp_path / "r"
    study_report(url, "s", out, study=study, chosen=[])
    assert "Search traces" not in (out / "report.html").read_text()
    assert "Search traces" not in (out / "report.md").read_text()


@pytest.mark.parametrize("bad", [
    None, [], "x", {"method": "m", "x_label": "e", "x": [1, 2], "plots": [{"title": "t", "y_label": "y",
                                                                          "series": {"a": [1]}}]},
    {"method": "m", "x_label": "e", "x": [1], "plots": [{"title": "t", "y_label": "y", "series": {"a": ["1"]}}]},
    {"method": "m", "x_label": "e", "x": [1], "plots": [{"title": "t", "y_label": "y", "series": {}}]},
    {"method": "m", "x_label": "e", "x": [], "plots": []},
    {"method": "m", "x_label": "e", "x": list(range(20_000)), "plots": []},
    {"method": "m", "x_label": "e", "x": [True], "plots": []},
])
def test_malformed_traces_are_ignored(bad: object) -> None:
    assert Trace.from_attr(bad) is None


def test_lines_leave_a_gap_at_missing_values() -> None:
    svg = lines_svg({"a": ([1.0, 2.0, 3.0, 4.0], [1.0, math.nan, 3.0, 4.0])}, x_label="x", y_label="y")
    d = re.search(r'<path class="series" d="([^"]*)"', svg)
    assert d is not None and [c[0] for c in d.group(1).split()] == ["M", "M", "L"]


def test_trace_names_from_a_study_file_stay_text(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    trace = {"method": evil, "x_label": evil, "x": [1, 2],
             "plots": [{"title": evil, "y_label": evil, "series": {evil: [1, None]}, "group": evil}]}
    url, study = _study(tmp_path, [{TRACE_ATTR: trace}])
    out = tmp_path / "r"
    study_report(url, "s", out, study=study, chosen=[])
    page = (out / "report.html").read_text()
    assert "Search traces" in page and "<script" not in page and "&lt;script&gt;" in page
    assert "<script" not in (out / "report.md").read_text()

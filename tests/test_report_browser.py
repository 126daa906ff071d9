"""The HTML reports in a real browser (headless Chromium, Debian package ``chromium``; ``.ci/run`` installs
it): every page renders to a screenshot, and at 800 px nothing is wider than the viewport — wide tables
scroll inside their own box, plots shrink to fit. The measuring script is added to a copy of each page (the
reports themselves have no scripts)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from test_report import export_record, study_record

from nas_edge.export.report import export_html, study_html

VIEWPORT = 800
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian package "
                                    "'chromium'; .ci/run installs it as root)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

MEASURE = """<script>
(function () {
  const vw = document.documentElement.clientWidth, bad = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;           // not rendered (closed <details>)
    let clip = null;                                         // a scrolling box shows only its own width
    for (let a = el.parentElement; a; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') { clip = a; break; }
    }
    const right = clip ? Math.min(r.right, clip.getBoundingClientRect().right) : r.right;
    if (right > vw + 0.5) bad.push(el.tagName + ' ' + (el.textContent || '').slice(0, 40) + ' ' + Math.round(r.right));
  }
  document.body.setAttribute('data-viewport', vw);
  document.body.setAttribute('data-page-width', document.documentElement.scrollWidth);
  document.body.setAttribute('data-too-wide', JSON.stringify(bad.slice(0, 10)));
})();
</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="nas-edge-chromium-") as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "HOME": profile})


def measure(page: str, workdir: Path) -> dict[str, Any]:
    """Viewport width, page width and the elements wider than the viewport, measured by Chromium at 800 px."""
    probe = workdir / "probe.html"
    probe.write_text(page.replace("</body>", MEASURE + "</body>"))
    r = _chromium(f"--window-size={VIEWPORT},1000", "--dump-dom", probe.as_uri())
    m = re.search(r'<body data-viewport="(\d+)" data-page-width="(\d+)" data-too-wide="([^"]*)"', r.stdout)
    assert m, f"the measuring script did not run: {r.stderr[-500:]}"
    return {"viewport": int(m.group(1)), "page_width": int(m.group(2)),
            "too_wide": json.loads(m.group(3).replace("&quot;", '"').replace("&amp;", "&"))}


def screenshot(page_file: Path, png: Path) -> tuple[int, int]:
    """Render ``page_file`` to ``png``; its (width, height) from the PNG header."""
    r = _chromium(f"--window-size={VIEWPORT},1600", f"--screenshot={png}", page_file.as_uri())
    assert png.is_file(), r.stderr[-500:]
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def assert_fits(page: str, workdir: Path) -> None:
    """The page renders to a screenshot and nothing in it is wider than an 800 px viewport."""
    f = workdir / "page.html"
    f.write_text(page)
    width, height = screenshot(f, workdir / "page.png")
    assert (width, height) == (VIEWPORT, 1600) and (workdir / "page.png").stat().st_size > 10_000  # not blank
    m = measure(page, workdir)
    assert m["too_wide"] == [] and m["page_width"] <= m["viewport"], m


def _long_names(rec: dict[str, Any]) -> dict[str, Any]:
    for h in rec["hardware"]:
        for i, lay in enumerate(h["layers"]):
            lay["name"] = f"/encoder/layers.{i}/self_attention/multi_head_attention/out_projection/MatMul"
    return rec


def _three_objective_study() -> dict[str, Any]:
    s = study_record()
    s["study"].update(objectives=["accuracy", "energy_uj", "latency_ms"],
                      directions=["maximize", "minimize", "minimize"])
    for i, t in enumerate(s["trials"]):
        if t["values"]:
            t["values"].append(0.01 * (i % 3 + 1))
            t["chip"] = "256x128 c2 adc6 m8 p32"
    s["history"] = {"kind": "hypervolume", "points": [[i, 0.2 * i] for i in range(5)], "reference": [1.1] * 3}
    s["exports"][0]["hardware"] = _long_names(export_record())["hardware"]
    return s


PAGES = {
    "export": lambda: export_html(_long_names(export_record())),
    "export-without-int8": lambda: export_html(export_record(quant=False)),
    "study-2-objectives": lambda: study_html(study_record()),
    "study-3-objectives": lambda: study_html(_three_objective_study()),
}


@needs_chromium
@pytest.mark.parametrize("name", sorted(PAGES))
def test_report_page_fits_800_px_in_chromium(name: str, tmp_path: Path) -> None:
    assert_fits(PAGES[name](), tmp_path)


@needs_chromium
def test_the_check_sees_a_table_wider_than_the_page(tmp_path: Path) -> None:
    """The measurement is not vacuous: without the scrolling box the per-layer table sticks out."""
    page = export_html(_long_names(export_record())).replace(
        "</head>", "<style>.scroll{overflow-x:visible!important}</style></head>")
    m = measure(page, tmp_path)
    assert m["too_wide"] and any(e.startswith("TABLE") for e in m["too_wide"]) and m["page_width"] > m["viewport"]

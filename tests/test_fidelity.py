"""Cost-model fidelity (figures and commands in benchmarks/fidelity.py and benchmarks/README.md):
NeuroSim V1.4 Table VII's 22 nm rows through `nas-edge profile` on an exported VGG-8 (the fit), its 5 nm
and 1 nm rows through technology scaling (the hold-out, never fitted), and published macros."""

from __future__ import annotations

import io
import json
import sys
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from fidelity import TABLE_VII, holdout_rows, macro_rows, table_vii_profile

from nas_edge.cli import app

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def vgg8_onnx(tmp_path_factory: pytest.TempPathFactory, torch_one_thread: None) -> Path:
    from nas_edge.models import create_model, example_input

    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(create_model("vgg8"), (example_input("vgg8"),), buf, dynamo=True, verbose=False)
    path = tmp_path_factory.mktemp("vgg8") / "vgg8.onnx"
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize("key", [k for k in TABLE_VII if k[1] == 22], ids=lambda k: f"{k[0]}-rp{k[2]}")
def test_table_vii_22nm_through_nas_edge_profile(vgg8_onnx: Path, tmp_path: Path, key: tuple) -> None:
    chip = tmp_path / "chip.yaml"
    chip.write_text(json.dumps(table_vii_profile(*key)))
    r = CliRunner().invoke(app, ["profile", str(vgg8_onnx), "-H", str(chip), "--json"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    totals = doc["hardware"][0]["totals"]
    assert 2 * doc["summary"]["macs"] == pytest.approx(1.2318e9, rel=1e-4)
    area, tops, tops_w, _ = TABLE_VII[key]
    assert totals["area_mm2"] == pytest.approx(area, rel=0.10)
    assert totals["tops"] == pytest.approx(tops, rel=0.10)
    assert totals["tops_per_w"] == pytest.approx(tops_w, rel=0.10)


# the bounds benchmarks/README.md states for the hold-out: every figure within 25 % but TOPS/mm^2 at 1 nm, within
# 30 % (the miss the write-up explains: area 22 % low)
HOLDOUT_BOUNDS = {5: {"area_mm2": 0.25, "tops": 0.25, "tops_per_w": 0.25, "tops_per_mm2": 0.25},
                  1: {"area_mm2": 0.25, "tops": 0.25, "tops_per_w": 0.25, "tops_per_mm2": 0.30}}


def test_holdout_rows_within_the_stated_bounds() -> None:
    rows = holdout_rows()
    assert {k[1] for k, _ in rows} == {5, 1} and len(rows) == 4
    for key, ours in rows:
        for i, (figure, bound) in enumerate(HOLDOUT_BOUNDS[key[1]].items()):
            ref = TABLE_VII[key][i]
            assert abs(ours[figure] / ref - 1) <= bound, (key, figure, ours[figure], ref)


# the bound benchmarks/README.md states for the macros built from their papers' component figures
MACRO_BOUND = 0.25


def test_macros_built_from_published_components_match_their_papers() -> None:
    """Jia et al. (JSSC 2020), NeuRRAM (Nature 2022) and Wang et al. (VLSI 2022): profiles from the papers'
    component figures, compared with the papers' headline on their own benchmark (README: what the agreement
    does and does not show)."""
    rows = {r[0]: r for r in macro_rows()}
    assert len(rows) >= 3
    built = [r for r in rows.values() if r[2] == "components"]
    assert {r[0] for r in built} >= {"jia-sram-65nm", "neurram-rram-130nm", "wang-sram-22nm"}
    for name, _, _, ours_w, paper_w, ours_a, paper_a in built:
        assert abs(ours_w / paper_w - 1) <= MACRO_BOUND, (name, ours_w, paper_w)
        if paper_a is not None:
            assert abs(ours_a / paper_a - 1) <= MACRO_BOUND, (name, ours_a, paper_a)


def test_structure_only_macros_say_so_in_their_provenance() -> None:
    from nas_edge.hardware import load_profile

    for name, _, basis, *_ in macro_rows():
        text = load_profile(name).provenance
        assert ("STRUCTURE ONLY" in text) == (basis == "structure"), name
        assert "PUBLISHED" in text and ("ESTIMATED" in text or "DERIVED" in text), name

"""profile_onnx / profile_workload: the documented JSON form, CSV, Markdown, several chips side by side."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from test_onnx_adapter_helpers import conv_model, mlp_attention_macs, mlp_attention_model

from nas_edge.cost import LAYER_FIELDS, TOTAL_NAMES, estimate
from nas_edge.hardware import ProfileError
from nas_edge.profiling import SCHEMA, SCHEMA_VERSION, ProfileResult, profile_onnx, profile_workload
from nas_edge.workload import Workload
from nas_edge.workload.onnx_adapter import OnnxError

HW = ["neurosim-rram-22nm", "mobile-cpu-a78"]


@pytest.fixture(scope="module")
def result() -> ProfileResult:
    return profile_onnx(mlp_attention_model(18), HW, batch=2)


def test_json_document_is_the_documented_form(result: ProfileResult) -> None:
    doc = json.loads(result.to_json())
    assert doc["schema"] == SCHEMA and doc["version"] == SCHEMA_VERSION == 1
    assert set(doc) == {"schema", "version", "model", "summary", "warnings", "layers", "hardware"}
    assert {"source", "producer", "opset", "ir_version", "inputs", "batch"} <= set(doc["model"])
    assert doc["model"]["batch"] == 2 and doc["model"]["inputs"] == {"x": [1, 16, 32]}
    assert doc["summary"]["macs"] == 2 * mlp_attention_macs()
    assert {"layers", "macs", "params", "static_layers", "initializer_params", "by_kind"} <= set(doc["summary"])
    n = len(doc["layers"])
    assert n == doc["summary"]["layers"] == len(result.workload)
    assert [layer["index"] for layer in doc["layers"]] == list(range(n))
    assert set(doc["layers"][0]) == {"index", "name", "op_type", "kind", "k", "n", "m", "groups", "kernel", "macs",
                                     "params", "in_elems", "out_elems"}
    assert [h["name"] for h in doc["hardware"]] == HW and [h["kind"] for h in doc["hardware"]] == ["imc", "digital"]
    for h in doc["hardware"]:
        assert set(h["totals"]) == set(TOTAL_NAMES)
        assert len(h["layers"]) == n and set(h["layers"][0]) == set(LAYER_FIELDS)
        lat = [layer["latency_ns"] for layer in h["layers"]]
        assert h["top_latency"] == sorted(range(n), key=lambda i: -lat[i])[:10]
        assert sum(lat) * 1e-6 == pytest.approx(h["totals"]["latency_ms"])
        en = [layer["energy_pj"] for layer in h["layers"]]
        assert sum(en) * 1e-6 == pytest.approx(h["totals"]["energy_uj"], rel=1e-9)
        assert en[h["top_energy"][0]] == max(en)


def test_same_figures_as_estimate(result: ProfileResult) -> None:
    for h, name in zip(result.hardware, HW, strict=True):
        direct = estimate(result.workload, name)
        assert h.totals == direct.totals
        assert np.array_equal(h.layers, direct.layers)


def test_imc_columns(result: ProfileResult) -> None:
    imc = result.hardware[0]
    static = result.workload.static_mask
    assert (imc.layer("arrays")[static] >= 1).all() and (imc.layer("arrays")[~static] == 0).all()
    assert (imc.layer("adc_conversions")[static] > 0).all()
    assert 0 < imc.totals["utilisation"] <= 1


def test_csv_one_line_per_hardware_and_layer(result: ProfileResult) -> None:
    rows = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert len(rows) == 2 * len(result.workload)
    assert rows[0]["hardware"] == HW[0] and rows[-1]["hardware"] == HW[1]
    lat = sum(float(r["latency_ns"]) for r in rows if r["hardware"] == HW[1])
    assert lat * 1e-6 == pytest.approx(result.hardware[1].totals["latency_ms"])


def test_markdown_report(result: ProfileResult) -> None:
    md = result.to_markdown(top=3)
    assert md.startswith("# Profile:")
    assert "## Totals" in md and f"| | {HW[0]} | {HW[1]} |" in md
    assert md.count("## Top 3 layers by latency") == 2 and "## Layers" in md
    assert md.count("\n| ") > len(result.workload)
    assert "## Layers" not in result.to_markdown(layers=False)


def test_warnings_for_unknown_ops_and_chip_overflow(tmp_path) -> None:
    from onnx import helper
    from test_onnx_adapter_helpers import make, vi

    model = make([helper.make_node("Custom", ["x"], ["y"], domain="my.ops")], [vi("x", [1, 4])], [vi("y", None)],
                 extra_domains=[("my.ops", 1)])
    assert any("my.ops.Custom" in w for w in profile_onnx(model, "mobile-cpu-a78").warnings)
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text("name: tiny\nbase: neurosim-rram-22nm\nprovenance: test\nchip: {tiles: 1}\n")
    r = profile_onnx(conv_model(64, 256, 32), [str(tiny)])
    assert r.hardware[0].totals["fits"] == 0
    assert any("tiny: the network needs" in w for w in r.warnings)


def test_profile_workload_from_torch() -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 30 * 30, 10))
    w = Workload.from_torch(model, torch.zeros(1, 3, 32, 32))
    r = profile_workload(w, "mobile-cpu-a78")
    doc = json.loads(r.to_json())
    assert doc["model"]["source"] == "Sequential" and doc["summary"]["static_layers"] == 2


def test_errors_are_raised_before_costing(tmp_path) -> None:
    with pytest.raises(ProfileError, match="not a built-in name"):
        profile_onnx(tmp_path / "missing.onnx", "no-such-chip")  # hardware first: model is not read
    with pytest.raises(OnnxError, match="no such file"):
        profile_onnx(tmp_path / "missing.onnx", "mobile-cpu-a78")
    with pytest.raises(ValueError, match="at least one"):
        profile_workload(Workload.from_onnx(conv_model()), [])

"""Export of one trained module: ONNX file, checks, parity, INT8, ORT format, cost tables, atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from nas_edge.evaluate import TrainConfig, load_data  # noqa: E402
from nas_edge.export import ExportOptions, OutputError, ParityError, export_model  # noqa: E402
from nas_edge.export._files import STAGING_PREFIX, publish, sha256, staging  # noqa: E402
from nas_edge.export.pipeline import input_stats  # noqa: E402
from nas_edge.spaces import CNNArchitecture, Stage, create_space  # noqa: E402

ARCH = CNNArchitecture(resolution=12, stem_width=8, stages=(
    Stage("dense", 1, 8, 3, 1, False), Stage("mbconv", 1, 16, 3, 3, True), Stage("residual", 1, 16, 3, 1, False)))
TRAIN = TrainConfig(epochs=3, seed=0, max_train_samples=1000)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("exports")
    space = create_space("cnn")
    data = load_data("digits")
    torch.manual_seed(0)
    model = space.build(ARCH)
    opts = ExportOptions(quantize="int8", ort_format=True, hardware=("neurosim-rram-22nm",), runs=30, warmup=3)
    result = export_model(model, data, out, name="tiny", train=TRAIN, options=opts,
                          analytic_macs=space.layers(ARCH).total_macs)
    return {"out": out, "result": result, "model": model, "data": data, "space": space}


def test_folder_holds_every_file_and_nothing_partial(exported: dict) -> None:
    res = exported["result"]
    assert res.dir == exported["out"] / "tiny"
    names = sorted(p.name for p in res.dir.iterdir())
    assert names == sorted(["model.onnx", "model.int8.onnx", "model.ort", "model.int8.ort",
                            "required_operators.config", "report.json", "report.md", "report.html"])
    assert not [p for p in exported["out"].iterdir() if p.name.startswith(".")]  # no staging left over
    on_disk = json.loads((res.dir / "report.json").read_text())
    assert on_disk["schema"] == "nas-edge.export" and on_disk["version"] == 1
    for f in on_disk["files"]:
        assert f["sha256"] == sha256(res.dir / f["file"]) and f["bytes"] == (res.dir / f["file"]).stat().st_size


def test_opset_is_read_back_and_batch_is_dynamic(exported: dict) -> None:
    res, data = exported["result"], exported["data"]
    proto = onnx.load(res.dir / "model.onnx")
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    assert res.record["model"]["opset"] == opset >= 18
    assert res.record["model"]["inputs"][0]["shape"][0] == "batch"
    assert set(res.record["checklist"]["operators"]) == {n.op_type for n in proto.graph.node}
    sess = ort.InferenceSession(res.dir / "model.onnx", providers=["CPUExecutionProvider"])
    for n in (1, 3, 17):
        assert sess.run(None, {"input": data.x_val[:n]})[0].shape == (n, 10)


def test_parity_and_accuracy_are_recomputable(exported: dict) -> None:
    """The file takes raw inputs: ORT on raw pixels equals PyTorch on the training normalisation."""
    res, data, model = exported["result"], exported["data"], exported["model"]
    mean, std = input_stats(data.x_train, TRAIN.max_train_samples)
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy((data.x_val - mean) / std)).numpy()
    got = ort.InferenceSession(res.dir / "model.onnx", providers=["CPUExecutionProvider"]).run(
        None, {"input": data.x_val})[0]
    diff = float(np.abs(ref - got).max())
    assert diff <= 1e-4
    rec = res.record
    assert rec["verification"]["parity"]["passed"] and rec["verification"]["parity"]["max_abs_diff"] <= 1e-4
    assert rec["accuracy"]["onnx_fp32"] == pytest.approx(float((got.argmax(1) == data.y_val).mean()))
    # the baked-in normalisation is the one training used: same accuracy as train_and_evaluate reported
    assert rec["accuracy"]["torch_fp32"] == pytest.approx(rec["training"]["accuracy"])
    assert rec["accuracy"]["onnx_fp32"] > 0.5


def test_macs_params_and_cost_tables_match_the_graph(exported: dict) -> None:
    from nas_edge.workload import Workload

    res = exported["result"]
    w = Workload.from_onnx(res.dir / "model.onnx")
    m = res.record["model"]
    assert m["macs"] == pytest.approx(w.total_macs)
    assert m["macs"] == pytest.approx(m["macs_analytic"])  # the exported graph is the searched architecture
    assert m["params"] == sum(p.numel() for p in exported["model"].parameters())
    by_name = {h["name"]: h for h in res.record["hardware"]}
    assert set(by_name) == {"neurosim-rram-22nm", "host-calibrated-1t"}
    imc = by_name["neurosim-rram-22nm"]
    assert len(imc["layers"]) == len(w)
    t = imc["totals"]
    assert sum(r["arrays"] for r in imc["layers"]) == pytest.approx(t["arrays_needed"])
    assert sum(r["adc_conversions"] for r in imc["layers"]) == pytest.approx(t["adc_conversions"])
    assert sum(r["energy_pj"] for r in imc["layers"]) / 1e6 == pytest.approx(t["energy_uj"])
    host = res.record["host_estimate"]
    assert host["profile"] == "host-calibrated-1t" and host["calibrated"]
    assert host["estimated_ms"] == pytest.approx(by_name["host-calibrated-1t"]["totals"]["latency_ms"])
    assert host["measured_p50_ms"] == res.record["latency"]["ort_fp32"]["p50_ms"] > 0


def test_latency_figures(exported: dict) -> None:
    lat = exported["result"].record["latency"]
    assert lat["provider"] == "CPUExecutionProvider" and lat["threads"] == 1 and lat["batch"] == 1
    for key in ("ort_fp32", "torch_eager"):
        assert 0 < lat[key]["min_ms"] <= lat[key]["p50_ms"] <= lat[key]["p90_ms"]
        assert lat[key]["runs"] >= 10 and lat[key]["warmup"] == 3
    assert lat["ort_over_torch_p50"] == pytest.approx(lat["ort_fp32"]["p50_ms"] / lat["torch_eager"]["p50_ms"])


def test_int8_static_qdq(exported: dict) -> None:
    res, data = exported["result"], exported["data"]
    q = res.record["quantization"]
    assert q["method"] == "static" and q["format"] == "QDQ"
    proto = onnx.load(res.dir / "model.int8.onnx")
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert q["bytes"] < res.record["model"]["bytes"]
    got = ort.InferenceSession(res.dir / "model.int8.onnx", providers=["CPUExecutionProvider"]).run(
        None, {"input": data.x_val})[0]
    assert q["accuracy"] == pytest.approx(float((got.argmax(1) == data.y_val).mean()))
    assert q["accuracy_drop_points"] == pytest.approx((res.record["accuracy"]["onnx_fp32"] - q["accuracy"]) * 100)
    assert q["accuracy_drop_points"] <= 1.0 and q["within_target"]  # the target on digits


def test_ort_format_and_operator_config(exported: dict) -> None:
    res, data = exported["result"], exported["data"]
    o = res.record["ort_format"]
    assert o["files"] == ["model.ort", "model.int8.ort"] and o["target_platform"] == "arm"
    config = (res.dir / "required_operators.config").read_text()
    assert str(exported["out"]) not in config and ".nas-edge-staging" not in config  # shipped names only
    assert "# - model.ort" in config and "ai.onnx;" in config
    listed = {op for entry in o["operators"] for op in entry["ops"]}
    assert "Conv" in listed or "FusedConv" in listed
    a = ort.InferenceSession(res.dir / "model.ort", providers=["CPUExecutionProvider"]).run(
        None, {"input": data.x_val[:50]})[0]
    b = ort.InferenceSession(res.dir / "model.onnx", providers=["CPUExecutionProvider"]).run(
        None, {"input": data.x_val[:50]})[0]
    assert np.abs(a - b).max() <= 1e-4


class _ExportsSomethingElse(torch.nn.Module):
    """Traces to a different graph than it runs eagerly: what parity is there to catch."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x.flatten(1))
        if torch.compiler.is_exporting():
            y = y + 0.01
        return y


def test_parity_failure_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    with pytest.raises(ParityError, match=r"parity check failed: max \|ONNX Runtime - PyTorch\| = 1\.0+e-02"):
        export_model(_ExportsSomethingElse(), "digits", tmp_path, name="bad")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


def test_parity_tolerance_is_respected(tmp_path: Path) -> None:
    res = export_model(_ExportsSomethingElse(), "digits", tmp_path, name="loose",
                       options=ExportOptions(atol=0.02, runs=5, warmup=1, host_profile="mobile-cpu-a78",
                                             hardware=("mobile-cpu-a78",)))
    assert res.record["verification"]["parity"]["max_abs_diff"] == pytest.approx(0.01, rel=1e-3)
    assert res.record["quantization"] is None and res.record["ort_format"] is None
    assert [h["name"] for h in res.record["hardware"]] == ["mobile-cpu-a78"]  # given twice, costed once
    host = res.record["host_estimate"]
    assert host["profile"] == "mobile-cpu-a78" and not host["calibrated"] and "order-of-magnitude" in host["note"]


def test_unwritable_output_fails_before_any_work(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write to output folder"):
        export_model(torch.nn.Linear(1, 1), "digits", blocker / "out")


def test_bad_options_are_refused() -> None:
    from nas_edge.export import ExportError

    for kwargs in ({"quantize": "int4"}, {"ort_target": "riscv"}, {"atol": 0.0}, {"threads": 0}):
        with pytest.raises(ExportError):
            ExportOptions(**kwargs)


def test_staging_is_removed_and_publish_replaces(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), staging(tmp_path) as tmp:
        (tmp / "x").write_text("partial")
        raise RuntimeError("boom")
    assert not list(tmp_path.iterdir())
    (tmp_path / "final").mkdir()
    (tmp_path / "final" / "report.json").write_text(json.dumps(
        {"schema": "nas-edge.export", "files": [{"file": "old.txt"}]}))  # what the earlier export wrote
    (tmp_path / "final" / "old.txt").write_text("old")
    with staging(tmp_path) as tmp:
        (tmp / "new").mkdir()
        (tmp / "new" / "new.txt").write_text("new")
        publish(tmp / "new", tmp_path / "final")
    assert [p.name for p in (tmp_path / "final").iterdir()] == ["new.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((STAGING_PREFIX, "."))]


@pytest.mark.slow
def test_transformer_gets_dynamic_int8(tmp_path: Path) -> None:
    space = create_space("transformer")
    arch = space.sample(0)
    torch.manual_seed(0)
    res = export_model(space.build(arch), "digits", tmp_path, name="vit", train=TrainConfig(epochs=1),
                       options=ExportOptions(quantize="int8", runs=10, warmup=2))
    q = res.record["quantization"]
    assert q["method"] == "dynamic"
    assert res.record["verification"]["parity"]["max_abs_diff"] <= 1e-4
    assert q["bytes"] < res.record["model"]["bytes"]


def test_onnx_files_describe_themselves(exported: dict) -> None:
    """Netron and ORT read what a file says about itself: metadata_props and doc_string."""
    res = exported["result"]
    rec = res.record
    files = (("model.onnx", rec["accuracy"]["onnx_fp32"]), ("model.int8.onnx", rec["quantization"]["accuracy"]))
    for name, acc in files:
        meta = ort.InferenceSession(str(res.dir / name), providers=["CPUExecutionProvider"]).get_modelmeta()
        props = meta.custom_metadata_map
        assert props["nas_edge_version"] == rec["environment"]["nas_edge"]
        assert float(props["accuracy"]) == pytest.approx(acc, abs=1e-6)
        assert json.loads(props["preprocessing"])["mean"] == pytest.approx(rec["model"]["preprocessing"]["mean"])
        assert json.loads(props["dataset"])["name"] == "digits"
        assert "Validation accuracy" in meta.description and "raw inputs" in meta.description
    # the recorded size and hash are those of the described file
    assert sha256(res.dir / "model.onnx") == next(f["sha256"] for f in rec["files"] if f["file"] == "model.onnx")

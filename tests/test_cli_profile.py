"""``nas-edge profile``: the rich report, --json/--csv/--md/--out, several chips, and one clear line per error."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from test_onnx_adapter_helpers import conv_model, mlp_attention_macs, mlp_attention_model
from typer.testing import CliRunner

from nas_edge.cli import app

runner = CliRunner()
NAS_EDGE = Path(sys.executable).parent / "nas-edge"
WIDE = {"COLUMNS": "220", "TTY_COMPATIBLE": "1"}  # rich tables: a terminal, and a wide one


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("models")
    attention = mlp_attention_model(18)  # symbolic batch "N"
    onnx.save(attention, d / "attention.onnx")
    seq = mlp_attention_model(18)
    seq.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "seq"
    onnx.save(seq, d / "symbolic.onnx")
    onnx.save(conv_model(8, 16, 16), d / "conv.onnx")
    named = mlp_attention_model(18)
    for i, node in enumerate(named.graph.node):
        node.name = f"/encoder/layers.0/self_attention/projection_block_{i}/{node.op_type}"
    onnx.save(named, d / "named.onnx")
    data = attention.SerializeToString()
    (d / "truncated.onnx").write_bytes(data[: len(data) // 2])
    corrupt = bytearray(data)
    corrupt[10:40] = b"\xff" * 30
    (d / "corrupt.onnx").write_bytes(bytes(corrupt))
    (d / "notes.onnx").write_text("these are my notes, not a model\n")
    return {p.stem: p for p in d.iterdir()}


def test_rich_report_with_two_chips(models: dict[str, Path]) -> None:
    r = runner.invoke(app, ["profile", str(models["attention"]), "--hardware", "neurosim-rram-22nm",
                            "-H", "mobile-cpu-a78"], env=WIDE)
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    for text in ("layers", "totals", "neurosim-rram-22nm (imc)", "mobile-cpu-a78 (digital)", "ADC conv",
                 "top 10 layers by latency on neurosim-rram-22nm", "top 10 layers by latency on mobile-cpu-a78",
                 "fits on chip", "MatMul", "Softmax", "inputs x=1x16x32"):
        assert text in out, text
    assert "Traceback" not in out + r.stderr


def test_json_csv_md(models: dict[str, Path]) -> None:
    base = ["profile", str(models["attention"]), "-H", "mobile-cpu-a78", "--batch", "3"]
    doc = json.loads(runner.invoke(app, [*base, "--json"]).stdout)
    assert doc["schema"] == "nas-edge.profile" and doc["model"]["batch"] == 3
    assert doc["summary"]["macs"] == 3 * mlp_attention_macs()
    rows = list(csv.DictReader(io.StringIO(runner.invoke(app, [*base, "--csv"]).stdout)))
    assert len(rows) == len(doc["layers"]) and rows[0]["hardware"] == "mobile-cpu-a78"
    md = runner.invoke(app, [*base, "--md", "--top", "2", "--no-layers"]).stdout
    assert md.startswith("# Profile:") and "Top 2 layers" in md and "## Layers" not in md


def test_out_file_format_from_flag_or_suffix(models: dict[str, Path], tmp_path: Path) -> None:
    checks = (("p.json", lambda t: json.loads(t)["version"] == 1), ("p.csv", lambda t: t.startswith("hardware,")),
              ("p.md", lambda t: t.startswith("# Profile")))
    for name, check in checks:
        out = str(tmp_path / name)
        r = runner.invoke(app, ["profile", str(models["conv"]), "-H", "neurosim-sram-22nm", "--out", out])
        assert r.exit_code == 0 and f"wrote {tmp_path / name}" in r.stderr.replace("\n", "")
        assert check((tmp_path / name).read_text())
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, no leftovers


@pytest.mark.parametrize("env", [{"COLUMNS": "40"}, {"COLUMNS": "60", "TTY_COMPATIBLE": "1"}],
                         ids=["pipe", "narrow-terminal"])
def test_pipe_or_narrow_terminal_gets_compact_text(models: dict[str, Path], env: dict[str, str]) -> None:
    """Not a terminal, or a narrow one: totals and the top layers as plain text, each layer name whole on its
    line (rich tables folded them to a few characters a line)."""
    from nas_edge.profiling import profile_onnx

    r = runner.invoke(app, ["profile", str(models["named"]), "-H", "neurosim-rram-22nm", "-H", "mobile-cpu-a78",
                            "--top", "3"], env=env)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "┃" not in r.stdout and "│" not in r.stdout  # no rich table
    assert lines[0].startswith(str(models["named"])) and "totals" in lines
    res = profile_onnx(models["named"], ["neurosim-rram-22nm", "mobile-cpu-a78"])
    for h in range(2):
        for i in res.top_layers(h, n=3):
            name = res.workload.names[i]
            assert len(name) > 40 and any(line.endswith(" " + name) for line in lines), name
    assert "top 3 layers by latency on mobile-cpu-a78" in lines


def test_csv_column_names_are_unique(models: dict[str, Path]) -> None:
    header = runner.invoke(app, ["profile", str(models["conv"]), "-H", "neurosim-rram-22nm", "--csv"]
                           ).stdout.splitlines()[0].split(",")
    assert len(header) == len(set(header)), sorted(h for h in header if header.count(h) > 1)
    assert "macs" in header and "cost_macs" in header


def test_out_txt_is_text_and_an_unknown_suffix_is_refused(models: dict[str, Path], tmp_path: Path) -> None:
    r = runner.invoke(app, ["profile", str(models["conv"]), "-H", "neurosim-rram-22nm", "--out",
                            str(tmp_path / "p.txt")])
    assert r.exit_code == 0, r.stderr
    text = (tmp_path / "p.txt").read_text()
    assert text.startswith(str(models["conv"])) and "top 10 layers by latency" in text and not text.startswith("{")
    r = runner.invoke(app, ["profile", str(models["conv"]), "-H", "neurosim-rram-22nm", "--out",
                            str(tmp_path / "p.data")])
    assert r.exit_code == 1 and "--text" in r.stderr and not (tmp_path / "p.data").exists()


def test_input_shape_option(models: dict[str, Path]) -> None:
    for shape in ("x=1x16x32", "seq=16"):
        r = runner.invoke(app, ["profile", str(models["symbolic"]), "-H", "mobile-cpu-a78", "--json",
                                "--input-shape", shape])
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)["summary"]["macs"] == mlp_attention_macs()


ERRORS = [
    (["missing.onnx"], "no such file"),
    (["notes"], "not"),
    (["truncated"], "truncated or corrupted"),
    (["corrupt"], "ONNX"),
    (["symbolic"], "--input-shape x=1xNx32"),
    (["conv", "-H", "no-such-chip"], "not a built-in name"),
    (["conv", "--json", "--csv"], "choose one of"),
    (["conv", "--input-shape", "x=1xfoo"], "NAME=DIMS"),
    (["conv", "--input-shape", "nope=3"], "neither an input"),
]


def _argv(models: dict[str, Path], args: list[str]) -> list[str]:
    model = str(models.get(args[0], Path("/nonexistent") / args[0]))
    extra = args[1:] if "-H" in args else ["-H", "mobile-cpu-a78", *args[1:]]
    return ["profile", model, *extra]


@pytest.mark.parametrize("args, message", ERRORS)
def test_bad_input_one_clear_line(models: dict[str, Path], args: list[str], message: str) -> None:
    r = runner.invoke(app, _argv(models, args))
    assert r.exit_code == 1
    assert r.stderr.startswith("error:") and message in r.stderr.replace("\n", " ")
    assert ("Traceback" not in r.stdout + r.stderr and r.exception is None) or isinstance(r.exception, SystemExit)


@pytest.mark.parametrize("args, message", ERRORS[:6])
def test_bad_input_in_a_real_process(models: dict[str, Path], args: list[str], message: str) -> None:
    proc = subprocess.run([str(NAS_EDGE), *_argv(models, args)], capture_output=True, text=True, timeout=60,
                          env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert proc.stderr.startswith("error:") and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_missing_hardware_option_is_a_usage_error(models: dict[str, Path]) -> None:
    r = runner.invoke(app, ["profile", str(models["conv"])])
    assert r.exit_code == 2 and "--hardware" in r.stderr


def test_help_and_import_stay_light() -> None:
    code = ("import sys, nas_edge.cli; "
            "assert not {'torch', 'onnx', 'onnxruntime', 'numba'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    proc = subprocess.run([str(NAS_EDGE), "profile", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--hardware" in proc.stdout and "--input-shape" in proc.stdout

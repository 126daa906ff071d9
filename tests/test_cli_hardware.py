"""``nas-edge hardware`` commands, the CLI's error contract and its start-up cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from nas_edge.cli import app
from nas_edge.hardware import builtin_names

runner = CliRunner()
NAS_EDGE = Path(sys.executable).parent / "nas-edge"


def test_list_shows_every_builtin():
    r = runner.invoke(app, ["hardware", "list"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    for name in builtin_names():
        assert name in r.stdout


def test_show_json_resolves_base_and_derives_adc(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("base: neurosim-sram-22nm\nname: mine\nadc: {bits: 5}\n")
    r = runner.invoke(app, ["hardware", "show", str(f), "--json"])
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["name"] == "mine" and data["adc"]["bits"] == 5 and data["array"]["rows"] == 128
    assert data["derived"]["adc_energy_pj"] > 0


def test_validate_good_and_bad(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("base: neurosim-rram-22nm\nname: good\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: neurosim-rram-22nm\nname: bad\nadc: {bits: 40}\n")
    r = runner.invoke(app, ["hardware", "validate", str(good)])
    assert r.exit_code == 0 and "ok" in r.stdout
    r = runner.invoke(app, ["hardware", "validate", str(good), str(bad)])
    assert r.exit_code == 1
    assert "adc.bits" in r.stderr and str(bad) in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_show_unknown_name_fails_cleanly():
    r = runner.invoke(app, ["hardware", "show", "no-such-chip"])
    assert r.exit_code == 1
    assert "no-such-chip" in r.stderr and "Traceback" not in r.stderr


def test_schema_written_atomically(tmp_path):
    out = tmp_path / "sub" / "profile.schema.json"
    r = runner.invoke(app, ["hardware", "schema", "--out", str(out)])
    assert r.exit_code == 0
    assert json.loads(out.read_text())["title"] == "nas-edge hardware profile"
    assert [p.name for p in out.parent.iterdir()] == ["profile.schema.json"]  # no temp file left


def test_console_script_error_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    r = subprocess.run([str(NAS_EDGE), "hardware", "validate", str(bad)], capture_output=True, text=True, check=False)
    assert r.returncode == 1
    assert "malformed YAML" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([str(NAS_EDGE), "hardware", "frobnicate"], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_help_does_not_import_heavy_modules():
    code = ("import sys; from nas_edge.cli import app; "
            "heavy = [m for m in ('torch', 'onnx', 'onnxruntime', 'numba', 'optuna', 'sklearn') if m in sys.modules]; "
            "print(','.join(heavy))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""

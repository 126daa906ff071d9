"""``nas-edge hardware`` commands, the CLI's error contract and its start-up cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nas_edge.cli import app
from nas_edge.hardware import builtin_names, load_profile

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
    assert "derived" not in data and "base" not in data  # exactly the loadable profile
    r = runner.invoke(app, ["hardware", "show", str(f), "--json", "--derived"])
    assert json.loads(r.stdout)["derived"]["adc_energy_pj"] > 0


@pytest.mark.parametrize("flag", [None, "--yaml", "--json"])
def test_show_output_round_trips_for_every_builtin(tmp_path, flag):
    """`nas-edge hardware show X > mine.yaml` gives a file that validates and loads back to the same profile
    (the terminal width does not wrap it: the runner's output is not a terminal, COLUMNS is narrow)."""
    for name in builtin_names():
        r = runner.invoke(app, ["hardware", "show", name, *([flag] if flag else [])], env={"COLUMNS": "60"})
        assert r.exit_code == 0, r.stderr
        saved = tmp_path / f"{name}.{'json' if flag == '--json' else 'yaml'}"
        saved.write_text(r.stdout)
        v = runner.invoke(app, ["hardware", "validate", str(saved)])
        assert v.exit_code == 0, v.stderr
        shown, original = load_profile(str(saved)), load_profile(name)
        # equal in every field; `base` is already applied (and scaled), so the saved file stands alone
        assert shown.model_dump(exclude={"base"}) == original.model_dump(exclude={"base"}) and shown.base is None
        if flag is None:  # the summary and the derived figures are comments
            assert r.stdout.startswith(f"# {name} (")


def test_show_of_an_extending_file_stands_alone(tmp_path):
    """A file with `base:` shows every field resolved; the saved copy loads from anywhere (no base needed)."""
    src = tmp_path / "a" / "mine.yaml"
    src.parent.mkdir()
    (src.parent / "parent.yaml").write_text("base: neurosim-sram-22nm\nname: parent\nadc: {bits: 6}\n")
    src.write_text("base: parent.yaml\nname: mine\narray: {rows_parallel: 16}\n")
    r = runner.invoke(app, ["hardware", "show", str(src)])
    assert r.exit_code == 0, r.stderr
    moved = tmp_path / "elsewhere.yaml"
    moved.write_text(r.stdout)
    original, copy = load_profile(str(src)), load_profile(str(moved))
    assert copy.model_dump(exclude={"base"}) == original.model_dump(exclude={"base"})
    assert copy.adc.bits == 6 and copy.array.rows_parallel == 16


def test_show_derived_block_is_only_on_request():
    plain = runner.invoke(app, ["hardware", "show", "neurosim-rram-22nm", "--yaml"]).stdout
    assert "derived" not in plain and "#" not in plain.split("provenance")[0]
    extra = runner.invoke(app, ["hardware", "show", "neurosim-rram-22nm", "--yaml", "--derived"]).stdout
    assert "derived:" in extra and "adc_energy_pj" in extra
    both = runner.invoke(app, ["hardware", "show", "neurosim-rram-22nm", "--yaml", "--json"])
    assert both.exit_code == 1 and "--yaml" in both.stderr


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

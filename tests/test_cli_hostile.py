"""The command line against hostile or unlucky input (issue 12): markup and control characters in names and
paths, outputs onto directories, devices, full and read-only disks, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import onnx
import optuna
import pytest
from optuna.trial import TrialState
from test_onnx_adapter_helpers import conv_model
from typer.testing import CliRunner

from nas_edge.cli import app
from nas_edge.cli._common import printable, shown

EXE = str(Path(sys.executable).parent / "nas-edge")
MARKUP = "evil[/][link=https://example.com]x[/link]"
EVIL = MARKUP + "\x1b[31mred\x1b]8;;https://e.x\x07\nok"
WIDE = {"COLUMNS": "250"}


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args), env=WIDE)


def test_shown_and_printable():
    assert printable("a\x1b[31mb\nc\td\x7f\x9b") == "a\\x1b[31mb\\x0ac\\x09d\\x7f\\x9b"
    assert shown("evil[/]") == "evil\\[/]"
    from rich.console import Console

    console = Console(record=True, width=300)
    console.print(shown(EVIL))  # would raise MarkupError, or render a hyperlink
    assert console.export_text().rstrip("\n") == printable(EVIL)


def _profile(d: Path, name: str) -> Path:
    path = d / "profile.yaml"
    path.write_text(f"name: {json.dumps(name)}\nbase: neurosim-rram-22nm\n")  # a JSON string is YAML too
    return path


@pytest.fixture(scope="module")
def evil_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A profile whose name is rich markup (a closing tag, a hyperlink)."""
    return _profile(tmp_path_factory.mktemp("evil"), MARKUP)


def _clean(output: str) -> None:
    """No control character but newlines reached the terminal."""
    assert not [c for c in output if ord(c) < 32 and c != "\n"], repr(output)


@pytest.mark.parametrize("command", [["hardware", "validate"], ["hardware", "show"]])
def test_profile_names_with_markup_stay_text(evil_profile: Path, command: list[str]):
    """Issue 12.7: a profile named ``evil[/]`` gave a traceback; ``[link=...]`` became a hyperlink."""
    r = _invoke(*command, str(evil_profile))
    assert r.exit_code == 0, r.output
    _clean(r.stdout + r.stderr)
    assert MARKUP in r.stdout


@pytest.mark.parametrize("command", [["hardware", "validate"], ["hardware", "show"], ["search", "--hardware"]])
def test_control_characters_in_a_profile_name_are_refused(tmp_path: Path, command: list[str]):
    """Issue 12.16: ANSI escapes and newlines in a profile's name reached the terminal raw. Such a name is
    invalid now, and the error shows it escaped."""
    r = _invoke(*command, str(_profile(tmp_path, EVIL)), *(["--storage", str(tmp_path / "s.log")]
                                                            if command[0] == "search" else []))
    assert r.exit_code == 1, r.output
    _clean(r.stdout + r.stderr)
    assert "name: must be printable text without control characters" in r.stderr
    assert "\\x1b" in r.stderr and not (tmp_path / "s.log").exists()


def test_profile_command_with_an_evil_profile_and_out_path(evil_profile: Path, tmp_path: Path):
    model = tmp_path / "m.onnx"
    onnx.save(conv_model(4, 8, 8), model)
    r = _invoke("profile", str(model), "-H", str(evil_profile), "-H", "mobile-cpu-a78")
    assert r.exit_code == 0, r.output
    _clean(r.stdout + r.stderr)
    assert "[link=https://example.com]" in r.stdout
    out = tmp_path / "o[/]x.json"
    r = _invoke("profile", str(model), "-H", str(evil_profile), "--out", str(out))
    assert r.exit_code == 0 and out.is_file(), r.output
    assert "o[/]x.json" in r.stderr


@pytest.mark.parametrize("fmt", [[], ["--text"], ["--layers"]])
def test_layer_names_from_the_model_file_stay_text_in_plain_output(tmp_path: Path, fmt: list[str]):
    """The plain-text profile (a pipe, a narrow terminal, --text) printed the file's node names raw: a name
    with ANSI escapes and a bell reached the terminal (found by benchmarks/attack.py)."""
    m = conv_model(4, 8, 8)
    m.graph.node[0].name = EVIL
    model = tmp_path / "m.onnx"
    onnx.save(m, model)
    r = _invoke("profile", str(model), "-H", "neurosim-rram-22nm", *fmt)
    assert r.exit_code == 0, r.output
    _clean(r.stdout + r.stderr)
    assert "\\x1b[31mred" in r.stdout


def test_search_with_an_evil_study_name_and_profile(evil_profile: Path, tmp_path: Path):
    args = ["search", "--objectives", "params,energy_uj", "--sampler", "random", "--no-progress", "--storage",
            str(tmp_path / "s.log"), "--study-name", "study[/]\x1b[2J", "--hardware", str(evil_profile)]
    assert _invoke(*args, "--trials", "2").exit_code == 0
    r = _invoke(*args, "--trials", "3")  # the resume line and the table show the name
    assert r.exit_code == 0, r.output
    assert "study[/]\\x1b[2J" in r.stdout and "study[/]\\x1b[2J" in r.stderr
    assert "\x1b" not in r.stdout + r.stderr


# -- outputs that cannot be written: one line, exit 1, nothing half-written (issue 12.13) -------------------------


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_schema_out_onto_a_directory_or_a_device_is_refused(tmp_path: Path, kind: str):
    target = tmp_path / "target"
    target.mkdir() if kind == "directory" else os.mkfifo(target)
    r = _invoke("hardware", "schema", "--out", str(target))
    assert r.exit_code == 1 and r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1
    assert ("is a directory" if kind == "directory" else "not a regular file") in r.stderr
    assert target.is_dir() if kind == "directory" else target.is_fifo()  # not replaced by a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]  # no temp file left


def _in_small_tmpfs(tmp_path: Path, script: str, size: str = "16k") -> subprocess.CompletedProcess[str]:
    """Run ``script`` (sh) with ``$D`` a fresh tmpfs of ``size`` in a private mount namespace (root only)."""
    if subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False).returncode:
        pytest.skip("a private tmpfs needs root (unshare -m)")
    d = tmp_path / "mnt"
    d.mkdir()
    return subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size={size} tmpfs {d} && {script}"],
                          env={**os.environ, "D": str(d), "NE": EXE}, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.mark.slow
def test_full_and_read_only_disks_are_one_line(tmp_path: Path):
    """``hardware schema --out`` and ``profile --out`` on a full disk, ``schema --out`` on a read-only one: one
    ``error:`` line naming the file each, exit 1 (``export --out`` checks its folder first: test_cli_export)."""
    model = tmp_path / "m.onnx"
    onnx.save(conv_model(4, 8, 8), model)
    script = (f'head -c 20000 /dev/zero > $D/filler 2>/dev/null; "$NE" hardware schema --out $D/s.json; '
              f'echo "rc=$?"; "$NE" profile {model} -H neurosim-rram-22nm --csv --out $D/p.csv; echo "rc=$?"; '
              'mount -o remount,ro $D; "$NE" hardware schema --out $D/t.json; echo "rc=$?"; ls -A $D')
    r = _in_small_tmpfs(tmp_path, script)
    assert r.stdout.count("rc=1") == 3, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr and len(lines) == 3 and all(x.startswith("error: ") for x in lines), lines
    assert "s.json: No space left on device" in lines[0] and "p.csv: No space left on device" in lines[1]
    assert "t.json: Read-only file system" in lines[2]
    assert r.stdout.strip().splitlines()[-1] == "filler"  # no partial output, no temp file left


# -- Ctrl-C (issue 12.14) --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_exits_130_marks_the_trial_and_the_rerun_resumes(tmp_path: Path):
    """Ctrl-C printed Optuna's traceback and exited 0. Now: exit 130, no traceback, the running trial is FAILED
    with ``interrupted``, and the same command resumes the study to its budget."""
    storage = f"sqlite:///{tmp_path / 's.db'}"
    cmd = [EXE, "search", "--storage", storage, "--trials", "1", "--objectives", "accuracy,energy_uj", "--epochs",
           "8", "--sampler", "random", "--no-progress"]
    # a shell's background job inherits SIGINT ignored (and Python then keeps it so): give the child a normal one
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline, running = time.time() + 180, []
    while not running and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        try:
            study = optuna.load_study(study_name="nas-edge", storage=storage)
            running = [t for t in study.get_trials(states=(TrialState.RUNNING,)) if t.params]
        except KeyError:
            continue
    assert running, "the search never started a trial"
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "interrupted" in err and "rerun the same command" in err
    trial = optuna.load_study(study_name="nas-edge", storage=storage).trials[running[0].number]
    assert trial.state == TrialState.FAIL and trial.user_attrs.get("interrupted") is True
    rerun = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    study = optuna.load_study(study_name="nas-edge", storage=storage)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 1


def test_ctrl_c_in_any_command_is_exit_130(monkeypatch: pytest.MonkeyPatch):
    import nas_edge.hardware

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(nas_edge.hardware, "load_profile", interrupted)
    r = _invoke("hardware", "show", "neurosim-rram-22nm")
    assert r.exit_code == 130 and "interrupted" in r.stderr


@pytest.mark.slow
def test_a_journal_on_a_read_only_disk_can_still_be_reported(tmp_path: Path):
    """The journal's tail check takes its lock: on a read-only disk it is skipped, and reading works as before."""
    out = tmp_path / "report"
    script = (f'"$NE" search --storage $D/j.log --trials 2 --objectives params,energy_uj --sampler random '
              f'--no-progress >/dev/null 2>&1; mount -o remount,ro $D; "$NE" report --storage $D/j.log --out {out}; '
              'echo "rc=$?"')
    r = _in_small_tmpfs(tmp_path, script, size="1m")
    assert r.stdout.strip().splitlines()[-1] == "rc=0", (r.stdout, r.stderr)
    assert (out / "report.html").is_file()

"""The README's code blocks run as printed, in order, in one empty folder — as a new user would paste them —
with smaller budgets (trial, epoch, seed and repeat counts; see :data:`BUDGETS`).

Blocks share state the way a user's session does: files (``my_chip.yaml``, ``model.onnx``, ``nas_edge.db``)
and, for Python blocks, one interpreter (the screening-sampler block reuses the ``objective`` of the block
before it). A ``yaml`` block whose first line is ``# NAME.yaml`` is written to that file. Left out, with the
reason: the ``make`` blocks — they build the environment this test runs in and run this very suite
(``make test``, ``make fuzz``, ``make lint``) or the demo at its full budget (``make demo``, minutes). The
PostgreSQL example runs against the test server (the URL's host is a placeholder); without the server's
binaries that one line is left out.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BUDGETS: list[tuple[str, str]] = [
    (r"--trials \d+", "--trials 1"),
    (r"n_trials=\d+", "n_trials=1"),
    (r'"epochs": \d+', '"epochs": 2'),
    (r"epochs=\d+", "epochs=2"),
    (r"--seeds \d+", "--seeds 1"),
    (r"repeats=\d+", "repeats=2"),
    (r"--analog-repeats \d+", "--analog-repeats 1"),
    (r"--epochs \d+", "--epochs 2"),
    (r"nas-edge search ", "nas-edge search --epochs 2 "),  # the command's default is 12
    (r"supernet train ", "supernet train --max-train-samples 256 "),  # torchrun's line too
    (r"--method dnas ", "--method dnas --method-option epochs=2 --method-option warmup_epochs=1 "),
    # a supernet trained that little scores at chance level, which export refuses by default
    (r"--finetune-epochs \d+", "--finetune-epochs 1 --min-accuracy 0"),
]
PLACEHOLDER_URL = "postgresql://user:pass@db-host/nas"


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.M | re.S)]


def runnable(lang: str, code: str) -> bool:
    lines = [ln for ln in code.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return not (lang == "bash" and all(ln.startswith("make ") for ln in lines))


def shrink(code: str) -> str:
    for pattern, repl in BUDGETS:
        code = re.sub(pattern, repl, code)
    return code


DRIVER = r'''
import json, subprocess, sys, time
plan = json.load(open(sys.argv[1]))
ns = {"__name__": "__readme__"}
for i, (lang, code) in enumerate(plan):
    print(f"=== block {i} ({lang})", flush=True)
    t0 = time.perf_counter()
    if lang == "python":
        exec(compile(code, f"README block {i}", "exec"), ns)
    elif lang == "bash":
        subprocess.run(["bash", "-euo", "pipefail", "-c", code], check=True)
    elif lang == "file":
        name, _, body = code.partition("\n")
        open(name, "w").write(body)
    print(f"=== ok {i} ({time.perf_counter() - t0:.1f} s)", flush=True)
'''


def test_no_indented_code_blocks() -> None:
    """Every command is in a fenced block (and so run by the test below)."""
    text = README.read_text()
    assert not re.search(r"\n\n {4}(nas-edge|python|import|from) ", text)


@pytest.mark.slow
def test_every_readme_code_block_runs(tmp_path: Path) -> None:
    from pg_server import find_bin, postgres_server

    text = README.read_text()
    plan: list[list[str]] = []
    for lang, code in blocks(text):
        first = code.splitlines()[0] if code else ""
        if lang == "yaml" and re.fullmatch(r"# [\w.-]+\.ya?ml", first):
            plan.append(["file", first[2:] + "\n" + code])
        elif lang in ("bash", "python") and runnable(lang, code):
            plan.append([lang, shrink(code)])
        else:
            assert lang in ("bash", "yaml"), f"a {lang!r} block the test does not know how to run"
    assert len(plan) >= 15, len(plan)
    with postgres_server() if find_bin() is not None else _no_server() as pg_url:
        for step in plan:
            if PLACEHOLDER_URL in step[1]:
                lines = step[1].splitlines()
                step[1] = "\n".join(ln.replace(PLACEHOLDER_URL, pg_url) if pg_url else ln for ln in lines
                                    if pg_url or PLACEHOLDER_URL not in ln)
        work = tmp_path / "fresh"
        work.mkdir()
        (tmp_path / "plan.json").write_text(json.dumps(plan))
        (tmp_path / "driver.py").write_text(DRIVER)
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "OMP_NUM_THREADS": "1", "COLUMNS": "120"}
        proc = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "plan.json")], cwd=work,
                              env=env, capture_output=True, text=True, timeout=1500)
    done = re.findall(r"=== ok (\d+)", proc.stdout)
    failed = len(done)
    assert proc.returncode == 0, (f"README block {failed} failed:\n{plan[failed][1] if failed < len(plan) else ''}"
                                  f"\n--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-4000:]}")
    assert len(done) == len(plan)
    print("\n".join(re.findall(r"=== ok .*", proc.stdout)))  # each block's time (pytest -s shows them)
    for produced in ("my_chip.yaml", "model.onnx", "bert.json", "report.md", "my_cpu.yaml", "nas_edge.db",
                     "exports/report.html", "exports-py/report.html", "nb201.csv", "runs/summary.md"):
        assert (work / produced).exists(), produced


class _no_server:
    def __enter__(self) -> str:
        return ""

    def __exit__(self, *exc: object) -> None:
        return None

"""The examples run as a user would run them (few trials, a SQLite storage) and print their results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.slow
@pytest.mark.parametrize(("script", "expected", "studies"), [
    ("extend_existing_study.py", ["MLP study:", "CNN search:"], 2),
    ("transformer_search.py", ["ViT on digits:", "Encoder on token sequences"], 2),
    ("hardware_cosearch.py", ["feasible Pareto trials of 6", "ADC"], 1),
])
def test_example_runs(script: str, expected: list[str], studies: int, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ex.db'}"
    env = {**os.environ, "NAS_EDGE_EXAMPLE_TRIALS": "2"}
    res = subprocess.run([sys.executable, str(EXAMPLES / script), url], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    for text in expected:
        assert text in res.stdout, res.stdout
    assert len(optuna.get_all_study_names(url)) == studies

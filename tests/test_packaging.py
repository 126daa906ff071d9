"""A normal, non-editable install finds the built-in profiles by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_ships_builtin_profiles(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    (wheel,) = wheels.glob("nas_edge-*.whl")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    code = ("import nas_edge, sys; from nas_edge.hardware import builtin_names, load_profile; "
            "assert nas_edge.__file__.startswith(sys.argv[1]), nas_edge.__file__; "
            "names = builtin_names(); [load_profile(n) for n in names]; print(' '.join(names))")
    env = {**os.environ, "PYTHONPATH": str(target)}
    r = subprocess.run([sys.executable, "-c", code, str(target)], cwd=tmp_path, env=env, capture_output=True,
                       text=True, check=True)
    shipped = set(r.stdout.split())
    assert {p.stem for p in (ROOT / "hardware_profiles").glob("*.yaml")} == shipped

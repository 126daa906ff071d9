"""The top-level names resolve lazily and ``import nas_edge`` stays light."""

from __future__ import annotations

import subprocess
import sys

import nas_edge


def test_every_public_name_resolves():
    for name in nas_edge.__all__:
        assert getattr(nas_edge, name) is not None, name


def test_import_is_light():
    code = "import sys, nas_edge; print(','.join(m for m in ('torch', 'onnx', 'numba', 'optuna') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""

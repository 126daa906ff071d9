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


def test_names_users_import_keep_their_paths():
    """The search module became a package: what README, examples and plugins import still resolves."""
    import importlib

    import pytest

    from nas_edge import search

    for name in ("Objective", "HardwareCost", "run_search", "open_storage", "open_study", "make_sampler",
                 "make_pruner", "SearchError", "OBJECTIVES", "MODEL_METRICS", "CONSTRAINABLE", "CAPACITY_KEY",
                 "Constraint", "parse_constraint", "parse_constraints", "screening_sampler", "ObjectiveScreen"):
        assert getattr(search, name) is not None, name
    assert nas_edge.Objective is search.Objective and nas_edge.run_search is search.run_search
    with pytest.warns(DeprecationWarning, match="moved to nas_edge.search.screening"):
        glue = importlib.reload(importlib.import_module("nas_edge.samplers.nas_glue"))
    assert glue.screening_sampler is search.screening_sampler and glue.ObjectiveScreen is search.ObjectiveScreen

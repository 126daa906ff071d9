"""One error root: every expected failure is a NasEdgeError, shown by the CLI as one line (exit 1-2); anything
else is a bug, shown with its traceback and a request for a report."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import nas_edge
from nas_edge.cli import BUG_EXIT_CODE, app, main
from nas_edge.cli._common import CLIError, fail
from nas_edge.errors import NasEdgeError

runner = CliRunner()


def _error_classes() -> dict[str, type[BaseException]]:
    """Every public exception class defined in nas_edge (each module imported)."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(nas_edge.__path__, "nas_edge."):
        if info.name.endswith("__main__") or info.name == "nas_edge.samplers.nas_glue":
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name
                    and not name.startswith("_")):
                found[f"{info.name}.{name}"] = obj
    return found


def test_every_error_class_derives_from_the_root() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    classes = _error_classes()
    assert {"nas_edge.search.errors.SearchError", "nas_edge.hardware.loader.ProfileError",
            "nas_edge.workload.onnx_adapter.OnnxError", "nas_edge.export.errors.ExportError",
            "nas_edge.cli._common.CLIError"} <= set(classes)
    strays = sorted(name for name, cls in classes.items() if not issubclass(cls, NasEdgeError))
    assert not strays, f"error classes outside the NasEdgeError root: {strays}"


def test_fail_raises_a_cli_error_with_its_exit_code() -> None:
    with pytest.raises(CLIError, match="bad flags") as info:
        fail("bad flags", 2)
    assert info.value.exit_code == 2 and isinstance(info.value, NasEdgeError)


def test_an_expected_error_is_one_line_and_exit_1() -> None:
    r = runner.invoke(app, ["hardware", "show", "no-such-chip"])
    assert r.exit_code == 1 and (r.exception is None or isinstance(r.exception, SystemExit))
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "no-such-chip" in lines[0]


def test_an_os_error_is_one_line(tmp_path: Path) -> None:
    r = runner.invoke(app, ["hardware", "schema", "--out", str(tmp_path)])  # a folder, not a file
    assert r.exit_code == 1 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


def _run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["nas-edge", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    code = info.value.code
    return (code if isinstance(code, int) else 0), capsys.readouterr().err


def test_a_bug_shows_its_traceback_and_asks_for_a_report(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> list[str]:
        raise ZeroDivisionError("a bug deep inside")

    monkeypatch.setattr("nas_edge.hardware.builtin_names", broken)
    code, err = _run_main(monkeypatch, capsys, "hardware", "list")
    assert code == BUG_EXIT_CODE
    assert "Traceback" in err and "ZeroDivisionError: a bug deep inside" in err
    assert "bug in nas-edge" in err and "report" in err


def test_main_keeps_expected_errors_to_one_line(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run_main(monkeypatch, capsys, "hardware", "show", "no-such-chip")
    assert code == 1 and err.startswith("error:") and len(err.strip().splitlines()) == 1
    code, err = _run_main(monkeypatch, capsys, "hardware", "frobnicate")
    assert code == 2 and "Traceback" not in err  # a usage error, from typer


@given(st.text(max_size=80), st.none() | st.integers(1, 20))
def test_first_line_is_one_nonempty_line_of_the_message(message: str, limit: int | None) -> None:
    from nas_edge.errors import first_line

    line = first_line(ValueError(message), limit)
    text = message.strip()
    assert line == (text.splitlines()[0] if text else "ValueError")[:limit]
    assert line and "\n" not in line

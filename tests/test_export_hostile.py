"""Study files and exports as input from whoever wrote them (issue 12): a study that names code to run, names
that carry HTML or Markdown into the reports."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from nas_edge.cli import app

EVIL_NAME = 'evil <img src=x onerror=alert(1)> <script>alert(2)</script> [click](javascript:alert(3)) *b* `c` |'
SMALL_SPACE = {"resolutions": [8], "max_depth": 1, "stem_widths": [8], "widths": [[8], [8, 16], [16]]}


@pytest.fixture
def marker_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module that leaves a marker file when it is imported and when its function runs."""
    marker = tmp_path / "ran"
    (tmp_path / "marker_data_mod.py").write_text(textwrap.dedent(f"""
        from pathlib import Path
        Path({str(marker)!r}).write_text("imported")

        def make():
            Path({str(marker)!r}).write_text("called")
            raise SystemExit(0)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("marker_data_mod", None)


@pytest.fixture
def tampered_study(tmp_path: Path) -> str:
    """A small study whose stored dataset was changed to ``marker_data_mod:make``, with a hostile study name."""
    from nas_edge.search import Objective, run_search

    url = f"sqlite:///{tmp_path / 's.db'}"
    obj = Objective("cnn", "neurosim-rram-22nm", "digits", objectives=("macs", "energy_uj"), space_options=SMALL_SPACE)
    study = run_search(objective=obj, n_trials=3, storage=url, study_name=EVIL_NAME, sampler="random", seed=1)
    meta = dict(study.user_attrs["nas_edge"])
    meta["data"] = {**meta["data"], "name": "marker_data_mod:make"}
    study.set_user_attr("nas_edge", meta)
    return url


def test_report_never_runs_code_named_by_the_study(tampered_study: str, marker_module: Path, tmp_path: Path):
    """Issue 12.3: ``report`` imported and called the stored ``module:function`` (``tempfile:mkdtemp`` made a
    directory; ``os:fork`` and ``code:interact`` worked too). It needs no data: the stored shapes do."""
    out = tmp_path / "report"
    r = CliRunner().invoke(app, ["report", "--storage", tampered_study, "--study-name", EVIL_NAME, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert not marker_module.exists()
    assert "marker_data_mod" not in sys.modules
    assert (out / "report.md").is_file() and (out / "report.json").is_file()


def test_export_refuses_code_named_by_the_study(tampered_study: str, marker_module: Path, tmp_path: Path):
    study = optuna.load_study(study_name=EVIL_NAME, storage=tampered_study)
    r = CliRunner().invoke(app, ["export", "--storage", tampered_study, "--study-name", EVIL_NAME, "--trial",
                                 str(study.best_trials[0].number), "--out", str(tmp_path / "x")])
    assert r.exit_code == 1, r.output
    assert "a study file cannot make nas-edge run code: give it yourself with --data" in r.stderr
    assert not marker_module.exists() and not (tmp_path / "x").exists()


def test_search_with_a_dataset_that_exits_0_is_an_error(marker_module: Path, tmp_path: Path):
    """Issue 12.12: a dataset function raising ``SystemExit(0)`` made ``search`` exit 0 silently."""
    r = CliRunner().invoke(app, ["search", "--data", "marker_data_mod:make", "--storage",
                                 f"sqlite:///{tmp_path / 's.db'}", "--no-progress", "--trials", "1"])
    assert r.exit_code == 1 and "the function raised SystemExit: 0" in r.stderr, r.output
    assert marker_module.read_text() == "called"  # the user's own --data does run


def _no_live_markup(md: str) -> None:
    assert "<img" not in md and "<script" not in md  # HTML from a name is text
    assert not re.search(r"(?<!\\)\]\(javascript:", md)  # no link: its brackets are escaped
    assert "*b*" not in md and "`c`" not in md


def test_study_report_markdown_escapes_names(tampered_study: str, tmp_path: Path):
    """Issue 12.17: report.md embedded raw HTML from names (the HTML report escaped them; Markdown did not)."""
    from nas_edge.export import study_report

    out = tmp_path / "r"
    study_report(tampered_study, EVIL_NAME, out)
    md = (out / "report.md").read_text()
    _no_live_markup(md)
    assert "evil &lt;img src=x onerror=alert(1)&gt;" in md and "\\[click\\](javascript:alert(3))" in md
    assert md.splitlines()[0].startswith("# Study report: evil")  # still one heading line


def test_export_report_markdown_escapes_names():
    from test_report import export_record

    from nas_edge.export.report import export_markdown

    rec = export_record()
    rec["name"] = EVIL_NAME
    rec["warnings"] = [EVIL_NAME]
    rec["source"]["study"] = EVIL_NAME
    rec["source"]["architecture_summary"] = "arch\n# injected heading"
    rec["hardware"][0]["name"] = EVIL_NAME
    rec["hardware"][0]["layers"][0]["name"] = "<b>layer</b>"
    md = export_markdown(rec)
    _no_live_markup(md)
    assert "<b>" not in md and "\n# injected heading" not in md


def test_md_escape():
    from nas_edge._text import md_escape

    assert md_escape("a <b> & *c* [d](e) `f` |g| _h_ \\ ~i~\nj") == \
        "a &lt;b&gt; &amp; \\*c\\* \\[d\\](e) \\`f\\` \\|g\\| \\_h\\_ \\\\ \\~i\\~ j"
    assert md_escape("see https://evil.example and www.evil.example") == \
        "see https:\\/\\/evil.example and www\\.evil.example"
    assert md_escape("neurosim-rram-22nm 1.5e-03 #3 (imc)") == "neurosim-rram-22nm 1.5e-03 #3 (imc)"


# -- a re-export and the user's files (issue 12.18) --------------------------------------------------------------


def _earlier_export(folder: Path) -> None:
    from test_report import export_record

    from nas_edge.export.report import write_export_report

    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"old model")
    write_export_report(folder, export_record())  # lists model.onnx among its files


def test_a_re_export_keeps_the_users_files(tmp_path: Path):
    """Re-exporting replaced trial-N/ whole: notes and results the user kept there were deleted."""
    from nas_edge.export._files import publish, staging

    out, dst = tmp_path / "out", tmp_path / "out" / "trial-3"
    _earlier_export(dst)
    (dst / "notes.md").write_text("my measurements on the board")
    (dst / "board-runs").mkdir()
    (dst / "board-runs" / "run1.csv").write_text("1,2\n")
    with staging(out) as tmp:
        (tmp / "trial-3").mkdir()
        (tmp / "trial-3" / "model.onnx").write_bytes(b"new model")
        (tmp / "trial-3" / "report.json").write_text("{}")
        publish(tmp / "trial-3", dst)
    assert (dst / "model.onnx").read_bytes() == b"new model"  # what nas-edge wrote is replaced
    assert not (dst / "report.html").exists()  # the earlier export's other files are gone
    assert (dst / "notes.md").read_text() == "my measurements on the board"
    assert (dst / "board-runs" / "run1.csv").read_text() == "1,2\n"
    assert sorted(p.name for p in out.iterdir()) == ["trial-3"]


def test_a_users_file_in_the_way_is_refused_before_training(tampered_study: str, tmp_path: Path):
    study = optuna.load_study(study_name=EVIL_NAME, storage=tampered_study)
    n = study.best_trials[0].number
    folder = tmp_path / "x" / f"trial-{n}"
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"the user's own model, no report beside it")
    r = CliRunner().invoke(app, ["export", "--storage", tampered_study, "--study-name", EVIL_NAME, "--trial", str(n),
                                 "--data", "digits", "--out", str(tmp_path / "x")])
    assert r.exit_code == 1 and "holds model.onnx, not written by nas-edge" in r.stderr, r.output
    assert (folder / "model.onnx").read_bytes() == b"the user's own model, no report beside it"
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [f"trial-{n}"]

"""Storages as an unlucky user meets them (issue 12): a torn journal record, a full disk mid-search, workers
creating one SQLite file together, passwords in error messages."""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas_edge.errors import mask_credentials
from nas_edge.search import SearchError, open_storage

EXE = str(Path(sys.executable).parent / "nas-edge")


def _fill(study: optuna.Study, n: int) -> None:
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=n)


def test_a_torn_journal_record_is_cut_off_before_the_rerun_appends(tmp_path, caplog):
    """Issue 12.2: a crash or a full disk left a partial last line (``truncate -s -37``); the rerun appended onto
    it and from then on every read failed (``Expecting ':' delimiter``): all finished trials were unreadable."""
    path = tmp_path / "j.log"
    study = optuna.create_study(study_name="s", storage=open_storage(str(path)))
    _fill(study, 4)
    values = [t.value for t in study.trials]
    whole = path.read_bytes()
    os.truncate(path, len(whole) - 37)
    torn = whole[whole.rstrip(b"\n").rfind(b"\n") + 1: len(whole) - 37]

    with caplog.at_level(logging.WARNING, logger="nas_edge.storage"):
        rerun = optuna.load_study(study_name="s", storage=open_storage(str(path)))
    assert "torn" in caplog.text and "j.log.torn-1" in caplog.text
    assert (tmp_path / "j.log.torn-1").read_bytes() == torn  # what was cut is kept
    assert path.read_bytes().endswith(b"\n")
    _fill(rerun, 2)

    fresh = optuna.load_study(study_name="s", storage=open_storage(str(path)))
    done = fresh.get_trials(states=(TrialState.COMPLETE,))
    assert [t.value for t in done[:3]] == values[:3]  # the trials before the torn record are all readable
    assert len(done) == 5  # the torn one (its 'complete' record was cut) stays unfinished; two new ones finished
    for line in path.read_bytes().splitlines():
        json.loads(line)


def test_a_torn_record_left_by_another_process_is_repaired_before_an_append(tmp_path):
    path = tmp_path / "j.log"
    storage = open_storage(str(path))
    study = optuna.create_study(study_name="s", storage=storage)
    _fill(study, 2)
    with open(path, "ab") as fh:  # a worker beside this one dies mid-write
        fh.write(b'{"op_code":5,"worker_id":"x","trial_id":1,"param')
    _fill(study, 1)  # the same open storage appends: the tail is checked under the lock first
    fresh = optuna.load_study(study_name="s", storage=open_storage(str(path)))
    assert len(fresh.get_trials(states=(TrialState.COMPLETE,))) == 3
    assert (tmp_path / "j.log.torn-1").read_bytes().startswith(b'{"op_code":5')


def test_open_storage_refuses_a_directory_for_a_journal(tmp_path):
    (tmp_path / "d.log").mkdir()
    with pytest.raises(SearchError, match="is a directory"):
        open_storage(str(tmp_path / "d.log"))


def _limited(max_bytes: int):
    """A child whose files cannot grow past ``max_bytes``: writes fail as on a full disk (EFBIG, not a signal)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["journal", "sqlite"])
def test_a_full_disk_mid_search_is_one_line_and_loses_nothing(tmp_path, backend):
    """Issues 12.2 and 12.13: a write that fails mid-search (full disk) gave Optuna's ``AssertionError: Should not
    reach`` and a traceback (exit 70). Now: one line, exit 1; the finished trials are kept; the rerun completes."""
    path = tmp_path / ("s.log" if backend == "journal" else "s.db")
    storage = str(path) if backend == "journal" else f"sqlite:///{path}"

    def search(trials: int, **kw):
        return subprocess.run([EXE, "search", "--storage", storage, "--trials", str(trials), "--objectives",
                               "params,energy_uj", "--sampler", "random", "--no-progress"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=600, check=False, **kw)

    assert search(2).returncode == 0
    full = search(30, preexec_fn=_limited(path.stat().st_size + 3000))
    assert full.returncode == 1, full.stderr[-2000:]
    assert "Traceback" not in full.stderr
    errors = [line for line in full.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and ("journal" in errors[0] or "storage" in errors[0]), full.stderr
    study = optuna.load_study(study_name="nas-edge", storage=open_storage(storage))
    kept = len(study.get_trials(states=(TrialState.COMPLETE,)))
    assert kept >= 2
    rerun = search(kept + 2)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    study = optuna.load_study(study_name="nas-edge", storage=open_storage(storage))
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == kept + 2


OPEN_AND_CREATE = """
import sys, optuna
from nas_edge.search import open_storage
optuna.logging.set_verbosity(optuna.logging.ERROR)
optuna.create_study(study_name="s", storage=open_storage(sys.argv[1]), load_if_exists=True)
"""


@pytest.mark.slow
def test_workers_creating_one_sqlite_file_together_all_start(tmp_path):
    """Issue 12.4: three workers on a fresh SQLite file: 1-2 died with ``UNIQUE constraint failed:
    alembic_version.version_num`` (6 of 6 runs). The creation race is retried as on a server."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_AND_CREATE, url], stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e[-600:] for e in errs]


SECRET = "s3cr3t-pw"
URL = f"postgresql+psycopg2://nas:{SECRET}@127.0.0.1:1/nas"


def test_mask_credentials():
    assert mask_credentials(f"cannot open {URL!r}") == "cannot open 'postgresql+psycopg2://nas:***@127.0.0.1:1/nas'"
    assert mask_credentials(f"host=db password={SECRET} user=x") == "host=db password=*** user=x"
    assert mask_credentials("password='two words' x") == "password=*** x"
    assert mask_credentials(f"mysql://u:{SECRET}@h/db?password={SECRET}&x=1") == "mysql://u:***@h/db?password=***&x=1"
    assert mask_credentials("postgresql://user@host/db and sqlite:///a:b@c.db") == \
        "postgresql://user@host/db and sqlite:///a:b@c.db"


def test_open_storage_error_hides_the_password():
    """Issue 12.15: the storage password was printed in 'cannot open storage' errors."""
    with pytest.raises(SearchError) as info:
        open_storage(URL)
    assert SECRET not in str(info.value) and "nas:***@127.0.0.1" in str(info.value)


@pytest.mark.parametrize("command", [["search", "--trials", "1", "--objectives", "params,energy_uj"],
                                     ["export", "--out", "x"], ["report", "--out", "x"]])
def test_no_command_prints_the_storage_password(tmp_path, command):
    r = subprocess.run([EXE, *command, "--storage", URL], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       check=False)
    assert r.returncode == 1, r.stderr
    assert SECRET not in r.stdout + r.stderr
    assert "***" in r.stderr and "Traceback" not in r.stderr

"""Where a study is stored: an Optuna storage from a URL, opened so that concurrent workers, crashes and full
disks lose nothing.

- a journal file (``*.log`` / ``*.jsonl`` / ``journal:PATH``), for many processes on one machine: a torn last
  record (a crash or a full disk mid-write) is cut off before the file is read or appended to, and kept in
  ``PATH.torn-N`` beside it; an append that fails is undone and reported as one line;
- SQLite (WAL mode, a 60 s lock timeout), for one machine; workers that create the file together retry;
- any other SQLAlchemy URL (PostgreSQL, MySQL), for many machines: workers beat (:mod:`nas_edge.workers`).

Messages never show a URL's password (:func:`nas_edge.errors.mask_credentials`); :func:`storage_errors`
turns a storage's failure mid-search (a full disk, a lost server) into one line.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend

from nas_edge._io import write_atomic
from nas_edge.errors import first_line, mask_credentials
from nas_edge.search.errors import SearchError

DEFAULT_STORAGE = "sqlite:///nas_edge.db"
_log = logging.getLogger("nas_edge.storage")


class StorageError(SearchError):
    """The study's storage cannot be opened, read or written (full disk, lost server): one line."""


def is_journal_url(url: str) -> bool:
    """A journal file: ``journal:PATH`` or a path ending in ``.log`` / ``.jsonl``."""
    return url.startswith("journal:") or url.endswith((".log", ".jsonl"))


class JournalFile(JournalFileBackend):
    """Optuna's journal file backend, kept whole.

    Optuna skips a last line without its newline, but the next append lands on it and makes one unreadable
    line, after which every read fails (``Expecting ':' delimiter``). Here, under the journal's own lock, the
    file is repaired before it is first read and before every append: bytes after the last newline are moved
    to ``PATH.torn-N``. An append that fails (``OSError``: a full disk) is cut back off and raised as a
    :class:`StorageError`; every record written before it stays readable.
    """

    def __init__(self, file_path: str, lock_obj: Any = None) -> None:
        super().__init__(file_path, lock_obj)
        try:
            with self._locked():
                self.repair()
        except OSError:  # a read-only journal (report, export): reading skips a torn tail as Optuna does
            pass

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        from optuna.storages.journal._file import get_lock_file

        with get_lock_file(self._lock):
            yield

    def repair(self) -> Path | None:
        """Cut a torn last record off (call with the lock held); returns the file it was kept in, if any."""
        path = Path(self._file_path)
        with open(path, "rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return None
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return None
            cut, pos = 0, size
            while pos > 0:  # the last newline, read backwards in blocks
                start = max(0, pos - (1 << 16))
                fh.seek(start)
                i = fh.read(pos - start).rfind(b"\n")
                if i >= 0:
                    cut = start + i + 1
                    break
                pos = start
            fh.seek(cut)
            torn = fh.read()
            backup = _free_name(path)
            write_atomic(backup, torn)
            fh.truncate(cut)
            fh.flush()
            os.fsync(fh.fileno())
        _log.warning(f"journal {path}: its last record was torn ({len(torn)} bytes without an end, from a crash "
                     f"or a full disk); cut off and kept in {backup.name}. Every whole record is kept.")
        return backup

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        import json

        data = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode("utf-8")
        with self._locked():
            self.repair()
            size = os.path.getsize(self._file_path)
            try:
                with open(self._file_path, "ab") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.truncate(self._file_path, size)  # no torn record left behind
                raise StorageError(f"cannot write to journal {self._file_path}: {exc.strerror or exc}; the "
                                   "record being written was not stored, every earlier one is kept") from None


def _free_name(path: Path) -> Path:
    n = 1
    while (found := path.with_name(f"{path.name}.torn-{n}")).exists():
        n += 1
    return found


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (optuna-dashboard) do not block the writer
    cur.execute("PRAGMA synchronous=NORMAL")  # commit without fsync; durable across a crashed process
    cur.close()


def open_storage(url: str | optuna.storages.BaseStorage | None) -> optuna.storages.BaseStorage | None:
    """An Optuna storage from a URL: RDB URLs (SQLite gets WAL mode and a 60 s lock timeout), or a journal
    file (``*.log`` / ``*.jsonl`` / ``journal:PATH``) for many processes on one machine. ``None`` = memory."""
    if url is None or isinstance(url, optuna.storages.BaseStorage):
        return url
    url = str(url)
    shown = mask_credentials(repr(url))
    try:
        if is_journal_url(url):
            path = Path(url.removeprefix("journal:"))
            if not path.parent.is_dir():
                raise StorageError(f"cannot open storage {shown}: directory {str(path.parent)!r} does not exist")
            if path.is_dir():
                raise StorageError(f"cannot open storage {shown}: it is a directory")
            return optuna.storages.JournalStorage(JournalFile(str(path)))
        if "://" not in url:
            raise StorageError(f"cannot open storage {shown}: expected a database URL such as "
                               f"{DEFAULT_STORAGE} or a journal file ending in .log")
        from nas_edge.workers import create_rdb_storage, heartbeat_storage

        if url.startswith("sqlite:"):
            db = url.split(":///", 1)[1] if ":///" in url else ""
            if db and db != ":memory:" and not Path(db).expanduser().parent.is_dir():
                raise StorageError(f"cannot open storage {shown}: directory {str(Path(db).parent)!r} does not exist")
            storage = create_rdb_storage(url, engine_kwargs={"connect_args": {"timeout": 60}})
            from sqlalchemy import event

            event.listen(storage.engine, "connect", _sqlite_pragmas)
            storage.engine.dispose()  # reconnect with the pragmas
            return storage
        return heartbeat_storage(url)  # a server shared by many machines: workers beat
    except SearchError:
        raise
    except Exception as exc:  # the driver's or SQLAlchemy's error for a URL it cannot open: one line
        msg = _first_line(exc)
        if _missing_driver(exc):
            scheme = url.split("://", 1)[0]
            msg = "its database driver is not installed: " + (
                'pip install "nas-edge[postgres]"' if scheme.startswith("postgresql")
                else f"install the Python driver that SQLAlchemy uses for {scheme}://")
        raise StorageError(f"cannot open storage {shown}: {msg}") from None


def _missing_driver(exc: BaseException) -> bool:
    """Whether opening a storage failed because the database driver module cannot be imported (Optuna wraps
    SQLAlchemy's ImportError in its own message)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ImportError) or "Failed to import DB access module" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _first_line(exc: BaseException) -> str:
    return mask_credentials(first_line(getattr(exc, "orig", None) or exc))


@contextlib.contextmanager
def storage_errors(url: Any) -> Iterator[None]:
    """Turn a storage's failure while a study runs (SQLite's full disk, a lost database server, a journal
    that cannot be written) into one :class:`StorageError` line naming the storage, without its password.

    Optuna can hide the storage's error behind an ``AssertionError`` of its own (a trial that could not be
    told); the chain of causes is searched."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except Exception as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, (StorageError, SQLAlchemyError)):
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, StorageError):
            raise cause from None
        if cause is None:
            raise
        where = mask_credentials(repr(url)) if isinstance(url, str) else "the study's storage"
        raise StorageError(f"storage {where} failed: {_first_line(cause)}; every finished trial is kept, rerun "
                           "the same command to resume") from None

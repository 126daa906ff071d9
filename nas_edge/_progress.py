"""Progress of the long steps inside one call — the epochs of a training, the chips of an analog simulation,
the trials of an export — for whoever shows it.

Code doing the work calls :func:`report` (nearly free while nobody listens); a front end (the search's progress
bar, the export's log lines) listens for the duration of a call with :func:`listening`. Listeners are global,
not per thread, so that a step reported in a worker thread (``study.optimize(n_jobs=...)``) is seen too.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """``done`` of ``total`` units of ``task`` finished (``total`` ``None``: unknown); ``detail`` a short note."""

    task: str
    done: int
    total: int | None = None
    detail: str = ""

    def __str__(self) -> str:
        count = f"{self.done}/{self.total}" if self.total is not None else str(self.done)
        return f"{self.task} {count}" + (f" ({self.detail})" if self.detail else "")


Listener = Callable[[Step], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def report(task: str, done: int, total: int | None = None, detail: str = "") -> None:
    """Tell every listener that ``done`` of ``total`` units of ``task`` are finished."""
    if not _listeners:
        return
    step = Step(task, done, total, detail)
    for listener in tuple(_listeners):
        listener(step)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call ``listener(step)`` for every step reported while inside."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


__all__ = ["Step", "listening", "report"]

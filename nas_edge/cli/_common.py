"""Shared CLI helpers: consoles, the error type and the one rule for showing errors, atomic file output.

Every command is registered through :class:`App`, whose commands print an expected failure — any
:class:`~nas_edge.errors.NasEdgeError`, or an ``OSError`` from the file system — as one ``error:`` line and
exit with its code (1; usage errors 2, from typer); Ctrl-C is one ``interrupted`` line and exit code 130.
Anything else is a bug: :func:`nas_edge.cli.main` shows its traceback and asks for a report (exit code
:data:`BUG_EXIT_CODE`). Every message has its passwords masked (:func:`~nas_edge.errors.mask_credentials`).

A string from the user or from a file — a name, a path, a message — is printed through :func:`shown` (rich
markup) or :func:`printable` (plain output): markup such as ``[/]`` or ``[link=...]`` stays text, and control
characters (ANSI escapes, newlines) are shown as ``\\xNN`` instead of reaching the terminal.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from nas_edge._io import write_atomic
from nas_edge._text import printable
from nas_edge.errors import NasEdgeError, mask_credentials

console = Console()
err_console = Console(stderr=True)
BUG_EXIT_CODE = 70  # EX_SOFTWARE (sysexits.h): an internal error, not the user's input
INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C
DEVICE_HELP = "auto (CUDA when available), cpu, cuda, cuda:N or mps"
F = TypeVar("F", bound=Callable[..., Any])


class CLIError(NasEdgeError):
    """A user-facing error found by the command line itself (conflicting flags, ...): one line, ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, exit_code: int = 1) -> NoReturn:
    """Stop the command with one error line (raises :class:`CLIError`)."""
    raise CLIError(message, exit_code)


def shown(value: Any) -> str:
    """A user's or a file's string (name, path, message) for rich output: printable, markup escaped."""
    return escape(printable(value))


def error_line(exc: BaseException) -> str:
    """The one line shown for an expected failure, passwords masked."""
    if isinstance(exc, OSError) and not isinstance(exc, NasEdgeError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return mask_credentials(f"{where}{exc.strerror}")
    text = (getattr(exc, "cli_message", None) or str(exc)).strip()  # the library's message in the CLI's words
    return mask_credentials(text.splitlines()[0] if text else type(exc).__name__)


RICH_MIN_WIDTH = 100


def wide_terminal(min_width: int = RICH_MIN_WIDTH) -> bool:
    """Whether stdout is a terminal at least ``min_width`` columns wide: rich tables there, compact plain text
    otherwise (pipes, files, CI logs, narrow windows), so that no table is squeezed to a few characters a line."""
    return console.is_terminal and console.width >= min_width


def print_error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {shown(mask_credentials(message))}", soft_wrap=True, highlight=False)


def print_interrupted() -> None:
    err_console.print("[bold red]interrupted[/] (Ctrl-C)", soft_wrap=True, highlight=False)


class _DropFailures(logging.Filter):
    """Drops Optuna's two records of a trial failed by one of ``types``: the error with its traceback, and the
    ``Trial N failed with value None.`` that follows it."""

    def __init__(self, types: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.types = types
        self.dropped: set[str] = set()  # "Trial N " prefixes whose traceback was dropped

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        message = record.getMessage()
        prefix = message.split("failed", 1)[0]
        if isinstance(exc, self.types):
            self.dropped.add(prefix)
            return False
        if prefix in self.dropped and "failed with value" in message:
            self.dropped.discard(prefix)
            return False
        return True


@contextlib.contextmanager
def quiet_optuna_failures(*types: type[BaseException]) -> Iterator[None]:
    """Drop Optuna's log of a trial that failed with one of ``types`` (its traceback): the command says
    what happened in its own words."""
    drop = _DropFailures(types)
    logger = logging.getLogger("optuna")
    logger.addFilter(drop)
    for handler in logger.handlers:
        handler.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)
        for handler in logger.handlers:
            handler.removeFilter(drop)


def one_line_errors(command: F) -> F:
    """Wrap a command: an expected failure becomes one ``error:`` line and its exit code; Ctrl-C exit code 130."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (NasEdgeError, OSError) as exc:
            print_error(error_line(exc))
            raise typer.Exit(getattr(exc, "exit_code", 1)) from None
        except KeyboardInterrupt:
            print_interrupted()
            raise typer.Exit(INTERRUPTED_EXIT_CODE) from None

    return run  # type: ignore[return-value]


class App(typer.Typer):
    """A ``typer.Typer`` whose commands show expected failures as one line (:func:`one_line_errors`)."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        register = super().command(*args, **kwargs)

        def decorator(fn: F) -> F:
            register(one_line_errors(fn))
            return fn

        return decorator


__all__ = ["BUG_EXIT_CODE", "INTERRUPTED_EXIT_CODE", "App", "CLIError", "console", "err_console", "error_line", "fail",
           "one_line_errors", "print_error", "printable", "quiet_optuna_failures", "shown", "wide_terminal",
           "write_atomic"]

"""Shared CLI helpers: consoles, the error type and the one rule for showing errors, atomic file output.

Every command is registered through :class:`App`, whose commands print an expected failure — any
:class:`~nas_edge.errors.NasEdgeError`, or an ``OSError`` from the file system — as one ``error:`` line and
exit with its code (1; usage errors 2, from typer). Anything else is a bug: :func:`nas_edge.cli.main` shows
its traceback and asks for a report (exit code :data:`BUG_EXIT_CODE`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from nas_edge._io import write_atomic
from nas_edge.errors import NasEdgeError

console = Console()
err_console = Console(stderr=True)
BUG_EXIT_CODE = 70  # EX_SOFTWARE (sysexits.h): an internal error, not the user's input
F = TypeVar("F", bound=Callable[..., Any])


class CLIError(NasEdgeError):
    """A user-facing error found by the command line itself (conflicting flags, ...): one line, ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, exit_code: int = 1) -> NoReturn:
    """Stop the command with one error line (raises :class:`CLIError`)."""
    raise CLIError(message, exit_code)


def error_line(exc: BaseException) -> str:
    """The one line shown for an expected failure."""
    if isinstance(exc, OSError) and not isinstance(exc, NasEdgeError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def print_error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)


def one_line_errors(command: F) -> F:
    """Wrap a command: an expected failure becomes one ``error:`` line and its exit code."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (NasEdgeError, OSError) as exc:
            print_error(error_line(exc))
            raise typer.Exit(getattr(exc, "exit_code", 1)) from None

    return run  # type: ignore[return-value]


class App(typer.Typer):
    """A ``typer.Typer`` whose commands show expected failures as one line (:func:`one_line_errors`)."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        register = super().command(*args, **kwargs)

        def decorator(fn: F) -> F:
            register(one_line_errors(fn))
            return fn

        return decorator


__all__ = ["BUG_EXIT_CODE", "App", "CLIError", "console", "err_console", "error_line", "fail", "one_line_errors",
           "print_error", "write_atomic"]

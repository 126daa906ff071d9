"""Shared CLI helpers: consoles, the error type, atomic file output."""

from __future__ import annotations

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


class CLIError(Exception):
    """A user-facing error: printed as one line, exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, exit_code: int = 1) -> None:
    """Print one error line to stderr and exit (for use inside typer commands)."""
    import typer
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(exit_code)


from nas_edge._io import write_atomic  # noqa: E402  (re-exported for commands)

__all__ = ["CLIError", "console", "err_console", "fail", "write_atomic"]

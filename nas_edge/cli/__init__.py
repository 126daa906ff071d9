"""The ``nas-edge`` command line: thin typer commands that parse, call the library and print.

Each command group lives in its own module and imports heavy libraries (torch, onnx) inside its commands,
so that ``nas-edge --help`` stays instant.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from nas_edge.cli import hardware
from nas_edge.cli._common import CLIError, console, err_console

app = typer.Typer(
    name="nas-edge",
    help="Hardware-aware neural architecture search for in-memory-computing accelerators and edge devices.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(hardware.app, name="hardware")

# Command modules of later features register themselves here (each one thin, heavy imports inside).
for _module in ("profile", "search", "export", "supernet"):
    try:
        __import__(f"nas_edge.cli.{_module}")
        sys.modules[f"nas_edge.cli.{_module}"].register(app)
    except ModuleNotFoundError as exc:  # feature not present in this build
        if exc.name != f"nas_edge.cli.{_module}":
            raise


def main() -> None:
    """Console-script entry point: one readable message and a non-zero exit on errors, no traceback."""
    try:
        app()
    except CLIError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
        sys.exit(exc.exit_code)


__all__ = ["CLIError", "app", "console", "main"]

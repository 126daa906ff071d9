"""The ``nas-edge`` command line: thin typer commands that parse, call the library and print.

Each command group lives in its own module and imports heavy libraries (torch, onnx) inside its commands,
so that ``nas-edge --help`` stays instant. Errors: an expected failure (:class:`nas_edge.errors.NasEdgeError`)
is one ``error:`` line and exit code 1 (2 for usage errors); Ctrl-C exits with 130; anything else is a bug,
shown with its traceback and a request to report it (exit code 70). Passwords are masked in all of them.
"""

from __future__ import annotations

import sys
import traceback

from nas_edge.cli import bench, export, hardware, profile, search, supernet
from nas_edge.cli._common import (
    BUG_EXIT_CODE,
    INTERRUPTED_EXIT_CODE,
    App,
    CLIError,
    console,
    err_console,
    error_line,
    print_error,
    print_interrupted,
)
from nas_edge.errors import NasEdgeError, mask_credentials

app = App(
    name="nas-edge",
    help="Hardware-aware neural architecture search for in-memory-computing accelerators and edge devices.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(hardware.app, name="hardware")
for _module in (profile, search, export, bench, supernet):
    _module.register(app)

BUG_REPORT = ("this is a bug in nas-edge, not a problem with your input: please report it to the nas-edge "
              "maintainers with the command you ran and the traceback above")


def main() -> None:
    """Console-script entry point: expected failures are one line; a bug shows its traceback."""
    try:
        app()
    except (NasEdgeError, OSError) as exc:  # raised outside a command's own handling
        print_error(error_line(exc))
        sys.exit(getattr(exc, "exit_code", 1))
    except KeyboardInterrupt:
        print_interrupted()
        sys.exit(INTERRUPTED_EXIT_CODE)
    except Exception:
        sys.stderr.write(mask_credentials(traceback.format_exc()))
        err_console.print(f"[bold red]nas-edge:[/] {BUG_REPORT}", soft_wrap=True, highlight=False)
        sys.exit(BUG_EXIT_CODE)


__all__ = ["BUG_EXIT_CODE", "CLIError", "app", "console", "main"]

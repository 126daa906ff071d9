"""The root of every expected failure in nas-edge.

Each room raises its own subclass (``ProfileError``, ``WorkloadError``, ``OnnxError``, ``SpaceError``,
``DataError``, ``AnalogConfigError``, ``SearchError``, ``ExportError`` ...), whose ``str()`` is one line
naming the file, field or option and what was expected. The command line prints any :class:`NasEdgeError`
as ``error: <message>`` and exits with :attr:`~NasEdgeError.exit_code`; any other exception is a bug and is
shown with its traceback. Catch :class:`NasEdgeError` to handle every expected failure of the library.

Misuse of the Python API itself (a negative batch passed to a function, a wrong type) still raises the
built-in ``ValueError`` / ``TypeError``; most subclasses here also derive from ``ValueError`` for code that
caught that before the root existed.
"""

from __future__ import annotations

import re


class NasEdgeError(Exception):
    """An expected failure (bad input, a failed check, an output that cannot be written): one line for the user."""

    exit_code: int = 1
    """The command line's exit status for this error (1; 2 is a usage error)."""
    cli_message: str | None = None
    """The same message in the command line's words (``--input-shape x=1x3``, where ``str()`` says
    ``input_shapes={'x': (1, 3)}``); the command line prints it instead of ``str()`` when set."""

    def for_cli(self, message: str) -> NasEdgeError:
        """Set :attr:`cli_message` and return the error (``raise SomeError(python_words).for_cli(cli_words)``)."""
        self.cli_message = message
        return self


_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][\w+.-]*://[^\s:/@'\"]*:)[^\s'\"]*@")  # to the token's last @
_KEY_PASSWORD = re.compile(r"(?P<head>\b(?:password|passwd|pwd)\s*=\s*)(?:'[^']*'|\"[^\"]*\"|[^\s&;,)]+)", re.I)


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of ``exc``'s message (at most ``limit`` characters), or its type's name when it has none:
    how another library's error is quoted inside one of nas-edge's one-line messages."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if limit is None else line[:limit]


def mask_credentials(text: str) -> str:
    """``text`` with the passwords of URLs (``scheme://user:SECRET@host``) and of ``password=SECRET`` pairs
    replaced by ``***``: every message that may show a storage URL or a driver's error goes through this."""
    text = _URL_PASSWORD.sub(r"\g<head>***@", str(text))
    return _KEY_PASSWORD.sub(r"\g<head>***", text)

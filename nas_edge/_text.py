"""Text from users and files made safe for what nas-edge prints and writes (terminal and plain text, Markdown)."""

from __future__ import annotations

import re
from typing import Any

_MD_PUNCT = re.compile(r"([\\`*_\[\]|~])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def md_escape(value: Any) -> str:
    """``str(value)`` as literal Markdown text on one line: HTML (``<script>``, ``<img onerror=...>``) becomes
    entities, emphasis, code, link and table syntax is backslash-escaped, bare URLs do not turn into links,
    and control characters (newlines included) become spaces."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_PUNCT.sub(r"\\\1", text).replace("://", r":\/\/").replace("www.", r"www\.")
    return _CONTROL.sub(" ", text)


_SHOWN_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SHOWN_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def printable(value: Any, *, keep_newlines: bool = False) -> str:
    """``str(value)`` with control characters (ANSI escapes, newlines unless kept, tabs) shown as ``\\xNN``."""
    pattern = _SHOWN_CONTROL_BUT_NEWLINE if keep_newlines else _SHOWN_CONTROL
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))

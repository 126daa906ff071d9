"""Text from users and files made safe for the documents nas-edge writes (Markdown reports)."""

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

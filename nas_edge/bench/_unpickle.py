"""A restricted unpickler: the data files are read without importing (or executing) anything.

``find_class`` is the only way a pickle can reach code; here it returns plain stand-in classes for the few
names a file is known to need and refuses every other name, so a crafted file fails before it can run
anything (and files are checksummed before they get here: :mod:`nas_edge.bench.data`).
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping
from typing import Any


class Record:
    """Stand-in for a class of a data package: only its attributes (``vars(record)``)."""

    def __repr__(self) -> str:
        return f"Record({vars(self)!r})"


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickle with ``allowed`` ``{(module, name): stand_in_class}``; any other global is refused."""

    def __init__(self, data: bytes, allowed: Mapping[tuple[str, str], type]) -> None:
        super().__init__(io.BytesIO(data))
        self._allowed = dict(allowed)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} (not a known data class)") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing a persistent id")


def restricted_loads(data: bytes, allowed: Mapping[tuple[str, str], type] | None = None) -> Any:
    return RestrictedUnpickler(data, allowed or {}).load()

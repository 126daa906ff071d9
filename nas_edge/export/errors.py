"""Errors of the export pipeline: each carries one readable line for the user."""

from __future__ import annotations

from nas_edge.errors import NasEdgeError


class ExportError(NasEdgeError):
    """An export that cannot go on (bad input, a failed check); ``str()`` is one line for the user."""


class ParityError(ExportError):
    """ONNX Runtime's outputs differ from PyTorch's beyond the tolerance."""


class TrialSelectionError(ExportError):
    """An unknown study or trial, a trial that failed or was pruned, a bad objective name."""


class OutputError(ExportError):
    """The output folder cannot be created or written."""

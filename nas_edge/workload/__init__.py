"""Workload: the table of compute ops that every cost estimate reads."""

from nas_edge.workload.table import (
    COLUMNS,
    MAX_COUNT,
    STATIC_KINDS,
    DimensionError,
    OpKind,
    Workload,
    WorkloadError,
    layer_row,
)

__all__ = ["COLUMNS", "MAX_COUNT", "STATIC_KINDS", "DimensionError", "OpKind", "Workload", "WorkloadError", "layer_row"]

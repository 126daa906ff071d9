"""Workload: the table of compute ops that every cost estimate reads."""

from nas_edge.workload.table import COLUMNS, STATIC_KINDS, OpKind, Workload, WorkloadError, layer_row

__all__ = ["COLUMNS", "STATIC_KINDS", "OpKind", "Workload", "WorkloadError", "layer_row"]

"""IMC and edge cost model: Numba kernels over Workload arrays."""

from nas_edge.cost.estimate import (
    TOTAL_NAMES,
    BatchCost,
    Cost,
    PackedWorkloads,
    estimate,
    estimate_batch,
    pack_profiles,
)
from nas_edge.cost.layout import ENERGY_COMPONENTS, LAYER_FIELDS
from nas_edge.cost.values import CalibrationDataError, ValueTrace, trace_onnx

__all__ = ["ENERGY_COMPONENTS", "LAYER_FIELDS", "TOTAL_NAMES", "BatchCost", "CalibrationDataError", "Cost",
           "PackedWorkloads", "ValueTrace", "estimate", "estimate_batch", "pack_profiles", "trace_onnx"]

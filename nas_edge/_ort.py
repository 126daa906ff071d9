"""The one ONNX Runtime session set-up of nas-edge: CPU provider only, fixed threads, sequential execution.

Latency measured on the export side and the micro-benchmarks of ``nas-edge hardware calibrate`` must run
under the same session options, or the calibrated profile and the measurement it is compared with disagree.
Imports onnxruntime when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def cpu_session(model: bytes | str | Path, threads: int = 1) -> Any:
    """An ``onnxruntime.InferenceSession`` of ``model`` (file path or serialised bytes): the CPU execution
    provider, ``threads`` intra-op threads, one inter-op thread, sequential execution, all graph
    optimisations, warnings silenced."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(model) if isinstance(model, Path) else model, opts,
                                providers=["CPUExecutionProvider"])

"""INT8 quantisation with ONNX Runtime: static QDQ calibrated on the dataset, or dynamic for transformers."""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from nas_edge.export.errors import ExportError


class ArrayCalibrationReader(CalibrationDataReader):
    """Feeds ``x`` to the calibrator in batches under the model's input name (the dataset, not random data)."""

    def __init__(self, x: np.ndarray, input_name: str, batch_size: int = 64) -> None:
        self.x, self.name, self.batch_size = x, input_name, batch_size
        self._i = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._i >= len(self.x):
            return None
        batch = self.x[self._i:self._i + self.batch_size]
        self._i += self.batch_size
        return {self.name: batch}

    def rewind(self) -> None:
        self._i = 0


@contextlib.contextmanager
def _quiet() -> Any:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def quantize_int8(src: Path, dst: Path, *, method: str, calibration: np.ndarray | None, input_name: str,
                  scratch: Path) -> dict[str, Any]:
    """Write the INT8 model ``dst`` from fp32 ``src``: ``method`` is ``"static"`` (QDQ, per-channel weights,
    MinMax calibration on ``calibration``) or ``"dynamic"`` (weights INT8, activations quantised at run time)."""
    t0 = time.perf_counter()
    pre = scratch / f"{src.stem}.preprocessed.onnx"
    try:
        with _quiet():
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=False)
            if method == "static":
                if calibration is None or len(calibration) == 0:
                    raise ExportError("static INT8 quantisation needs calibration inputs")
                quantize_static(str(pre), str(dst), ArrayCalibrationReader(calibration, input_name),
                                quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                                weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
            elif method == "dynamic":
                quantize_dynamic(str(pre), str(dst), weight_type=QuantType.QInt8, per_channel=True)
            else:
                raise ExportError(f"unknown quantisation method {method!r}; expected 'static' or 'dynamic'")
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(f"INT8 quantisation ({method}) failed: {type(exc).__name__}: "
                          f"{str(exc).strip()[:300]}") from exc
    out: dict[str, Any] = {"method": method, "seconds": time.perf_counter() - t0,
                           "weight_type": "int8", "per_channel": True}
    if method == "static":
        out.update(format="QDQ", activation_type="uint8", calibration="MinMax",
                   calibration_samples=len(calibration) if calibration is not None else 0)
    else:
        out.update(format="QOperator (dynamic)", activation_type="uint8 (computed at run time)")
    return out

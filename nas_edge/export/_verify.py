"""torch -> ONNX (dynamo exporter), ONNX checks, ONNX Runtime parity and latency. Imports torch/onnx/ORT."""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from nas_edge._ort import cpu_session
from nas_edge.export.errors import ExportError, ParityError

INPUT_NAME = "input"
OUTPUT_NAME = "logits"


class Preprocess(nn.Module):
    """Bakes the training normalisation ``(x - mean) / std`` into the exported graph: the file takes raw inputs."""

    def __init__(self, model: nn.Module, mean: float, std: float) -> None:
        super().__init__()
        self.model = model
        self.mean, self.std = float(mean), float(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the exporter's progress prints, deprecation warnings and 'torchvision is not installed' logs."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lv in zip(loggers, levels, strict=True):
            lg.setLevel(lv)


def export_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> dict[str, Any]:
    """Export with the dynamo exporter, batch axis dynamic; return opset (read back from the file) and timing."""
    model.eval()
    if example.shape[0] < 2:  # torch.export specialises size-1 dimensions: trace with a batch of two
        example = torch.cat([example, example])
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    t0 = time.perf_counter()
    try:
        with quiet():
            program = torch.onnx.export(model, (example,), dynamo=True, dynamic_shapes=({0: batch},),
                                        input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], external_data=False)
            if program is None:  # pragma: no cover - dynamo=True always returns a program
                raise ExportError("torch.onnx.export returned no program")
            program.save(str(path), external_data=False)
    except ExportError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ExportError(f"torch.onnx.export (dynamo) failed: {type(exc).__name__}: {first}") from exc
    seconds = time.perf_counter() - t0
    proto = onnx.load(str(path), load_external_data=False)
    opsets = {(o.domain or "ai.onnx"): int(o.version) for o in proto.opset_import}
    return {"seconds": seconds, "opset": opsets.get("ai.onnx"), "opset_import": opsets,
            "ir_version": int(proto.ir_version), "producer": f"{proto.producer_name} {proto.producer_version}".strip()}


def _shape(vi: Any) -> list[int | str | None]:
    dims = []
    for d in vi.type.tensor_type.shape.dim:
        dims.append(int(d.dim_value) if d.HasField("dim_value") else (d.dim_param or None))
    return dims


def _tensor(vi: Any) -> dict[str, Any]:
    elem = vi.type.tensor_type.elem_type
    return {"name": vi.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(elem).name if elem else None,
            "shape": _shape(vi)}


def check_onnx(path: Path) -> dict[str, Any]:
    """``onnx.checker`` full check and strict shape inference; the graph's I/O, operators and parameters."""
    t0 = time.perf_counter()
    try:
        onnx.checker.check_model(str(path), full_check=True)
        proto = onnx.load(str(path))
        inferred = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True, data_prop=True)
    except Exception as exc:
        raise ExportError(f"{path.name}: ONNX check failed: {type(exc).__name__}: {str(exc).strip()[:300]}") from exc
    known = {vi.name for vi in (*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input)
             if vi.type.tensor_type.HasField("shape")}
    inits = {t.name for t in inferred.graph.initializer}
    outputs = [o for n in inferred.graph.node for o in n.output if o]
    unknown = sorted(o for o in outputs if o not in known and o not in inits)
    ops = Counter(f"{n.domain}::{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type
                  for n in inferred.graph.node)
    params = int(sum(int(np.prod(t.dims)) for t in inferred.graph.initializer))
    return {
        "checker": "onnx.checker.check_model(full_check=True)",
        "shape_inference": {"strict": True, "tensors": len(outputs), "unknown_shapes": unknown},
        "inputs": [_tensor(vi) for vi in inferred.graph.input if vi.name not in inits],
        "outputs": [_tensor(vi) for vi in inferred.graph.output],
        "operators": dict(sorted(ops.items())),
        "initializer_params": params,
        "seconds": time.perf_counter() - t0,
    }


def session(path: Path | str, threads: int = 1) -> ort.InferenceSession:
    """An ORT session on the CPU provider only, with fixed threads and sequential execution."""
    return cpu_session(Path(path), threads)


def run_ort(sess: ort.InferenceSession, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i:i + batch_size]})[0] for i in range(0, len(x), batch_size)])


@torch.inference_mode()
def run_torch(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    model.eval()
    return np.concatenate([model(torch.from_numpy(x[i:i + batch_size])).float().numpy()
                           for i in range(0, len(x), batch_size)])


def parity(reference: np.ndarray, candidate: np.ndarray, atol: float, *, label: str) -> dict[str, Any]:
    """Max abs difference between two output arrays; :class:`ParityError` above ``atol``."""
    if reference.shape != candidate.shape:
        raise ParityError(f"{label}: output shape {candidate.shape} differs from PyTorch's {reference.shape}")
    diff = float(np.max(np.abs(reference.astype(np.float64) - candidate.astype(np.float64)))) if reference.size else 0.0
    if not np.isfinite(diff) or diff > atol:
        raise ParityError(f"{label}: parity check failed: max |ONNX Runtime - PyTorch| = {diff:.3e} over "
                          f"{len(reference)} validation inputs, above the fp32 tolerance {atol:.0e}")
    return {"samples": len(reference), "max_abs_diff": diff, "atol": atol, "passed": True}


def measure(fn: Callable[[], Any], *, warmup: int, runs: int, max_seconds: float = 10.0) -> dict[str, Any]:
    """Warm up, then time ``runs`` calls (fewer if ``max_seconds`` runs out): p50/p90/mean/min in ms."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    deadline = time.perf_counter() + max_seconds
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
        if time.perf_counter() > deadline and len(times) >= 10:
            break
    arr = np.asarray(times)
    return {"p50_ms": float(np.percentile(arr, 50)), "p90_ms": float(np.percentile(arr, 90)),
            "mean_ms": float(arr.mean()), "min_ms": float(arr.min()), "runs": len(times), "warmup": warmup}


def ort_latency(path: Path, x1: np.ndarray, *, threads: int, warmup: int, runs: int) -> dict[str, Any]:
    sess = session(path, threads)
    name = sess.get_inputs()[0].name
    return measure(lambda: sess.run(None, {name: x1}), warmup=warmup, runs=runs)


def torch_latency(model: nn.Module, x1: np.ndarray, *, threads: int, warmup: int, runs: int) -> dict[str, Any]:
    model.eval()
    xt = torch.from_numpy(x1)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            return measure(lambda: model(xt), warmup=warmup, runs=runs)
    finally:
        torch.set_num_threads(old)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == labels).mean()) if len(labels) else float("nan")

"""Export one trained ``torch.nn.Module`` and verify it: the layer under the study-driven export.

``export_model(model, data, out)`` writes ``out/<name>/`` (atomically: staged, then renamed) with
``model.onnx`` and, as asked, ``model.int8.onnx``, ``model.ort``/``model.int8.ort`` and
``required_operators.config``, plus ``report.json``/``report.md``/``report.html``. Images are exported with
the training normalisation baked in (the file takes raw inputs); the batch axis is dynamic.
"""

from __future__ import annotations

import math
import platform
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nas_edge._json import finite_or_none, json_safe
from nas_edge.errors import first_line
from nas_edge.evaluate.data import input_stats  # the training's normalisation, baked into the ONNX file
from nas_edge.export._files import check_replaceable, ensure_writable, publish, sha256, staging
from nas_edge.export.errors import ExportError
from nas_edge.export.report import EXPORT_SCHEMA_ID, SCHEMA_VERSION

HOST_CALIBRATE = "calibrate"
DEFAULT_HOST_PROFILE = HOST_CALIBRATE
INT8_TARGET_DROP_POINTS = 1.0


@dataclass(frozen=True)
class ExportOptions:
    """What to produce and how to measure it (all keyword arguments of :func:`export_model`)."""

    quantize: str | None = None  # None or "int8"
    ort_format: bool = False
    ort_target: str = "arm"  # "arm" (phones) or "amd64"
    hardware: tuple[Any, ...] = ()  # extra profiles (names, files or Profile objects) for the cost tables
    # digital profile whose latency estimate is set against the measurement on this host: "calibrate" measures
    # this host first (quick ONNX Runtime micro-benchmarks, ~1 s, once per process), or a profile name/file/object
    host_profile: Any = DEFAULT_HOST_PROFILE
    atol: float = 1e-4
    threads: int = 1
    warmup: int = 20
    runs: int = 200
    calibration_samples: int = 512
    parity_samples: int | None = None  # None: every validation input

    def __post_init__(self) -> None:
        if self.quantize not in (None, "int8"):
            raise ExportError(f"unknown quantisation {self.quantize!r}; expected 'int8'")
        if self.ort_target not in ("arm", "amd64"):
            raise ExportError(f"unknown ORT target platform {self.ort_target!r}; expected 'arm' or 'amd64'")
        if self.threads < 1 or self.runs < 1 or self.warmup < 0 or self.calibration_samples < 1:
            raise ExportError("threads, runs and calibration samples must be >= 1, warm-up >= 0")
        if not (self.atol > 0 and math.isfinite(self.atol)):
            raise ExportError(f"the parity tolerance must be a positive number, got {self.atol}")


@dataclass
class ExportResult:
    """One finished export: its folder, the report record (``report.json``'s content) and its files."""

    name: str
    dir: Path
    record: dict[str, Any]
    files: list[str] = field(default_factory=list)

    @property
    def html(self) -> Path:
        return self.dir / "report.html"


def environment(threads: int) -> dict[str, Any]:
    import onnx
    import onnxruntime
    import torch

    from nas_edge import __version__

    return {"nas_edge": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "platform": platform.platform(),
            "machine": platform.machine(), "processor": _cpu_name(), "threads": threads}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cost_entry(workload: Any, profile: Any, source: str) -> dict[str, Any]:
    """One profile's cost of ``workload`` as a report entry: profile summary, totals and per-layer rows."""
    from nas_edge.cost import estimate
    from nas_edge.hardware import load_profile, profile_to_dict

    try:
        prof = load_profile(profile)
    except Exception as exc:
        raise ExportError(f"hardware profile {source}: {first_line(exc)}") from None
    cost = estimate(workload, prof).to_dict()
    return {"name": prof.name, "kind": prof.kind, "source": source, "profile": profile_to_dict(prof),
            "totals": {k: finite_or_none(v) for k, v in cost["totals"].items()},
            "layers": [json_safe(row, finite=True) for row in cost["layers"]]}


def hardware_costs(model_path: Path, profiles: Sequence[tuple[str, Any]]) -> tuple[list[dict[str, Any]], Any]:
    """Per-profile cost of the exported graph (``Workload.from_onnx``), each profile once."""
    from nas_edge.workload import Workload

    workload = Workload.from_onnx(model_path)
    out: list[dict[str, Any]] = []
    for source, ref in profiles:
        entry = cost_entry(workload, ref, source)
        same = next((e for e in out if e["name"] == entry["name"]), None)
        if same is None:
            out.append(entry)
            same = entry
        same["host"] = bool(same.get("host")) or source == "host"  # the profile compared with this host
    return out, workload


_HOST_PROFILES: dict[int, Any] = {}


def resolve_host_profile(ref: Any, threads: int) -> tuple[Any, str | None]:
    """The host profile to compare with and how it was obtained (``None``: not calibrated here).

    ``"calibrate"`` runs :func:`nas_edge.hardware.calibrate.calibrate` (quick mode, the export's thread count)
    once per process.
    """
    if ref != HOST_CALIBRATE:
        return ref, None
    if threads not in _HOST_PROFILES:
        from nas_edge.hardware import profile_from_dict
        from nas_edge.hardware.calibrate import calibrate

        cal = calibrate(threads=threads, quick=True, name=f"host-calibrated-{threads}t")
        _HOST_PROFILES[threads] = profile_from_dict(cal.profile, source="<host calibration>")
    how = (f"calibrated on this host just now (nas_edge.hardware.calibrate, quick mode, {threads} thread(s)): "
           "a like-for-like check of the roofline model")
    return _HOST_PROFILES[threads], how


def _profiles(options: ExportOptions, trial_hardware: Any | None, host: Any) -> list[tuple[str, Any]]:
    refs: list[tuple[str, Any]] = []
    if trial_hardware is not None:
        refs.append(("trial", trial_hardware))
    for h in options.hardware:
        refs.append((str(getattr(h, "name", h)), h))
    if host is not None:
        refs.append(("host", host))
    return refs


def _int8_method(x_val: np.ndarray, workload: Any) -> str:
    """Dynamic quantisation for token models and attention (transformers), static QDQ otherwise."""
    from nas_edge.workload import OpKind

    if np.issubdtype(x_val.dtype, np.integer):
        return "dynamic"
    attention = np.isin(workload.kind, [int(OpKind.DYNAMIC_MATMUL), int(OpKind.SOFTMAX)])
    return "dynamic" if bool(attention.any()) else "static"


@dataclass
class _Run:
    """What the steps of :func:`export_into` share: the folder, the options, the parity inputs and outputs."""

    folder: Path
    options: ExportOptions
    data: Any
    x_val: np.ndarray
    y_val: np.ndarray
    torch_out: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ort_out: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def onnx_path(self) -> Path:
        return self.folder / "model.onnx"

    @property
    def x1(self) -> np.ndarray:
        """One input: the latency is measured at batch 1."""
        return np.ascontiguousarray(self.x_val[:1])

    def scratch(self) -> Path:
        path = self.folder / ".scratch"
        path.mkdir(exist_ok=True)
        return path

    def latency(self, path: Path) -> dict[str, Any]:
        from nas_edge.export import _verify as V

        o = self.options
        return V.ort_latency(path, self.x1, threads=o.threads, warmup=o.warmup, runs=o.runs)


def export_into(
    model: Any,
    data: Any,
    folder: Path,
    *,
    options: ExportOptions,
    train: Any | None = None,
    train_result: Any | None = None,
    source: Mapping[str, Any] | None = None,
    trial_hardware: Any | None = None,
    analytic_macs: float | None = None,
) -> dict[str, Any]:
    """Export, verify and measure ``model`` into ``folder`` (which must exist); return the report record.

    ``train`` (a :class:`~nas_edge.evaluate.TrainConfig`) trains the model first (seed torch before building
    it for a reproducible result); ``train_result`` records a training done by the caller. The steps, in
    order: train, wrap (normalisation baked in), export and verify, describe the file (ONNX metadata), measure
    latency, cost on every profile, INT8, ORT format, list the files, assemble the record.
    """
    from nas_edge.evaluate import load_data
    from nas_edge.export import _verify as V

    data = load_data(data)
    t_start = time.perf_counter()
    if train is not None:
        from nas_edge.evaluate import train_and_evaluate

        train_result = train_and_evaluate(model, data, train)
    model, wrapped, preprocessing = _wrap(model, data, getattr(train, "max_train_samples", None))
    x_val, y_val = data.x_val, data.y_val
    if options.parity_samples is not None:
        x_val, y_val = x_val[:options.parity_samples], y_val[:options.parity_samples]
    run = _Run(folder=folder, options=options, data=data, x_val=x_val, y_val=y_val)
    exported, checked, parity, verify_seconds = _export_and_verify(run, wrapped)
    dataset = {"name": data.name, "train_samples": len(data.x_train), "val_samples": len(data.x_val),
               "num_classes": data.num_classes, "input_shape": list(data.x_val.shape[1:]),
               "dtype": str(data.x_val.dtype)}
    acc_onnx = V.accuracy(run.ort_out, y_val)
    _metadata_step(run.onnx_path, source, acc_onnx, dataset, preprocessing, "fp32")
    latency = _latency_record(run, wrapped)
    host_ref, host_how = resolve_host_profile(options.host_profile, options.threads)
    costs, workload = hardware_costs(run.onnx_path, _profiles(options, trial_hardware, host_ref))
    files = [{"file": "model.onnx", "purpose": "fp32 model (ONNX)"}]
    quant, q_out = _int8_step(run, workload, latency["ort_fp32"]) if options.quantize == "int8" else (None, None)
    if quant is not None:
        files.append({"file": "model.int8.onnx", "purpose": f"INT8 model ({quant['format']})"})
        _metadata_step(folder / "model.int8.onnx", source, quant["accuracy"], dataset, preprocessing, "int8")
    ort_fmt = _ort_format_step(run, q_out) if options.ort_format else None
    if ort_fmt is not None:
        files += [{"file": f, "purpose": "ORT format model for onnxruntime mobile / minimal builds"}
                  for f in ort_fmt["files"]]
        files.append({"file": ort_fmt["config"],
                      "purpose": "operators for a reduced ORT build (build.py --include_ops_by_config)"})
    shutil.rmtree(folder / ".scratch", ignore_errors=True)
    _describe_files(folder, files)
    record: dict[str, Any] = {
        "schema": EXPORT_SCHEMA_ID, "version": SCHEMA_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "name": folder.name if not folder.name.startswith(".") else "model",
        "source": dict(source or {"kind": "module"}),
        "environment": environment(options.threads),
        "dataset": dataset,
        "training": _training_record(train_result, train),
        "model": {**_model_record(run, exported, checked), "params": int(sum(p.numel() for p in model.parameters())),
                  "macs": float(workload.total_macs), "macs_analytic": finite_or_none(analytic_macs),
                  "preprocessing": preprocessing},
        "verification": {"checker": checked["checker"], "shape_inference": checked["shape_inference"],
                         "parity": parity, "export_seconds": exported["seconds"],
                         "verify_seconds": verify_seconds + checked["seconds"]},
        "latency": latency,
        "accuracy": {"torch_fp32": V.accuracy(run.torch_out, y_val), "onnx_fp32": acc_onnx,
                     "int8": quant["accuracy"] if quant else None,
                     "search": finite_or_none((source or {}).get("search_accuracy")),
                     "analog": (source or {}).get("analog")},
        "quantization": quant,
        "ort_format": ort_fmt,
        "hardware": costs,
        "host_estimate": _host_comparison(costs, latency["ort_fp32"], host_how),
        "files": files,
        "seconds": time.perf_counter() - t_start,
    }
    record["checklist"] = checklist(record)
    return record


def _metadata_step(path: Path, source: Mapping[str, Any] | None, accuracy: float, dataset: Mapping[str, Any],
                   preprocessing: Mapping[str, Any], variant: str) -> None:
    """The file's own description (``metadata_props``, ``doc_string``): study, trial, objectives, accuracy,
    preprocessing, hardware, nas-edge version (see :mod:`nas_edge.export._metadata`)."""
    from nas_edge.export._metadata import model_metadata, stamp

    props, doc = model_metadata(source or {"kind": "module"}, accuracy=accuracy, dataset=dataset,
                                preprocessing=preprocessing, variant=variant)
    stamp(path, props, doc)


def _model_record(run: _Run, exported: Mapping[str, Any], checked: Mapping[str, Any]) -> dict[str, Any]:
    """The exported file as the record describes it: size, opset, producer, inputs, outputs, operators."""
    from nas_edge.export._verify import INPUT_NAME

    return {"file": "model.onnx", "bytes": run.onnx_path.stat().st_size, "opset": exported["opset"],
            "opset_import": exported["opset_import"], "ir_version": exported["ir_version"],
            "producer": exported["producer"], "exporter": "torch.onnx.export(dynamo=True)",
            "dynamic_axes": {INPUT_NAME: {"0": "batch"}}, "inputs": checked["inputs"],
            "outputs": checked["outputs"], "operators": checked["operators"],
            "initializer_params": checked["initializer_params"]}


def _training_record(result: Any | None, train: Any | None) -> dict[str, Any] | None:
    """What the training before the export did (``None`` when the model came trained)."""
    if result is None:
        return None
    out: dict[str, Any] = {"accuracy": float(result.accuracy), "history": [float(a) for a in result.history],
                           "seconds": float(result.seconds)}
    cfg = train or getattr(result, "config", None)
    if cfg is not None:
        out.update(epochs=cfg.epochs, seed=cfg.seed, batch_size=cfg.batch_size, lr=cfg.lr,
                   weight_decay=cfg.weight_decay, max_train_samples=cfg.max_train_samples)
    return out


def _wrap(model: Any, data: Any, limit: int | None) -> tuple[Any, Any, dict[str, Any]]:
    """The model in eval mode and the module to export: images get the training normalisation baked in."""
    from nas_edge.export._verify import Preprocess

    if data.vocab_size is not None:
        return model.eval(), model.eval(), {"baked_in": False,
                                            "note": f"integer token ids in [0, {data.vocab_size})"}
    model = model.eval().float()
    mean, std = input_stats(data.x_train, limit)
    return model, Preprocess(model, mean, std).eval(), {
        "baked_in": True, "formula": "(x - mean) / std", "mean": mean, "std": std,
        "note": "the file takes raw inputs as in the dataset (digits: pixels in [0, 1])"}


def _export_and_verify(run: _Run, wrapped: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], float]:
    """Export (dynamo), check (onnx.checker, strict shape inference) and compare ORT with PyTorch on the parity
    set at batch 256 and batch 1; fills ``run.torch_out`` / ``run.ort_out``."""
    import torch

    from nas_edge.export import _verify as V

    o, x_val = run.options, run.x_val
    exported = V.export_onnx(wrapped, torch.from_numpy(np.ascontiguousarray(x_val[:2])), run.onnx_path)
    t0 = time.perf_counter()
    checked = V.check_onnx(run.onnx_path)
    sess = V.session(run.onnx_path, o.threads)
    run.torch_out = V.run_torch(wrapped, x_val)
    run.ort_out = V.run_ort(sess, x_val, batch_size=256)
    par = V.parity(run.torch_out, run.ort_out, o.atol, label="model.onnx")
    one = V.parity(run.torch_out[:8], V.run_ort(sess, x_val[:8], batch_size=1), o.atol, label="model.onnx (batch 1)")
    par["batch_sizes"] = sorted({1, min(256, len(x_val))})
    par["max_abs_diff"] = max(par["max_abs_diff"], one["max_abs_diff"])
    return exported, checked, par, time.perf_counter() - t0


def _latency_record(run: _Run, wrapped: Any) -> dict[str, Any]:
    """Batch-1 latency of the ONNX file in ORT and of the module in eager PyTorch, same threads."""
    from nas_edge.export import _verify as V

    o = run.options
    lat_ort = run.latency(run.onnx_path)
    lat_torch = V.torch_latency(wrapped, run.x1, threads=o.threads, warmup=o.warmup, runs=o.runs)
    return {"batch": 1, "threads": o.threads, "provider": "CPUExecutionProvider", "ort_fp32": lat_ort,
            "torch_eager": lat_torch, "ort_over_torch_p50": lat_ort["p50_ms"] / lat_torch["p50_ms"]}


def _int8_step(run: _Run, workload: Any, lat_fp32: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray]:
    """``model.int8.onnx`` (static QDQ, dynamic for token models and attention), checked and measured against
    the fp32 file; returns its record and its outputs on the parity set."""
    from nas_edge.export import _verify as V
    from nas_edge.export._quant import quantize_int8

    o, onnx_path = run.options, run.onnx_path
    method = _int8_method(run.x_val, workload)
    int8_path = run.folder / "model.int8.onnx"
    calib = np.ascontiguousarray(run.data.x_train[:o.calibration_samples]) if method == "static" else None
    quant = quantize_int8(onnx_path, int8_path, method=method, calibration=calib, input_name=V.INPUT_NAME,
                          scratch=run.scratch())
    q_checked = V.check_onnx(int8_path)
    q_out = V.run_ort(V.session(int8_path, o.threads), run.x_val)
    q_lat = run.latency(int8_path)
    acc_fp32, acc_q = V.accuracy(run.ort_out, run.y_val), V.accuracy(q_out, run.y_val)
    drop = (acc_fp32 - acc_q) * 100.0
    quant.update(
        file="model.int8.onnx", bytes=int8_path.stat().st_size,
        size_ratio=int8_path.stat().st_size / onnx_path.stat().st_size,
        latency=q_lat, latency_ratio=q_lat["p50_ms"] / lat_fp32["p50_ms"], accuracy=acc_q,
        accuracy_fp32=acc_fp32, accuracy_drop_points=drop, target_drop_points=INT8_TARGET_DROP_POINTS,
        within_target=bool(drop <= INT8_TARGET_DROP_POINTS),
        max_abs_diff_to_fp32=float(np.max(np.abs(q_out - run.ort_out))) if len(q_out) else 0.0,
        top1_agreement=_agreement(q_out, run.ort_out),
        operators=q_checked["operators"],
    )
    return quant, q_out


def _ort_format_step(run: _Run, q_out: np.ndarray | None) -> dict[str, Any]:
    """ORT format files (and the reduced-build operator config); each must compute what its ONNX source does."""
    from nas_edge.export import _verify as V
    from nas_edge.export._ortformat import convert_to_ort

    o, folder = run.options, run.folder
    sources = [run.onnx_path] + ([folder / "model.int8.onnx"] if q_out is not None else [])
    ort_fmt = convert_to_ort(sources, folder, run.scratch(), target_platform=o.ort_target)
    checks = {}
    for f in ort_fmt["files"]:
        out_f = V.run_ort(V.session(folder / f, o.threads), run.x_val)
        if f == "model.ort":
            checks[f] = {"max_abs_diff_to_onnx": float(np.max(np.abs(out_f - run.ort_out))) if len(out_f) else 0.0,
                         "accuracy": V.accuracy(out_f, run.y_val)}
            V.parity(run.torch_out, out_f, o.atol, label="model.ort")
        else:
            assert q_out is not None
            checks[f] = {"accuracy": V.accuracy(out_f, run.y_val), "top1_agreement_with_onnx": _agreement(out_f, q_out)}
    ort_fmt["checks"] = checks
    return ort_fmt


def _describe_files(folder: Path, files: list[dict[str, Any]]) -> None:
    """Size and SHA-256 of every file to ship."""
    for f in files:
        p = folder / f["file"]
        f.update(bytes=p.stat().st_size, sha256=sha256(p))


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of inputs whose top-1 class two models agree on."""
    return float((a.argmax(1) == b.argmax(1)).mean()) if len(a) else float("nan")


def _host_comparison(costs: list[dict[str, Any]], lat: dict[str, Any], how: str | None) -> dict[str, Any] | None:
    entry = next((c for c in costs if c.get("host")), None)
    if entry is None or entry["kind"] != "digital":
        return None
    est = entry["totals"]["latency_ms"]
    note = ("batch 1, fp32; measured with ONNX Runtime on this host; the profile was "
            + (how or "given, not measured here: if it describes another device, this is an order-of-magnitude "
                      "check only (use --host-profile calibrate for a like-for-like one)"))
    return {"profile": entry["name"], "calibrated": how is not None, "estimated_ms": est,
            "measured_p50_ms": lat["p50_ms"], "measured_p90_ms": lat["p90_ms"],
            "ratio_estimated_over_measured": (est / lat["p50_ms"]) if est else None, "host": _cpu_name(),
            "note": note}


def checklist(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a deployment engineer needs: opset, operators, input/output shapes, preprocessing, files to ship."""
    m = record["model"]
    ops = sorted(m["operators"])
    q, o = record.get("quantization"), record.get("ort_format")
    ship = [f["file"] for f in record["files"]]
    return {
        "opset": m["opset"], "ir_version": m["ir_version"], "operators": ops,
        "int8_operators": sorted(q["operators"]) if q else None,
        "inputs": m["inputs"], "outputs": m["outputs"], "dynamic_batch": True,
        "preprocessing": m["preprocessing"],
        "runtime": f"onnxruntime >= {record['environment']['onnxruntime']} (CPUExecutionProvider)",
        "reduced_build_config": o["config"] if o else None,
        "files_to_ship": ship,
        "checks": {"onnx_checker": True, "parity_fp32": record["verification"]["parity"]["passed"],
                   "int8_within_target": q["within_target"] if q else None},
    }


def export_model(
    model: Any,
    data: Any,
    out: str | Path,
    *,
    name: str = "model",
    train: Any | None = None,
    options: ExportOptions | None = None,
    source: Mapping[str, Any] | None = None,
    trial_hardware: Any | None = None,
    analytic_macs: float | None = None,
) -> ExportResult:
    """Export a ``torch.nn.Module`` trained on ``data`` (a :class:`~nas_edge.evaluate.Data` or dataset spec) to
    ``out/name/`` with verification, measurements and the deployment report. ``train`` trains it first.

    Raises :class:`~nas_edge.export.ExportError` (``ParityError``, ``OutputError``) with one readable line;
    on any failure nothing is left under ``out/name``.
    """
    from nas_edge.export.report import write_export_report

    options = options or ExportOptions()
    out = ensure_writable(Path(out))
    check_replaceable(out / name)
    with staging(out) as tmp:
        folder = tmp / name
        folder.mkdir()
        record = export_into(model, data, folder, options=options, train=train, source=source,
                             trial_hardware=trial_hardware, analytic_macs=analytic_macs)
        record["name"] = name
        write_export_report(folder, record)
        final = publish(folder, out / name)
    return ExportResult(name=name, dir=final, record=record, files=[f["file"] for f in record["files"]])

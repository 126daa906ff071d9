"""ORT format for mobile / reduced builds, via ``python -m onnxruntime.tools.convert_onnx_models_to_ort``."""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nas_edge.errors import first_line
from nas_edge.export.errors import ExportError

CONFIG_NAME = "required_operators.config"


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """The converter's helpers log each step at INFO with their own handlers: silence them for the call."""
    names = ["", *(n for n in logging.root.manager.loggerDict if n.startswith(("ort_format_model", "onnxruntime")))]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, levels, strict=True):
            lg.setLevel(lv)


def convert_to_ort(models: list[Path], dst_dir: Path, scratch: Path, *, target_platform: str = "arm",
                   optimization_style: str = "Fixed") -> dict[str, Any]:
    """Convert ``models`` (``.onnx`` files) to ``.ort`` files in ``dst_dir`` and write the operator config for a
    reduced build (``--include_ops_by_config``), with the converter of
    ``python -m onnxruntime.tools.convert_onnx_models_to_ort`` (called in-process: no second interpreter start).
    The conversion runs in ``scratch``; comments in the config name the shipped files, not the scratch paths."""
    if target_platform not in ("arm", "amd64"):
        raise ExportError(f"unknown ORT target platform {target_platform!r}; expected 'arm' or 'amd64'")
    src = scratch / "ort-src"
    out = scratch / "ort-out"
    src.mkdir(parents=True, exist_ok=True)
    for m in models:
        shutil.copyfile(m, src / m.name)
    t0 = time.perf_counter()
    try:  # the converter behind `python -m onnxruntime.tools.convert_onnx_models_to_ort`, called in-process
        from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

        with contextlib.redirect_stdout(io.StringIO()), _quiet_logs():
            convert_onnx_models_to_ort(src, output_dir=out, optimization_styles=[OptimizationStyle[optimization_style]],
                                       target_platform=target_platform)
    except Exception as exc:
        raise ExportError(f"ORT format conversion failed: {first_line(exc, 300)}") from exc
    files = []
    for m in models:
        produced = out / f"{m.stem}.ort"
        if not produced.is_file():
            raise ExportError(f"ORT format conversion wrote no {produced.name}")
        shutil.move(str(produced), dst_dir / produced.name)
        files.append(produced.name)
    config = out / CONFIG_NAME
    if not config.is_file():
        raise ExportError(f"ORT format conversion wrote no {CONFIG_NAME}")
    lines, operators = [], []
    for line in config.read_text().splitlines():
        if line.startswith("# - "):
            line = f"# - {Path(line[4:]).name}"
        elif line and not line.startswith("#"):
            domain, opset, ops = line.split(";", 2)
            operators.append({"domain": domain, "opset": int(opset), "ops": ops.split(",")})
        lines.append(line)
    (dst_dir / CONFIG_NAME).write_text("\n".join(lines) + "\n")
    return {"files": files, "config": CONFIG_NAME, "operators": operators, "target_platform": target_platform,
            "optimization_style": optimization_style, "seconds": time.perf_counter() - t0,
            "command": "python -m onnxruntime.tools.convert_onnx_models_to_ort DIR --optimization_style "
                       f"{optimization_style} --target_platform {target_platform}"}

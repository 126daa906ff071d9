"""ORT format for mobile / reduced builds, via ``python -m onnxruntime.tools.convert_onnx_models_to_ort``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from nas_edge.export.errors import ExportError

CONFIG_NAME = "required_operators.config"


def convert_to_ort(models: list[Path], dst_dir: Path, scratch: Path, *, target_platform: str = "arm",
                   optimization_style: str = "Fixed") -> dict[str, Any]:
    """Convert ``models`` (``.onnx`` files) to ``.ort`` files in ``dst_dir`` and write the operator config for a
    reduced build (``--include_ops_by_config``). The conversion runs in ``scratch``; comments in the config name
    the files as they are shipped, not the scratch paths."""
    if target_platform not in ("arm", "amd64"):
        raise ExportError(f"unknown ORT target platform {target_platform!r}; expected 'arm' or 'amd64'")
    src = scratch / "ort-src"
    out = scratch / "ort-out"
    src.mkdir(parents=True, exist_ok=True)
    for m in models:
        shutil.copyfile(m, src / m.name)
    cmd = [sys.executable, "-m", "onnxruntime.tools.convert_onnx_models_to_ort", str(src), "--output_dir", str(out),
           "--optimization_style", optimization_style, "--target_platform", target_platform]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ExportError(f"ORT format conversion failed (exit {proc.returncode}): {tail[0][:300]}")
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

"""What an exported ONNX file says about itself: ``metadata_props`` and ``doc_string`` (Netron shows both;
``onnxruntime.InferenceSession(...).get_modelmeta()`` reads them back), so that a file that travels alone
still names its study, trial, objectives, accuracy, input preprocessing, hardware and nas-edge version."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def model_metadata(source: Mapping[str, Any], *, accuracy: float, dataset: Mapping[str, Any],
                   preprocessing: Mapping[str, Any], variant: str = "fp32") -> tuple[dict[str, str], str]:
    """(metadata_props, doc_string) of one exported file."""
    from nas_edge import __version__

    props: dict[str, str] = {"nas_edge_version": __version__, "variant": variant,
                             "accuracy": f"{accuracy:.6g}",
                             "dataset": json.dumps({k: dataset.get(k) for k in ("name", "val_samples", "num_classes",
                                                                                 "input_shape", "dtype")}),
                             "preprocessing": json.dumps(dict(preprocessing))}
    trial = source.get("kind") == "trial"
    if trial:
        names, values = list(source.get("objectives") or []), list(source.get("values") or [])
        props.update(study=str(source.get("study")), trial=str(source.get("trial")),
                     objectives=json.dumps(dict(zip(names, values, strict=False))),
                     architecture=str(source.get("architecture_summary") or ""),
                     hardware=str(source.get("hardware_name") or ""))
        hw = source.get("hardware")
        if isinstance(hw, Mapping):
            props["hardware_choice"] = json.dumps(dict(hw))
    where = (f"trial {source.get('trial')} of study {source.get('study')!r} "
             f"({source.get('architecture_summary')}, hardware {source.get('hardware_name')})" if trial
             else "a torch module")
    pre = (f"takes raw inputs: {preprocessing.get('formula')} with mean {preprocessing.get('mean'):.6g} and std "
           f"{preprocessing.get('std'):.6g} is part of the graph" if preprocessing.get("baked_in")
           else str(preprocessing.get("note", "")))
    doc = (f"nas-edge {__version__} export ({variant}) of {where}. Validation accuracy {100 * accuracy:.2f} % on "
           f"{dataset.get('name')} ({dataset.get('val_samples')} inputs). The model {pre}. Batch axis dynamic. "
           "Full report: report.json / report.html beside this file.")
    return props, doc


def stamp(path: Path, props: Mapping[str, str], doc: str) -> None:
    """Write ``props`` into the file's ``metadata_props`` (replacing keys of the same name) and ``doc`` as its
    ``doc_string``; the file is replaced atomically. External data files, if any, are left as they are."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    kept = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    model.doc_string = doc
    tmp = path.with_name(f".{path.name}.meta.tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, path)

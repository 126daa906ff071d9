"""Value-aware array energy (issue 13 item 7): the bit density of real activations and weights.

A crossbar read spends its row-driver (DAC) energy only on rows whose input level is not zero, and its cell
current only where a driven row meets a conducting cell; NeuroSim reads both densities from its traces of
real inputs and weights (``activityRowRead``), CiMLoop models every component by the values it sees. The
value-blind model charges each read as if every bit were random (1 with probability 1/2). Given a few real
inputs, :func:`trace_onnx` records each static layer's input activations (per input channel) and weights, and
:func:`energy_factors` turns them, for one profile's precision and cell mapping, into two factors per row:

- ``dac``  = rho_in / 1/2, with rho_in the mean input level per DAC cycle over its maximum (row drives);
- ``cell`` = mean over weight rows r of rho_in(r) rho_w(r), over the same product for random bits, with
  rho_w(r) the mean cell level of row r over its maximum, across its outputs and slices (cell current).

The kernels multiply the DAC and the cell-read energy of each static row by them; bit-line precharge, ADC,
shift-add and everything digital stay value-blind (their energy per event does not depend on the code in
the models the profiles use). Quantisation is per tensor by the largest magnitude seen: an all non-negative
input unsigned on ``input_bits``, else two's complement; weights by the profile's mapping (differential: the
magnitude on ``weight_bits - 1`` bits in slices of ``cell_bits`` on one column of the pair, the other at 0;
offset: ``w + 2^(wb-1)`` unsigned; signed: the magnitude slices). Rows without a trace keep factor 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nas_edge.errors import NasEdgeError, first_line

if TYPE_CHECKING:
    from nas_edge.hardware.loader import Profile
    from nas_edge.workload.table import Workload

MAX_INPUTS = 64
"""Calibration inputs read at most (NeuroSim's traces are a few images)."""
_SAMPLE = 1 << 14
"""Input values kept per channel (a seeded subsample; the quantisation scale is from every value)."""


class CalibrationDataError(NasEdgeError, ValueError):
    """Calibration data that cannot be run through the model."""


@dataclass(frozen=True)
class LayerValues:
    """Values one static layer saw: ``inputs`` (samples x channels, any sample count), ``weight`` as
    (groups, outputs per group, rows per group), ``rows_per_channel`` (kernel positions per input channel)."""

    inputs: np.ndarray
    input_max: float
    input_signed: bool
    weight: np.ndarray
    rows_per_channel: int = 1


@dataclass(frozen=True)
class ValueTrace:
    """Per-layer values of a network on calibration inputs, keyed by the workload's row names."""

    layers: Mapping[str, LayerValues]
    inputs_used: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    _factors: dict[tuple[Any, ...], dict[str, tuple[float, float]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    """factors per layer by the profile figures they depend on (precision, DAC and cell bits, mapping)"""


# ---- bit densities (vectorised; tests/reference_values.py is the plain-Python reference) ----------------

def quantise_inputs(x: np.ndarray, x_max: float, signed: bool, bits: int) -> np.ndarray:
    """Integer codes of activations as the array's rows see them: unsigned on ``bits`` bits, or the
    ``bits``-bit two's complement pattern (as unsigned) when the tensor has negative values."""
    x = np.asarray(x, dtype=np.float64)
    scale = x_max if x_max > 0 else 1.0
    if not signed:
        top = (1 << bits) - 1
        return np.clip(np.rint(x / scale * top), 0, top).astype(np.int64)
    top = (1 << (bits - 1)) - 1 if bits > 1 else 0
    q = np.clip(np.rint(x / scale * top), -top - 1 if bits > 1 else -1, top).astype(np.int64)
    return q & ((1 << bits) - 1)


def input_level_density(codes: np.ndarray, bits: int, dac_bits: int) -> np.ndarray:
    """Mean DAC level over its maximum, per column of ``codes`` (samples x channels), over every input
    cycle of ``dac_bits`` bits (``ceil(bits / dac_bits)`` cycles)."""
    cycles = -(-bits // dac_bits)
    mask = (1 << dac_bits) - 1
    total = np.zeros(codes.shape[1:], dtype=np.float64)
    for c in range(cycles):
        total += ((codes >> (c * dac_bits)) & mask).mean(axis=0)
    return total / (cycles * mask)


def weight_level_density(w: np.ndarray, weight_bits: int, cell_bits: int, mapping: str) -> np.ndarray:
    """Mean cell level over its maximum, per weight row: ``w`` is (groups, outputs, rows); the result
    (groups, rows) averages over outputs, slices and (differential) both columns of the pair."""
    w = np.asarray(w, dtype=np.float64)
    w_max = float(np.abs(w).max()) if w.size else 0.0
    scale = w_max if w_max > 0 else 1.0
    top = (1 << (weight_bits - 1)) - 1 if weight_bits > 1 else 1
    q = np.clip(np.rint(w / scale * top), -top - 1 if weight_bits > 1 else -1, top).astype(np.int64)
    if mapping == "offset":
        codes, mag_bits = np.clip(q + (1 << (weight_bits - 1)), 0, (1 << weight_bits) - 1), weight_bits
        columns = 1
    else:
        codes, mag_bits = np.minimum(np.abs(q), top if weight_bits > 1 else 1), max(1, weight_bits - 1)
        columns = 2 if mapping == "differential" else 1
    slices = -(-mag_bits // cell_bits)
    mask = (1 << cell_bits) - 1
    total = np.zeros(codes.shape, dtype=np.float64)
    for s in range(slices):
        total += (codes >> (s * cell_bits)) & mask
    return np.asarray(total.mean(axis=1) / (slices * mask * columns))


def random_weight_density(mapping: str) -> float:
    """rho_w of random bits: 1/2, or 1/4 when a differential pair leaves one of its two columns at 0."""
    return 0.25 if mapping == "differential" else 0.5


def layer_factors(values: LayerValues, profile: Profile) -> tuple[float, float]:
    """``(dac factor, cell factor)`` of one layer on one IMC profile."""
    a, pr = profile.array, profile.precision  # type: ignore[union-attr]
    codes = quantise_inputs(values.inputs, values.input_max, values.input_signed, pr.input_bits)
    rho_c = input_level_density(codes, pr.input_bits, a.dac_bits)  # per channel
    rho_w = weight_level_density(values.weight, pr.weight_bits, a.cell_bits, a.mapping)  # (groups, rows)
    g, rows = rho_w.shape
    per_group = len(rho_c) // g
    rho_in = rho_c[:per_group * g].reshape(g, per_group)
    rho_in = np.repeat(rho_in, values.rows_per_channel, axis=1)[:, :rows]
    dac = float(rho_in.mean()) / 0.5
    cell = float((rho_in * rho_w).mean()) / (0.5 * random_weight_density(a.mapping))
    return dac, cell


def energy_factors(trace: ValueTrace | None, workload: Workload, profile: Profile
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-row ``(dac factors, cell factors, static rows traced)`` of a workload on a profile; ones for
    digital profiles, rows without values and no trace."""
    from nas_edge.workload.table import OpKind

    n = len(workload)
    dac, cell = np.ones(n), np.ones(n)
    if trace is None or profile.kind != "imc":
        return dac, cell, 0
    found = 0
    a, pr = profile.array, profile.precision
    cache = trace._factors.setdefault((pr.input_bits, pr.weight_bits, a.dac_bits, a.cell_bits, a.mapping), {})
    for i, name in enumerate(workload.names):
        if int(workload.kind[i]) not in (OpKind.CONV, OpKind.LINEAR):
            continue
        values = trace.layers.get(name)
        if values is None:
            continue
        if name not in cache:
            cache[name] = layer_factors(values, profile)
        dac[i], cell[i] = cache[name]
        found += 1
    return dac, cell, found


# ---- tracing an ONNX model ------------------------------------------------------------------------------

def _channel_values(x: np.ndarray, axis: int, rng: np.random.Generator) -> np.ndarray:
    """(samples x channels) of an activation tensor, channels on ``axis``, subsampled to ``_SAMPLE`` rows."""
    moved = np.moveaxis(np.asarray(x, dtype=np.float32), axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    if len(flat) > _SAMPLE:
        flat = flat[rng.choice(len(flat), _SAMPLE, replace=False)]
    return flat


def _static_layers(proto: Any) -> list[tuple[str, Any]]:
    """(row name, node) of the Conv / Gemm / MatMul nodes with a static weight (an initializer, or computed
    from initializers only: a QDQ weight), named as the ONNX adapter names them."""
    from nas_edge.workload._onnx_walk import Walker, _node_label

    walker = Walker(proto, {})
    const = set(walker.const)
    out = []
    for i, node in enumerate(walker.live_nodes()):
        ins = [n for n in node.input if n]
        if node.op_type == "Constant" or (ins and all(n in const for n in ins)):
            const.update(o for o in node.output if o)
        elif (node.op_type in ("Conv", "Gemm", "MatMul") and node.domain in ("", "ai.onnx") and len(ins) >= 2
              and node.input[1] in const and node.input[0] not in const):
            out.append((_node_label(node, i), node))
    return out


def trace_onnx(model: Any, data: np.ndarray | Mapping[str, np.ndarray], *, max_inputs: int = MAX_INPUTS
               ) -> ValueTrace:
    """Run ``model`` (path, bytes or ``onnx.ModelProto``) on calibration ``data`` (one array for a single-input
    model, else arrays by input name; the first axis is the sample) with ONNX Runtime and record what each
    static Conv / Gemm / MatMul layer sees. At most ``max_inputs`` samples are used."""
    import onnx
    from onnx import numpy_helper

    from nas_edge._ort import cpu_session
    from nas_edge.workload.onnx_adapter import load_model

    proto, label, base_dir = load_model(model)
    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    if base_dir is not None and any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer):
        from onnx.external_data_helper import load_external_data_for_model

        load_external_data_for_model(proto, str(base_dir))
    g = proto.graph
    inits = {t.name: t for t in g.initializer}
    graph_inputs = [i for i in g.input if i.name not in inits]
    feeds = _feeds(label, graph_inputs, data, max_inputs)
    layers = _static_layers(proto)
    wanted: list[str] = []
    for _, node in layers:
        for name in node.input[:2]:
            if name and name not in inits and name not in wanted:
                wanted.append(name)
    known = {o.name for o in g.output}
    for name in wanted:
        if name not in known and name not in feeds:
            g.output.append(onnx.ValueInfoProto(name=name))
    try:
        session = cpu_session(proto.SerializeToString())
        names = [o.name for o in session.get_outputs()]
        runs = _run_in_chunks(session, feeds, graph_inputs)
    except CalibrationDataError:
        raise
    except Exception as exc:
        raise CalibrationDataError(f"{label}: cannot run the model on the calibration data ({first_line(exc, 300)})"
                                   ) from None
    seen: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for outs in runs:
        for n, v in zip(names, outs, strict=True):
            seen[n].append(np.asarray(v))
    values = {n: np.concatenate(v) if v and v[0].ndim else (v[0] if v else None) for n, v in seen.items()}
    values.update({n: np.asarray(a) for n, a in feeds.items()})
    rng = np.random.default_rng(0)
    out: dict[str, LayerValues] = {}
    skipped = []
    for row, node in layers:
        x_name, w_name = node.input[0], node.input[1]
        x = values.get(x_name)
        w = numpy_helper.to_array(inits[w_name]) if w_name in inits else values.get(w_name)
        try:
            lv = _layer_values(node, x, w, rng)
        except ValueError:
            lv = None
        if lv is None:
            skipped.append(row)
            continue
        out[row] = lv
    notes = (f"value-aware energy: no values for {len(skipped)} static node(s) "
             f"({', '.join(skipped[:5])}{', ...' if len(skipped) > 5 else ''}); they stay value-blind",
             ) if skipped else ()
    used = int(next(iter(feeds.values())).shape[0]) if feeds else 0
    return ValueTrace(layers=out, inputs_used=used, notes=notes)


def _layer_values(node: Any, x: np.ndarray | None, w: np.ndarray | None, rng: np.random.Generator
                  ) -> LayerValues | None:
    """The values of one node, or None when its weight is not a 2-D matrix / 3-D+ kernel it can lay out."""
    if x is None or w is None or not np.issubdtype(np.asarray(x).dtype, np.number):
        return None
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    attrs = {a.name: a for a in node.attribute}
    if node.op_type == "Conv":
        groups = int(attrs["group"].i) if "group" in attrs else 1
        if w.ndim < 3 or x.ndim != w.ndim:
            return None
        o, cg = w.shape[0], w.shape[1]
        kern = int(np.prod(w.shape[2:]))
        weight = w.reshape(groups, o // groups, cg * kern)
        chans = _channel_values(x, 1, rng)
        return LayerValues(chans, float(np.abs(x).max()), bool((x < 0).any()), weight, kern)
    if w.ndim != 2:
        return None
    if node.op_type == "Gemm":
        if "transA" in attrs and attrs["transA"].i:
            x = x.T
        if "transB" in attrs and attrs["transB"].i:
            w = w.T
    weight = w.T[None, :, :]  # (1, N, K)
    if x.shape[-1] != w.shape[0]:
        return None
    chans = _channel_values(x, x.ndim - 1, rng)
    return LayerValues(chans, float(np.abs(x).max()), bool((x < 0).any()), weight, 1)


def load_calibration_data(path: str | Path) -> np.ndarray | dict[str, np.ndarray]:
    """Calibration inputs from an ``.npy`` file (one array) or an ``.npz`` file (arrays by input name)."""
    try:
        loaded = np.load(Path(path).expanduser(), allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                arrays = {k: np.asarray(loaded[k]) for k in loaded.files}
        else:
            arrays = {"": np.asarray(loaded)}
    except FileNotFoundError:
        raise CalibrationDataError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError) as exc:
        raise CalibrationDataError(f"{path}: not a NumPy .npy/.npz file of numbers "
                                   f"({first_line(exc, 200)})") from None
    for name, arr in arrays.items():
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise CalibrationDataError(f"{path}{f' [{name}]' if name else ''}: expected numbers, found {arr.dtype}")
    return arrays[""] if "" in arrays and len(arrays) == 1 else arrays


def _feeds(label: str, graph_inputs: list[Any], data: np.ndarray | Mapping[str, np.ndarray], max_inputs: int
           ) -> dict[str, np.ndarray]:
    names = [i.name for i in graph_inputs]
    if isinstance(data, Mapping):
        missing = [n for n in names if n not in data]
        if missing:
            raise CalibrationDataError(f"{label}: calibration data has no array for input(s) {missing} "
                                       f"(it has {sorted(data)})")
        arrays = {n: np.asarray(data[n]) for n in names}
    else:
        if len(names) != 1:
            raise CalibrationDataError(f"{label}: the model has {len(names)} inputs {names}; give the calibration "
                                       "data as an .npz with one array per input name")
        arrays = {names[0]: np.asarray(data)}
    counts = {a.shape[0] if a.ndim else 0 for a in arrays.values()}
    if len(counts) != 1 or 0 in counts:
        raise CalibrationDataError(f"{label}: calibration arrays need the same number (>= 1) of samples on "
                                   "their first axis")
    return {n: a[:max_inputs] for n, a in arrays.items()}


def _run_in_chunks(session: Any, feeds: dict[str, np.ndarray], graph_inputs: list[Any]) -> list[list[Any]]:
    """Runs of the session over the samples, in chunks of the model's fixed batch (1 sample when the leading
    dimension is fixed at 1, all at once when it is symbolic). Inputs are cast to the model's types."""
    from onnx import helper

    fixed = set()
    types = {}
    for i in graph_inputs:
        t = i.type.tensor_type
        types[i.name] = helper.tensor_dtype_to_np_dtype(t.elem_type)
        dims = t.shape.dim
        if dims and dims[0].HasField("dim_value"):
            fixed.add(int(dims[0].dim_value))
    n = len(next(iter(feeds.values())))
    step = min(fixed) if fixed else n
    if step < 1:
        raise CalibrationDataError("the model's leading input dimension is 0")
    n -= n % step
    if n == 0:
        raise CalibrationDataError(f"the model takes {step} samples per run; give at least that many")
    return [session.run(None, {k: v[s:s + step].astype(types[k], copy=False) for k, v in feeds.items()})
            for s in range(0, n, step)]


__all__ = ["MAX_INPUTS", "CalibrationDataError", "LayerValues", "ValueTrace", "energy_factors",
           "input_level_density", "layer_factors", "load_calibration_data", "quantise_inputs", "trace_onnx",
           "weight_level_density"]

"""Workload from a PyTorch module: ``from_torch(module, example_input, batch=1)``.

The module runs once under a ``TorchDispatchMode`` that sees every ATen op with its tensors. By default it
runs on the ``meta`` device (parameters, buffers and inputs replaced by shape-only tensors through
``torch.func.functional_call``: no arithmetic, no memory, the module is not changed); a module that cannot
run on ``meta`` (data-dependent control flow, tensors created on the CPU inside ``forward``) runs for real
instead, once, in eval mode and without gradients.

A tensor is *static* unless it was computed from the example input: parameters, buffers, constants and
anything derived only from them (``weight.t()``, a reshaped weight, ...). The row rules are those of the ONNX
adapter (:mod:`nas_edge.workload._rows`), so :func:`from_torch` and :func:`nas_edge.workload.onnx_adapter.
from_onnx` agree on the same network, row for row. As there, a bias ``add``, an eval-mode batch norm, a
piecewise-linear activation (ReLU, ReLU6/hardtanh, leaky ReLU, hard sigmoid) or a pooling op that is the
only reader of a static layer's output joins that layer (:mod:`nas_edge.workload._fuse`), and views are
free. Fused kernels
(PyTorch's CPU ``scaled_dot_product_attention``) are expanded to ``QK^T``, softmax and ``AV`` rows; PyTorch's
fused transformer fast paths are disabled while tracing so that their ops are seen one by one.

``example_input`` is one inference (batch 1 recommended): a tensor, a tuple of positional arguments, or a
dict of keyword arguments. The result covers ``batch`` inferences (``Workload.batched``). Row names are the
module paths (``layer1.0.conv1``); ``op_types`` holds the ATen op of each row.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import weakref
from collections import Counter
from typing import Any

from nas_edge.errors import NasEdgeError
from nas_edge.workload import _rows as R
from nas_edge.workload._fuse import Op, fold_kind, fuse
from nas_edge.workload.table import DimensionError, OpKind, Workload

VIEW_OPS = frozenset((
    "view", "_unsafe_view", "reshape", "_reshape_alias", "t", "transpose", "permute", "expand", "expand_as",
    "unsqueeze", "squeeze", "select", "slice", "unbind", "split", "split_with_sizes", "chunk", "alias",
    "detach", "as_strided", "flatten", "unflatten", "narrow", "diagonal", "lift_fresh", "view_as",
    "movedim", "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "_local_scalar_dense",
    "sym_size", "sym_stride", "sym_numel", "sym_storage_offset", "is_same_size", "dropout", "feature_dropout",
    "alpha_dropout", "lift_fresh_copy", "resize", "set", "_has_compatible_shallow_copy_type", "clone_if_view",
    "unsafe_split", "unsafe_chunk", "split_copy", "tensor_split", "view_as_real", "view_as_complex",
))
MATMUL_OPS = {"mm": (0, 1), "addmm": (1, 2), "_addmm_activation": (1, 2), "bmm": (0, 1), "baddbmm": (1, 2),
              "addbmm": (1, 2), "mv": (0, 1), "addmv": (1, 2), "dot": (0, 1), "vdot": (0, 1), "matmul": (0, 1),
              "linear": (0, 1), "addr": (1, 2)}
POOL_WINDOW_OPS = frozenset(("max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
                             "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
                             "avg_pool3d", "mkldnn_max_pool2d", "quantized_max_pool2d"))
REDUCE_OPS = frozenset(("mean", "sum", "amax", "amin", "max", "min", "var", "std", "var_mean", "std_mean",
                        "prod", "argmax", "argmin", "logsumexp", "norm", "linalg_vector_norm", "any", "all",
                        "adaptive_avg_pool1d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d",
                        "_adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
                        "adaptive_max_pool3d", "topk", "sort"))
FUSED_FASTPATH = frozenset(("_transformer_encoder_layer_fwd", "_native_multi_head_attention",
                            "_transformer_decoder_only_layer_fwd"))



class TorchTraceError(NasEdgeError, RuntimeError):
    """The module did not run on the example input."""


def _tensors(obj: Any) -> list[Any]:
    import torch
    from torch.utils._pytree import tree_leaves

    return [t for t in tree_leaves(obj) if isinstance(t, torch.Tensor)]


def _first_tensor(obj: Any) -> Any:
    ts = _tensors(obj)
    return ts[0] if ts else None


class _Recorder:
    """Every op that touches the example input, described for the fusion pass (the dispatch mode's callback).

    Tensors computed from the input carry a token (a serial number, by tensor identity, forgotten when the
    tensor dies: ids are reused); an in-place op gives its output a new token.
    """

    def __init__(self) -> None:
        self.token: dict[int, int] = {}  # id(tensor) -> token, for tensors computed from the input
        self.serial = itertools.count()
        self.ops: list[Op] = []
        self.readers: Counter[int] = Counter()
        self.unknown: Counter[str] = Counter()
        self.warnings: list[str] = []
        self.scope: list[str] = [""]

    def _tokens(self, obj: Any) -> tuple[int, ...]:
        return tuple(self.token[id(t)] for t in _tensors(obj) if id(t) in self.token)

    def mark_dynamic(self, obj: Any) -> tuple[int, ...]:
        """Give every tensor in ``obj`` a new token (forgotten when it dies); return the tokens."""
        out = []
        for t in _tensors(obj):
            key = id(t)
            new = key not in self.token
            self.token[key] = next(self.serial)
            out.append(self.token[key])
            if new:
                with contextlib.suppress(TypeError):  # not weak-referenceable: keep it
                    weakref.finalize(t, self.token.pop, key, None)
        return tuple(out)

    def is_static(self, t: Any) -> bool:
        return id(t) not in self.token

    def finish(self, out: Any) -> None:
        """The module's outputs are read by the caller."""
        self.readers.update(self._tokens(out))

    def __call__(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        ins = self._tokens((args, kwargs))
        if not ins:
            return  # constant folding: only parameters, buffers and constants
        self.readers.update(ins)
        outs = self.mark_dynamic(out)
        name = func.overloadpacket.__name__
        base = name[:-1] if name.endswith("_") and not name.startswith("_") else name
        first = args[0] if args and hasattr(args[0], "shape") else None
        src = self.token.get(id(first)) if first is not None and not self.is_static(first) else None
        if base in VIEW_OPS or base in R.QUANTIZE_OPS:
            self.ops.append(Op(base, ins, outs, [], fold="view", src=ins[0] if src is None else src))
            return
        label = self.scope[-1] or base
        try:
            rows = self._rows(base, label, args, kwargs, out)
        except DimensionError:
            raise
        except (ValueError, IndexError, TypeError) as exc:
            self.warnings.append(f"{base} {label!r}: {exc}; counted as an empty digital op")
            rows = [R.digital_row(label, OpKind.OTHER, 0.0, 0.0, 0.0)]
        op = Op(base, ins, outs, rows)
        self._propose_fold(op, base, args, out)
        self.ops.append(op)

    def _propose_fold(self, op: Op, base: str, args: tuple[Any, ...], out: Any) -> None:
        """Mark an op that may join the static layer before it (see :mod:`nas_edge.workload._fuse`)."""
        kind = fold_kind(base)
        dynamic = [a for a in _tensors(args) if not self.is_static(a)]
        if kind is None or len(dynamic) != 1:
            return
        x = dynamic[0]
        if base == "add":
            b = next((a for a in args[:2] if a is not x), None)
            if b is not None and hasattr(b, "shape") and self.is_static(b) and tuple(out.shape) == tuple(x.shape):
                op.fold, op.src, op.bias = kind, self.token.get(id(x)), int(b.numel())
            return
        if args[0] is not x:
            return
        training = base == "_native_batch_norm_legit" or (
            base == "native_batch_norm" and len(args) > 5 and bool(args[5])) or (
            base == "batch_norm" and len(args) > 5 and bool(args[5]))
        if training:
            return
        op.fold, op.src = kind, op.ins[0]
        if kind == "pool":
            op.pooled = float(_first_tensor(out).numel())

    def _rows(self, base: str, label: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any
              ) -> list[dict[str, Any]]:
        out_t = _first_tensor(out)
        out_elems = float(sum(t.numel() for t in _tensors(out))) if base in ("split", "topk", "sort") else float(
            out_t.numel() if out_t is not None else 0)
        if base == "convolution":
            x, w = args[0], args[1]
            transposed, groups = bool(args[6]), int(args[8])
            return [R.conv_row(label, tuple(x.shape), tuple(w.shape), tuple(out_t.shape), groups,
                               transposed=transposed, w_static=self.is_static(w))]
        if base in MATMUL_OPS:
            ia, ib = MATMUL_OPS[base]
            a, b = args[ia], args[ib]
            b_shape = tuple(b.shape)
            if base == "linear":  # weight is [out, in]
                b_shape = b_shape[::-1]
            if base == "addr":  # outer product: a [N] x b [M]
                return [R.matmul_row(label, (a.shape[0], 1), (1, b.shape[0]), self.is_static(a),
                                     self.is_static(b))]
            return [R.matmul_row(label, tuple(a.shape), b_shape, self.is_static(a), self.is_static(b))]
        if "scaled_dot_product" in base and "backward" not in base:
            return self._sdpa(label, args)
        if base == "mkldnn_rnn_layer":  # one direction of a CPU LSTM layer
            x, w_ih, w_hh = args[0], args[1], args[2]
            gates_h, in_f, hidden = w_ih.shape[0], w_ih.shape[1], w_hh.shape[1]
            steps = x.numel() // in_f
            proj = R.matmul_row(f"{label}.input", (steps, in_f), (in_f, gates_h), False, self.is_static(w_ih))
            rec = R.matmul_row(f"{label}.recurrent", (steps, hidden), (hidden, gates_h), False, self.is_static(w_hh))
            gates = R.digital_row(f"{label}.gates", OpKind.ELEMENTWISE, 35.0 * steps * hidden, steps * gates_h,
                                  steps * hidden)
            return [proj, rec, gates]
        if base in FUSED_FASTPATH:
            self.warnings.append(f"fused PyTorch kernel {base} in {label!r} is counted as one digital op")
        in_elems = self._in_elems(args, kwargs, out_elems)
        if base in R.NORM_OPS or base in ("batch_norm", "layer_norm", "group_norm", "rms_norm"):
            x = float(args[0].numel())
            per = R.NORM_OPS.get(base, R.NORM_OPS.get(f"native_{base}", 4.0))
            return [R.digital_row(label, OpKind.NORM, per * x, in_elems, out_elems)]
        if base in R.SOFTMAX_OPS or base in ("softmax", "log_softmax"):
            per = R.SOFTMAX_OPS.get(base, R.SOFTMAX_OPS.get(f"_{base}", 5.0))
            return [R.digital_row(label, OpKind.SOFTMAX, per * out_elems, in_elems, out_elems)]
        if base in POOL_WINDOW_OPS:
            ks = args[1] if len(args) > 1 else kwargs.get("kernel_size", 1)
            ks = [int(k) for k in (ks if isinstance(ks, (list, tuple)) else [ks])]
            dims = len(args[0].shape) - 2
            window = math.prod(ks) if len(ks) == dims else ks[0] ** dims
            return [R.digital_row(label, OpKind.POOL, R.pool_ops(out_elems, window), in_elems, out_elems)]
        if base in REDUCE_OPS:
            x = float(args[0].numel())
            return [R.digital_row(label, OpKind.POOL, x, x, out_elems)]
        if base.startswith(("upsample_", "_upsample_")):
            mode = "nearest" if "nearest" in base else "cubic" if "bicubic" in base else "linear"
            resized = sum(1 for a, b in zip(args[0].shape[2:], out_t.shape[2:], strict=False) if a != b)
            return [R.digital_row(label, OpKind.ELEMENTWISE, R.resize_ops(mode, resized) * out_elems,
                                  in_elems, out_elems)]
        if base in R.MOVE_OPS:
            return [R.digital_row(label, OpKind.ELEMENTWISE, 0.0, in_elems, out_elems)]
        if base in R.OPS_PER_ELEMENT:
            return [R.digital_row(label, OpKind.ELEMENTWISE, R.OPS_PER_ELEMENT[base] * out_elems, in_elems,
                                  out_elems)]
        self.unknown[base] += 1
        return [R.digital_row(label, OpKind.OTHER, out_elems, in_elems, out_elems)]

    def _in_elems(self, args: tuple[Any, ...], kwargs: dict[str, Any], out_elems: float) -> float:
        total = 0.0
        for t in _tensors((args, kwargs)):
            n = float(t.numel())
            total += min(n, out_elems) if self.is_static(t) else n
        return total

    def _sdpa(self, label: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        """PyTorch's fused attention: q [..., L, E], k [..., S, E], v [..., S, Ev]."""
        q, k, v = args[0], args[1], args[2]
        kt = (*k.shape[:-2], k.shape[-1], k.shape[-2])
        scores = R.matmul_row(label, tuple(q.shape), kt, self.is_static(q), self.is_static(k))
        n_scores = float(math.prod(q.shape[:-1]) * k.shape[-2])
        soft = R.digital_row(label, OpKind.SOFTMAX, R.SOFTMAX_OPS["softmax"] * n_scores, n_scores, n_scores)
        av = R.matmul_row(label, (*q.shape[:-1], k.shape[-2]), tuple(v.shape), False, self.is_static(v))
        scores["op"], soft["op"], av["op"] = "bmm", "softmax", "bmm"
        return [scores, soft, av]


def _make_modes(recorder: _Recorder) -> tuple[Any, Any]:
    from torch.overrides import TorchFunctionMode
    from torch.utils._python_dispatch import TorchDispatchMode

    class _Dispatch(TorchDispatchMode):  # type: ignore[no-untyped-call]  # torch's __init_subclass__
        def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                               kwargs: dict[str, Any] | None = None) -> Any:
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            recorder(func, args, kwargs, out)
            return out

    class _NoFastPath(TorchFunctionMode):
        """An active function mode makes PyTorch skip its fused transformer fast paths."""

        def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                               kwargs: dict[str, Any] | None = None) -> Any:
            return func(*args, **(kwargs or {}))

    return _Dispatch(), _NoFastPath()  # type: ignore[no-untyped-call]


def _split_input(example_input: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if isinstance(example_input, dict):
        return (), dict(example_input)
    if isinstance(example_input, (tuple, list)):
        return tuple(example_input), {}
    return (example_input,), {}


def _trace(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], device: str) -> _Recorder:
    import torch
    from torch.utils._pytree import tree_map

    recorder = _Recorder()
    handles = []

    def leave(_m: Any, _a: Any, _o: Any) -> None:
        recorder.scope.pop()

    for path, sub in module.named_modules():
        handles.append(sub.register_forward_pre_hook(lambda _m, _a, p=path: recorder.scope.append(p)))
        handles.append(sub.register_forward_hook(leave))
    dispatch, no_fast_path = _make_modes(recorder)
    try:
        if device == "meta":
            def to_meta(t: Any) -> Any:
                return t.to("meta") if isinstance(t, torch.Tensor) else t

            state = {k: to_meta(v) for k, v in (*module.named_parameters(remove_duplicate=False),
                                                 *module.named_buffers(remove_duplicate=False))}
            margs, mkwargs = tree_map(to_meta, args), tree_map(to_meta, kwargs)
            recorder.mark_dynamic((margs, mkwargs))
            with torch.no_grad(), no_fast_path, dispatch:
                recorder.finish(torch.func.functional_call(module, state, margs, mkwargs))
        else:
            recorder.mark_dynamic((args, kwargs))
            with torch.no_grad(), no_fast_path, dispatch:
                recorder.finish(module(*args, **kwargs))
    finally:
        for h in handles:
            h.remove()
    return recorder


def from_torch(module: Any, example_input: Any, *, batch: int = 1, device: str = "auto") -> Workload:
    """The workload of ``module`` run on ``example_input`` (one inference), covering ``batch`` inferences.

    ``device``: ``"meta"`` (shapes only), ``"real"`` (run the module as it is), or ``"auto"`` (meta, and real
    if the module cannot run on meta). The module's training flags are restored afterwards.
    """
    if int(batch) < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if device not in ("auto", "meta", "real"):
        raise ValueError("device must be 'auto', 'meta' or 'real'")
    args, kwargs = _split_input(example_input)
    if not _tensors((args, kwargs)):
        raise ValueError("example_input holds no tensor")
    modes = {name: m.training for name, m in module.named_modules()}
    module.eval()
    used = device
    try:
        if device == "real":
            recorder = _trace(module, args, kwargs, "real")
        else:
            try:
                recorder = _trace(module, args, kwargs, "meta")
                used = "meta"
            except Exception as exc:
                if device == "meta":
                    raise TorchTraceError(f"{type(module).__name__} does not run on the meta device: {exc}") from exc
                recorder = _trace(module, args, kwargs, "real")
                used = "real"
    except TorchTraceError:
        raise
    except Exception as exc:
        raise TorchTraceError(f"{type(module).__name__} failed on the example input: {exc}") from exc
    finally:
        for name, m in module.named_modules():
            m.training = modes.get(name, m.training)
    warnings = list(recorder.warnings)
    if recorder.unknown:
        ops = ", ".join(f"{op} ({n})" for op, n in sorted(recorder.unknown.items()))
        warnings.append(f"unknown ATen ops counted as digital ops (1 op per output element): {ops}")
    rows = fuse(recorder.ops, recorder.readers)
    meta = {"source": type(module).__name__, "device": used,
            "initializer_params": float(sum(p.numel() for p in module.parameters()))}
    return Workload.from_rows(rows, meta=meta, warnings=warnings).batched(int(batch))


__all__ = ["TorchTraceError", "from_torch"]

"""Row rules shared by the ONNX and torch adapters, so that both count the same network the same way.

Conventions (beyond the column meanings in :mod:`nas_edge.workload.table`):

- **matmul** ``A[..., M, K] @ B[..., K, N]`` (NumPy broadcasting, rank-1 operands promoted): with a static
  ``B`` it is a ``LINEAR`` layer whose weight is ``K x N`` per group, groups being the product of ``B``'s batch
  dimensions; with a static ``A`` (``Y = W X``) the weight is ``A`` (``K x M`` per group) and the vectors are
  ``B``'s columns; with two activations it is a ``DYNAMIC_MATMUL`` whose groups are the product of the batch
  dimensions (attention heads, at batch 1). MACs are ``prod(batch) * M * K * N`` in every case.
- **convolution** ``X[N, C, *S] * W[M, C/g, *k]``: ``k = C/g * prod(k)``, ``n = M``, ``m = N * prod(S_out)``.
  **Transposed convolution** ``W[C, M/g, *k]`` is mapped the way a crossbar computes it: every *input* pixel
  (``m = N * prod(S_in)``) meets a ``C/g x (M/g * prod(k))`` matrix per group and the products are scattered
  (col2im), so ``k = C/g``, ``n = M * prod(k)``, ``kernel = 1`` and MACs are the true count (no zeros).
- **quantize / dequantize** (:data:`QUANTIZE_OPS`) of activations have no row: an INT8 QDQ graph costs what
  its float graph costs, at the chip's own precision (the profile's); the bit widths read from the graph are
  reported in ``meta["quantized_bits"]`` by the ONNX adapter.
- **digital ops** count elementary operations per output element (table :data:`OPS_PER_ELEMENT`);
  transcendental functions count 4, data movement (transpose, concat, gather, pad, ...) counts 0 ops and
  only its bytes. Reductions and pooling count one op per input element (per window element for pooling).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from nas_edge.workload.table import MAX_COUNT, DimensionError, OpKind

Shape = tuple[int, ...]

# elementary ops per output element of element-wise ops (ONNX op type and torch aten name, lower case)
OPS_PER_ELEMENT: dict[str, float] = {
    **dict.fromkeys(
        ("add", "sub", "mul", "div", "neg", "abs", "relu", "sign", "ceil", "floor", "round", "reciprocal",
         "max", "min", "maximum", "minimum", "sum", "mean", "equal", "eq", "ne", "greater", "gt", "ge", "less",
         "lt", "le", "greaterorequal", "lessorequal", "and", "or", "xor", "not", "logical_and", "logical_or",
         "logical_not", "bitwise_and", "bitwise_or", "bitwise_not", "where", "masked_fill", "mod", "fmod",
         "remainder", "bitshift", "cast", "castlike", "_to_copy", "to", "trilu", "tril", "triu", "onehot",
         "one_hot", "cumsum", "isnan", "isinf", "add_", "mul_", "sub_", "div_", "relu_", "threshold",
         "clamp_min", "clamp_max", "rsub", "sgn", "bitwiseand", "bitwiseor", "bitwisenot", "bitwisexor",
         "nonzero", "range", "shrink", "thresholdedrelu"), 1.0),
    **dict.fromkeys(("clip", "clamp", "hardtanh", "hardtanh_", "leakyrelu", "leaky_relu", "prelu",
                     "_prelu_kernel", "sqrt", "rsqrt", "square"), 2.0),
    **dict.fromkeys(("hardsigmoid", "hardsigmoid_", "softsign", "hardswish", "hardswish_", "exp", "log",
                     "pow", "erf", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh",
                     "acosh", "atanh", "log1p", "expm1", "log2", "dynamicquantizelinear"), 4.0),
    **dict.fromkeys(("sigmoid", "tanh", "elu", "celu", "selu", "softplus", "silu", "silu_", "swish"), 5.0),
    **dict.fromkeys(("gelu", "fastgelu", "biasgelu", "quickgelu", "mish"), 8.0),
}
# quantize / dequantize of activations: on a chip that computes in that precision they are the
# representation, not work (no row, like a view); DynamicQuantizeLinear computes its scale and stays a row
QUANTIZE_OPS = frozenset((
    "quantizelinear", "dequantizelinear", "quantize_per_tensor", "quantize_per_channel", "dequantize",
    "fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine",
    "fake_quantize_per_tensor_affine_cachemask", "fake_quantize_per_channel_affine_cachemask",
    "_fake_quantize_per_tensor_affine_cachemask_tensor_qparams", "_fake_quantize_learnable_per_tensor_affine",
    "_fake_quantize_learnable_per_channel_affine",
))
# data movement: bytes only
MOVE_OPS = frozenset((
    "transpose", "concat", "cat", "stack", "split", "slice", "gather", "gatherelements", "gathernd",
    "scatter", "scatterelements", "scatternd", "pad", "constant_pad_nd", "reflection_pad2d",
    "replication_pad2d", "tile", "repeat", "expand", "depthtospace", "spacetodepth", "pixel_shuffle",
    "pixel_unshuffle", "compress", "reversesequence", "clone", "copy", "copy_", "contiguous", "index",
    "index_select", "embedding", "index_put", "flip", "roll", "col2im", "im2col", "unfold",
    "select_scatter", "slice_scatter", "new_zeros", "zeros_like", "ones_like", "full_like", "fill",
    "fill_", "zero_",
))
# normalisations: ops per element
NORM_OPS: dict[str, float] = {
    "batchnormalization": 2.0, "native_batch_norm": 2.0, "_native_batch_norm_legit_no_training": 2.0,
    "_native_batch_norm_legit": 2.0, "layernormalization": 7.0, "native_layer_norm": 7.0,
    "groupnormalization": 7.0, "native_group_norm": 7.0, "instancenormalization": 7.0,
    "meanvariancenormalization": 6.0, "rmsnormalization": 4.0, "simplifiedlayernormalization": 4.0,
    "skiplayernormalization": 8.0, "skipsimplifiedlayernormalization": 5.0, "lpnormalization": 3.0,
    "_fused_rms_norm": 4.0, "lrn": 5.0, "embedlayernormalization": 9.0,
}
SOFTMAX_OPS: dict[str, float] = {"softmax": 5.0, "logsoftmax": 6.0, "_softmax": 5.0, "_safe_softmax": 5.0,
                                 "_log_softmax": 6.0, "hardmax": 2.0}


def numel(shape: Sequence[int]) -> int:
    return math.prod(int(d) for d in shape)


def _row(name: str, kind: OpKind, *, k: int = 1, n: int = 1, m: int = 1, groups: int = 1, kernel: int = 1,
         macs: float, params: float = 0.0, in_elems: float, out_elems: float) -> dict[str, Any]:
    if max(k, n, m, groups, kernel) > MAX_COUNT:
        raise DimensionError(f"{name!r}: tensor dimensions too large ({max(k, n, m, groups, kernel):.3g} "
                             f"elements; at most {MAX_COUNT:.3g})")
    return {"name": name, "kind": int(kind), "k": int(k), "n": int(n), "m": max(1, int(m)),
            "groups": int(groups), "kernel": int(kernel), "macs": float(macs), "params": float(params),
            "in_elems": float(in_elems), "out_elems": float(out_elems)}


def digital_row(name: str, kind: OpKind, ops: float, in_elems: float, out_elems: float) -> dict[str, Any]:
    """An element-wise / normalisation / softmax / pooling / other row: ``macs`` holds elementary ops."""
    return _row(name, kind, macs=ops, in_elems=in_elems, out_elems=out_elems)


def broadcast(a: Sequence[int], b: Sequence[int]) -> Shape:
    """NumPy broadcast of two shapes (raises ValueError when they do not broadcast)."""
    out = []
    for x, y in zip(reversed((1,) * (len(b) - len(a)) + tuple(a)), reversed((1,) * (len(a) - len(b)) + tuple(b)),
                    strict=True):
        if x != y and 1 not in (x, y):
            raise ValueError(f"shapes {tuple(a)} and {tuple(b)} do not broadcast")
        out.append(max(x, y) if min(x, y) != 0 else 0)
    return tuple(reversed(out))


def matmul_row(name: str, a: Sequence[int], b: Sequence[int], a_static: bool, b_static: bool) -> dict[str, Any]:
    """Row of ``A @ B`` (see the module docstring). Both static is constant folding and has no row."""
    a2 = (1, *a) if len(a) == 1 else tuple(a)
    b2 = (*b, 1) if len(b) == 1 else tuple(b)
    if len(a2) < 2 or len(b2) < 2:
        raise ValueError(f"matmul of scalars {tuple(a)} @ {tuple(b)}")
    m_, k_, n_ = a2[-2], a2[-1], b2[-1]
    if b2[-2] != k_:
        raise ValueError(f"matmul shapes {tuple(a)} @ {tuple(b)} do not match")
    batch = numel(broadcast(a2[:-2], b2[:-2]))
    macs = batch * m_ * k_ * n_
    out = batch * m_ * n_
    if b_static and not a_static:
        g = numel(b2[:-2])
        return _row(name, OpKind.LINEAR, k=k_, n=n_ * g, m=batch * m_ // g, groups=g, macs=macs,
                    params=numel(b2), in_elems=numel(a2), out_elems=out)
    if a_static and not b_static:  # Y = W X: the vectors are X's columns
        g = numel(a2[:-2])
        return _row(name, OpKind.LINEAR, k=k_, n=m_ * g, m=batch * n_ // g, groups=g, macs=macs,
                    params=numel(a2), in_elems=numel(b2), out_elems=out)
    return _row(name, OpKind.DYNAMIC_MATMUL, k=k_, n=n_ * batch, m=m_, groups=batch, macs=macs,
                in_elems=numel(a2) + numel(b2), out_elems=out)


def conv_row(name: str, x: Sequence[int], w: Sequence[int], y: Sequence[int], groups: int, *,
             transposed: bool = False, w_static: bool = True) -> dict[str, Any]:
    """Row of a (transposed) convolution from its input, weight and output shapes."""
    if len(x) < 3 or len(w) != len(x) or len(y) != len(x):
        raise ValueError(f"convolution shapes X{tuple(x)} W{tuple(w)} Y{tuple(y)} are not N x C x spatial")
    kk = numel(w[2:])
    if transposed:
        k_, n_, m_, kernel = w[0] // groups, w[1] * groups * kk, x[0] * numel(x[2:]), 1
        if k_ * groups != x[1]:
            raise ValueError(f"ConvTranspose weight {tuple(w)} does not match input channels {x[1]}")
    else:
        k_, n_, m_, kernel = w[1] * kk, w[0], y[0] * numel(y[2:]), kk
        if w[1] * groups != x[1]:
            raise ValueError(f"Conv weight {tuple(w)} with {groups} groups does not match input channels {x[1]}")
    kind = OpKind.CONV if w_static else OpKind.DYNAMIC_MATMUL
    return _row(name, kind, k=k_, n=n_, m=m_, groups=groups, kernel=kernel if w_static else 1,
                macs=m_ * k_ * n_, params=numel(w) if w_static else 0.0,
                in_elems=numel(x) + (0 if w_static else numel(w)), out_elems=numel(y))


def einsum_rows(name: str, equation: str, shapes: Sequence[Sequence[int]], static: Sequence[bool]
                ) -> list[dict[str, Any]]:
    """Rows of an einsum: two-operand contractions are matmuls (batch letters = groups, summed letters = K),
    more operands are contracted left to right, one operand is a reduction / permutation."""
    terms, out = _einsum_parse(equation, [len(s) for s in shapes])
    size: dict[str, int] = {}
    for term, shape in zip(terms, shapes, strict=True):
        for letter, d in zip(term, shape, strict=True):
            if size.get(letter, 1) == 1:
                size[letter] = int(d)

    def prod(letters: Iterable[str]) -> int:
        return math.prod(size[c] for c in letters)

    if len(terms) == 1:
        return [digital_row(name, OpKind.POOL if set(terms[0]) - set(out) else OpKind.ELEMENTWISE,
                            0.0 if set(terms[0]) == set(out) else prod(terms[0]), prod(terms[0]), prod(out))]
    rows: list[dict[str, Any]] = []
    left, left_static = terms[0], static[0]
    for i in range(1, len(terms)):
        right, right_static = terms[i], static[i]
        keep = set(out).union(*terms[i + 1:])
        res = "".join(dict.fromkeys(c for c in left + right if c in keep))
        if not (left_static and right_static):
            batch = [c for c in dict.fromkeys(left) if c in right and c in res]
            mdims = [c for c in dict.fromkeys(left) if c not in right and c in res]
            ndims = [c for c in dict.fromkeys(right) if c not in left and c in res]
            kdims = [c for c in dict.fromkeys(left + right) if c not in res]
            g, m_, k_, n_ = prod(batch), prod(mdims), prod(kdims), prod(ndims)
            macs = prod(set(left + right))
            sub = f"{name}#{i}" if len(terms) > 2 else name
            if right_static or left_static:
                w_term, x_term = (right, left) if right_static else (left, right)
                vec = m_ if right_static else n_
                outs = n_ if right_static else m_
                rows.append(_row(sub, OpKind.LINEAR, k=k_, n=outs * g, m=vec, groups=g, macs=macs,
                                 params=prod(w_term), in_elems=prod(x_term), out_elems=prod(res)))
            else:
                rows.append(_row(sub, OpKind.DYNAMIC_MATMUL, k=k_, n=n_ * g, m=m_, groups=g, macs=macs,
                                 in_elems=prod(left) + prod(right), out_elems=prod(res)))
        left, left_static = res, left_static and right_static
    return rows


def _einsum_parse(equation: str, ranks: Sequence[int]) -> tuple[list[str], str]:
    """Explicit operand and output subscripts, ellipses expanded to fresh letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ValueError(f"einsum {equation!r} has {len(terms)} operands, got {len(ranks)} inputs")
    used = set(eq) - set(".,->")
    fresh = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    ell_rank = max((r - (len(t) - 3) for t, r in zip(terms, ranks, strict=True) if "..." in t), default=0)
    ell = "".join(fresh[:ell_rank])
    expanded = []
    for t, r in zip(terms, ranks, strict=True):
        if "..." in t:
            n_ell = r - (len(t) - 3)
            t = t.replace("...", ell[ell_rank - n_ell:] if n_ell else "")
        if len(t) != r or not t.isalpha():
            raise ValueError(f"einsum term {t!r} does not match an operand of rank {r}")
        expanded.append(t)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts = {c: sum(t.count(c) for t in expanded) for c in set("".join(expanded))}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return expanded, out


def pool_ops(out_elems: float, window: int) -> float:
    """Pooling: one op per window element per output."""
    return float(out_elems * window)


def resize_ops(mode: str, resized_axes: int) -> float:
    """Ops per output element of a resize: nearest 1, (bi/tri)linear 2^(r+1) - 1, cubic 2 * 4^r."""
    if mode == "nearest":
        return 1.0
    if mode == "cubic":
        return 2.0 * 4.0 ** resized_axes
    return 2.0 ** (resized_axes + 1) - 1.0

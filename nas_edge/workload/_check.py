"""Row validation of a Workload in one compiled pass (the analytic hot path builds thousands per second)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from numba import njit

F = TypeVar("F", bound=Callable[..., Any])


def _jit(**options: Any) -> Callable[[F], F]:
    """``numba.njit`` keeping the function's signature for the type checker (numba's own types do not)."""
    return cast(Callable[[F], F], njit(**options))


F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: (column, what was expected) for each check code returned by :func:`first_bad`
CHECKS = (
    ("kind", "an op kind code 0..7"),
    ("m", "at least 1 input vector"),
    ("groups", "at least 1 group"),
    ("kernel", "a kernel size of at least 1"),
    ("macs", "a finite count >= 0"),
    ("params", "a finite count >= 0"),
    ("in_elems", "a finite count >= 0"),
    ("out_elems", "a finite count >= 0"),
    ("k", "a reduction size of at least 1"),
    ("n", "at least 1 output"),
    ("n", "a multiple of groups"),
    ("k", "a multiple of kernel (channels x kernel)"),
)


@_jit(cache=True)
def _bad_count(x: float) -> bool:
    return not (math.isfinite(x) and x >= 0)


@_jit(cache=True)
def first_bad(kind: I64, k: I64, n: I64, m: I64, groups: I64, kernel: I64, macs: F64, params: F64, in_elems: F64,
              out_elems: F64, max_kind: int) -> tuple[int, int]:
    """(row, check code) of the first impossible value, or (-1, -1)."""
    for i in range(kind.shape[0]):
        if kind[i] < 0 or kind[i] > max_kind:
            return i, 0
        if m[i] < 1:
            return i, 1
        if groups[i] < 1:
            return i, 2
        if kernel[i] < 1:
            return i, 3
        if _bad_count(macs[i]):
            return i, 4
        if _bad_count(params[i]):
            return i, 5
        if _bad_count(in_elems[i]):
            return i, 6
        if _bad_count(out_elems[i]):
            return i, 7
        if kind[i] <= 2:  # matmul kinds
            if k[i] < 1:
                return i, 8
            if n[i] < 1:
                return i, 9
            if n[i] % groups[i] != 0:
                return i, 10
            if k[i] % kernel[i] != 0:
                return i, 11
    return -1, -1

"""Encode Optuna parameters as rows of floats and back.

Numerical parameters map to [0, 1] (log scale where the distribution is logarithmic; discrete ones with half a
step of margin on each side so that rounding gives every grid point the same width). Categorical parameters
become their choice index. Decoding snaps to the distribution's grid and returns plain Python values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution


class SpaceEncoder:
    """Vectorised encoder for one (relative) search space, parameters in sorted-name order."""

    def __init__(self, search_space: Mapping[str, BaseDistribution]) -> None:
        self.names = sorted(search_space)
        self.dists = [search_space[n] for n in self.names]
        d = len(self.names)
        self.is_cat = np.array([isinstance(x, CategoricalDistribution) for x in self.dists], dtype=bool)
        self.n_choices = np.array([len(x.choices) if isinstance(x, CategoricalDistribution) else 0
                                   for x in self.dists], dtype=int)
        self.is_log = np.zeros(d, dtype=bool)
        self.step = np.zeros(d)  # 0 = continuous
        self.low = np.zeros(d)
        self.high = np.zeros(d)
        self.lo_t = np.zeros(d)  # transformed bounds (with margins for discrete)
        self.hi_t = np.ones(d)
        for j, dist in enumerate(self.dists):
            if isinstance(dist, CategoricalDistribution):
                continue
            assert isinstance(dist, (FloatDistribution, IntDistribution))
            self.low[j], self.high[j] = float(dist.low), float(dist.high)
            self.is_log[j] = bool(dist.log)
            step = dist.step if dist.step is not None else 0.0
            if isinstance(dist, IntDistribution) and dist.log:
                step = 1.0
            self.step[j] = float(step)
            lo, hi = self.low[j], self.high[j]
            if self.step[j] > 0:
                lo, hi = lo - 0.5 * self.step[j], hi + 0.5 * self.step[j]
            if self.is_log[j]:
                lo, hi = math.log(max(lo, 1e-300)), math.log(hi)
            self.lo_t[j], self.hi_t[j] = lo, hi
        self.span_t = np.where(self.hi_t > self.lo_t, self.hi_t - self.lo_t, 1.0)
        # Categorical parameters whose choices are all numbers (widths, kernel sizes, bit widths ...) keep
        # their order for the surrogate: it sees them as a value in [0, 1] (log scale when all positive).
        self.ordinal_tables: dict[int, np.ndarray] = {}
        for j, dist in enumerate(self.dists):
            if isinstance(dist, CategoricalDistribution) and len(dist.choices) > 2 and all(
                    isinstance(c, int | float) and not isinstance(c, bool) for c in dist.choices):
                v = np.array(dist.choices, dtype=float)
                if np.all(np.isfinite(v)) and len(set(v.tolist())) == len(v):
                    v = np.log(v) if np.all(v > 0) else v
                    self.ordinal_tables[j] = (v - v.min()) / (v.max() - v.min())
        self.kernel_is_cat = self.is_cat.copy()
        for j in self.ordinal_tables:
            self.kernel_is_cat[j] = False
        # width of one grid cell in the encoding (0 for continuous parameters)
        n_grid = np.where(self.step > 0, np.round((self.high - self.low) / np.where(self.step > 0, self.step,
                                                                                  1.0)) + 1, 0)
        self.cell_width = np.where(n_grid > 0, 1.0 / np.maximum(n_grid, 1), 0.0)
        # plain-Python copies for the per-trial loop in encode_params
        self._low, self._high = self.low.tolist(), self.high.tolist()
        self._log = self.is_log.tolist()
        self._lo_t, self._span_t = self.lo_t.tolist(), self.span_t.tolist()

    def __len__(self) -> int:
        return len(self.names)

    def snap(self, x: np.ndarray) -> np.ndarray:
        """Project encoded rows onto valid values (grid points, [0, 1], valid choice indices)."""
        x = np.array(x, dtype=float, copy=True)
        num = ~self.is_cat
        if num.any():
            x[:, num] = self.encode_internal(self.decode_internal(x)[:, num], only=num)
        if self.is_cat.any():
            x[:, self.is_cat] = np.clip(np.floor(x[:, self.is_cat]), 0, self.n_choices[self.is_cat] - 1)
        return x

    def decode_internal(self, x: np.ndarray) -> np.ndarray:
        """Encoded rows -> Optuna internal representations (floats; categorical = index)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        out = np.array(x, copy=True)
        num = ~self.is_cat
        t = self.lo_t + np.clip(x, 0.0, 1.0) * (self.hi_t - self.lo_t)
        v = np.where(self.is_log, np.exp(np.where(self.is_log, t, 0.0)), t)
        stepped = self.step > 0
        base = np.where(stepped, self.low, 0.0)
        stp = np.where(stepped, self.step, 1.0)
        v = np.where(stepped, base + np.round((v - base) / stp) * stp, v)
        v = np.clip(v, self.low, self.high)
        out[:, num] = v[:, num]
        return out

    def encode_internal(self, v: np.ndarray, *, only: np.ndarray | None = None) -> np.ndarray:
        """Internal numerical values -> [0, 1] (for the columns in ``only``, all numerical ones by default)."""
        cols = np.flatnonzero(~self.is_cat if only is None else only)
        v = np.asarray(v, dtype=float)
        t = np.where(self.is_log[cols], np.log(np.maximum(v, 1e-300)), v)
        return (t - self.lo_t[cols]) / self.span_t[cols]

    def encode_params(self, params: Mapping[str, Any]) -> np.ndarray | None:
        """One trial's external params -> encoded row, or None if a parameter is missing or out of range."""
        row = np.zeros(len(self.names))
        for j, (name, dist) in enumerate(zip(self.names, self.dists, strict=True)):
            if name not in params:
                return None
            value = params[name]
            if isinstance(dist, CategoricalDistribution):
                try:
                    row[j] = dist.to_internal_repr(value)
                except ValueError:
                    return None
                continue
            fv = float(value)
            if not math.isfinite(fv):
                return None
            fv = min(max(fv, self._low[j]), self._high[j])
            t = math.log(max(fv, 1e-300)) if self._log[j] else fv
            row[j] = (t - self._lo_t[j]) / self._span_t[j]
        return row

    def decode_params(self, x: np.ndarray) -> dict[str, Any]:
        """One encoded row -> external params with plain Python types."""
        return self.decode_many(x[None, :])[0]

    def decode_many(self, x: np.ndarray) -> list[dict[str, Any]]:
        """Encoded rows -> one external params dict per row (plain Python types)."""
        internal = self.decode_internal(x)
        columns: list[list[Any]] = []
        for j, dist in enumerate(self.dists):
            col = internal[:, j]
            if isinstance(dist, CategoricalDistribution):
                columns.append([dist.choices[i] for i in col.astype(int).tolist()])
            elif isinstance(dist, IntDistribution):
                columns.append(np.rint(col).astype(np.int64).tolist())
            else:
                columns.append(col.tolist())
        return [dict(zip(self.names, row, strict=True)) for row in zip(*columns, strict=True)] if columns else [
            {} for _ in range(len(internal))]

    def keys(self, x: np.ndarray) -> list[bytes]:
        """Hashable identity of each encoded row after decoding (equal keys = same parameters)."""
        internal = np.ascontiguousarray(self.decode_internal(x))
        return [row.tobytes() for row in internal]

    def kernel_inputs(self, x: np.ndarray) -> np.ndarray:
        """The surrogate's view of encoded rows: numeric categorical choices become ordered values."""
        if not self.ordinal_tables:
            return x
        out = np.array(x, dtype=float, copy=True)
        for j, table in self.ordinal_tables.items():
            out[:, j] = table[out[:, j].astype(int)]
        return out

    def random(self, rng: np.random.RandomState, n: int) -> np.ndarray:
        """``n`` encoded rows drawn uniformly (uniform over grid points for discrete parameters)."""
        x = rng.random_sample((n, len(self.names)))
        if self.is_cat.any():
            x[:, self.is_cat] = np.floor(x[:, self.is_cat] * self.n_choices[self.is_cat])
        return self.snap(x)

"""Exact hypervolume and the box decomposition of the non-dominated region (minimisation).

Everything here is for *minimisation*: flip the sign of objectives to be maximised before calling.
Both functions slice the space along the last objective and recurse, which is exact for any number of
objectives and fast for the 2-4 objectives of hardware-aware search (boxes that stay the same across
slices are merged: a front of ``n`` points in 3-D gives O(n) boxes). Optuna's
``optuna._hypervolume.compute_hypervolume`` is private, so the project uses :func:`hypervolume` (tested
against Optuna's) everywhere.
"""

from __future__ import annotations

import bisect
import math

import numpy as np


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``points`` (minimisation); of duplicates the first stays."""
    pts = np.asarray(points, dtype=float)
    n = len(pts)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort(pts.T[::-1])  # lexicographic: a dominating point always comes before its victims
    srt = pts[order]
    keep_sorted = np.ones(n, dtype=bool)
    if pts.shape[1] == 1:
        keep_sorted[1:] = False
    elif pts.shape[1] == 2:
        # sorted by x then y: a point survives iff its y beats every earlier y
        prev_best = np.minimum.accumulate(srt[:, 1])
        keep_sorted[1:] = srt[1:, 1] < prev_best[:-1]
    else:
        # a sorted point is dropped iff some earlier sorted point is <= in every objective
        for start in range(0, n, 256):
            block = srt[start : start + 256]
            le = np.all(srt[None, :, :] <= block[:, None, :], axis=2)  # (block, n): j <= i
            earlier = np.arange(n)[None, :] < (start + np.arange(len(block)))[:, None]
            keep_sorted[start : start + len(block)] = ~np.any(le & earlier, axis=1)
    keep = np.zeros(n, dtype=bool)
    keep[order] = keep_sorted
    return keep


def nondominated_ranks(points: np.ndarray) -> np.ndarray:
    """Non-dominated sorting rank of each row (0 = Pareto front), minimisation; duplicates share a rank."""
    pts = np.asarray(points, dtype=float)
    n = len(pts)
    ranks = np.full(n, -1, dtype=int)
    if n == 0:
        return ranks
    # dominated_by[i, j]: j dominates i
    le = np.all(pts[None, :, :] <= pts[:, None, :], axis=2)
    lt = np.any(pts[None, :, :] < pts[:, None, :], axis=2)
    dominated_by = le & lt
    remaining = np.ones(n, dtype=bool)
    rank = 0
    while remaining.any():
        current = remaining & ~np.any(dominated_by & remaining[None, :], axis=1)
        ranks[current] = rank
        remaining &= ~current
        rank += 1
    return ranks


def _hv_sorted(pts: np.ndarray, ref: np.ndarray) -> float:
    """HV of points that all strictly dominate ``ref``, sorted ascending by the last column."""
    m = pts.shape[1]
    if len(pts) == 0:
        return 0.0
    if m == 1:
        return float(ref[0] - pts[:, 0].min())
    if m == 2:
        order = np.argsort(pts[:, 0], kind="stable")
        x = pts[order, 0]
        y_best = np.minimum.accumulate(pts[order, 1])
        widths = np.diff(np.append(x, ref[0]))
        return float(np.sum(widths * (ref[1] - y_best)))
    total = 0.0
    z = pts[:, -1]
    upper = np.append(z[1:], ref[-1])
    for k in range(len(pts)):
        width = upper[k] - z[k]
        if width <= 0.0:
            continue
        sub = pts[: k + 1, :-1]
        sub = sub[pareto_mask(sub)]
        sub = sub[np.argsort(sub[:, -1], kind="stable")]
        total += width * _hv_sorted(sub, ref[:-1])
    return total


def hypervolume(points: np.ndarray, reference_point: np.ndarray) -> float:
    """Exact hypervolume dominated by ``points`` and bounded by ``reference_point`` (minimisation).

    Points that do not strictly dominate the reference point in every objective contribute nothing.
    """
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    ref = np.asarray(reference_point, dtype=float)
    if pts.size == 0:
        return 0.0
    if pts.shape[1] != ref.shape[0]:
        raise ValueError(f"points have {pts.shape[1]} objectives, reference point {ref.shape[0]}")
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[pareto_mask(pts)]
    pts = pts[np.argsort(pts[:, -1], kind="stable")]
    return _hv_sorted(pts, ref)


def _boxes_sorted(front: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes of the region below ``ref`` not weakly dominated by ``front`` (a Pareto set, sorted by last col)."""
    m = len(ref)
    if m == 1:
        top = front[:, 0].min() if len(front) else ref[0]
        return np.array([[-np.inf]]), np.array([[top]])
    if m == 2:
        order = np.argsort(front[:, 0], kind="stable")
        x = front[order, 0]
        y = front[order, 1]
        lo = np.column_stack([np.append(-np.inf, x), np.full(len(x) + 1, -np.inf)])
        hi = np.column_stack([np.append(x, ref[0]), np.append(ref[1], y)])
        keep = hi[:, 0] > lo[:, 0]
        return lo[keep], hi[keep]
    z = front[:, -1]
    edges = np.concatenate([[-np.inf], z, [ref[-1]]])
    # Slab k (edges[k] <= last < edges[k + 1]) is dominated only through the first k points. A sub-box that
    # stays the same over consecutive slabs is emitted once, spanning them all: O(n) boxes in 3-D instead
    # of O(n^2).
    open_boxes: dict[bytes, tuple[np.ndarray, np.ndarray, float]] = {}
    los: list[np.ndarray] = []
    his: list[np.ndarray] = []

    def close(key: bytes, end: float) -> None:
        lo, hi, start = open_boxes.pop(key)
        los.append(np.append(lo, start))
        his.append(np.append(hi, end))

    for k in range(len(front) + 1):
        if edges[k + 1] <= edges[k]:
            continue
        sub = front[:k, :-1]
        if len(sub):
            sub = sub[pareto_mask(sub)]
            sub = sub[np.argsort(sub[:, -1], kind="stable")]
        lo, hi = _boxes_sorted(sub, ref[:-1])
        current = {np.concatenate([lo[i], hi[i]]).tobytes(): i for i in range(len(lo))}
        for key in [key for key in open_boxes if key not in current]:
            close(key, edges[k])
        for key, i in current.items():
            if key not in open_boxes:
                open_boxes[key] = (lo[i], hi[i], edges[k])
    for key in list(open_boxes):
        close(key, edges[-1])
    return np.asarray(los), np.asarray(his)


def _boxes_3d(front: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3-D special case of :func:`_boxes_sorted` (front sorted by the last column): a sweep along z.

    The points with z below the sweep plane dominate through their (x, y) staircase. Each staircase box
    is identified by its x extent and its y top; inserting a point closes the boxes it touches and opens
    two, so the sweep emits O(n) boxes with O(n) work per insertion at most.
    """
    ref_x, ref_y, ref_z = (float(v) for v in ref)
    xs: list[float] = []  # the (x, y) staircase: x ascending, y descending
    ys: list[float] = []
    open_boxes: dict[tuple[float, float, float], float] = {(-math.inf, ref_x, ref_y): -math.inf}
    out_lo: list[tuple[float, float, float]] = []
    out_hi: list[tuple[float, float, float]] = []

    def close(key: tuple[float, float, float], z: float) -> None:
        start = open_boxes.pop(key)
        if z > start:
            out_lo.append((key[0], -math.inf, start))
            out_hi.append((key[1], key[2], z))

    for x, y, z in front.tolist():
        i = bisect.bisect_right(xs, x) - 1
        if i >= 0 and ys[i] <= y:
            continue  # weakly dominated in (x, y) by a point with a lower z: nothing changes
        j = bisect.bisect_left(xs, x)
        r = j
        while r < len(xs) and ys[r] >= y:
            r += 1
        for b in range(j, r + 1):  # boxes whose left or right neighbour changes
            left = xs[b - 1] if b > 0 else -math.inf
            right = xs[b] if b < len(xs) else ref_x
            top = ys[b - 1] if b > 0 else ref_y
            close((left, right, top), z)
        left = xs[j - 1] if j > 0 else -math.inf
        top = ys[j - 1] if j > 0 else ref_y
        right = xs[r] if r < len(xs) else ref_x
        del xs[j:r], ys[j:r]
        xs.insert(j, x)
        ys.insert(j, y)
        for key in ((left, x, top), (x, right, y)):
            open_boxes.setdefault(key, z)
    for key in list(open_boxes):
        close(key, ref_z)
    return np.array(out_lo, dtype=float).reshape(-1, 3), np.array(out_hi, dtype=float).reshape(-1, 3)


def nondominated_boxes(points: np.ndarray, reference_point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint boxes ``(lower, upper)`` covering the part of ``(-inf, ref]`` no point weakly dominates.

    Lower bounds may be ``-inf``. The hypervolume gain of a new point ``y`` is
    ``sum_b prod_j max(0, upper[b, j] - max(lower[b, j], y[j]))``.
    """
    ref = np.asarray(reference_point, dtype=float)
    pts = np.atleast_2d(np.asarray(points, dtype=float)).reshape(-1, len(ref))
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts):
        pts = pts[pareto_mask(pts)]
        pts = pts[np.argsort(pts[:, -1], kind="stable")]
    return _boxes_3d(pts, ref) if len(ref) == 3 else _boxes_sorted(pts, ref)


def hypervolume_gain(candidates: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Exact hypervolume gain of each candidate row over the front the boxes were built from."""
    c = np.atleast_2d(np.asarray(candidates, dtype=float))
    side = upper[None, :, :] - np.maximum(lower[None, :, :], c[:, None, :])
    return np.prod(np.clip(side, 0.0, None), axis=2).sum(axis=1)

"""Hypervolume, box decomposition, EHVI and the GP behind HWScreeningSampler."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from optuna._hypervolume import compute_hypervolume  # oracle only; the project uses its own
from scipy.optimize import check_grad

from nas_edge.samplers import hypervolume, nondominated_boxes, pareto_mask
from nas_edge.samplers._gp import GPParams, _neg_log_posterior, _sqdist_per_dim, fit_gp
from nas_edge.samplers._hv import hypervolume_gain, nondominated_ranks
from nas_edge.samplers._hw_sampler import _ehvi


def _points(m: int, max_n: int = 25) -> st.SearchStrategy[np.ndarray]:
    # a coarse grid makes ties and duplicates common, which is where HV code breaks
    return st.integers(0, max_n).flatmap(
        lambda n: arrays(np.float64, (n, m), elements=st.integers(0, 8).map(lambda v: v / 8.0)))


@pytest.mark.parametrize("m", [2, 3, 4])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_hypervolume_matches_optuna(m: int, data: st.DataObject) -> None:
    pts = data.draw(_points(m))
    ref = np.full(m, 1.1)
    expected = compute_hypervolume(pts, ref) if len(pts) else 0.0
    assert hypervolume(pts, ref) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_hypervolume_ignores_points_beyond_reference() -> None:
    pts = np.array([[0.5, 0.5], [2.0, 0.0], [0.0, 1.0]])
    assert hypervolume(pts, np.array([1.0, 1.0])) == pytest.approx(0.25)
    assert hypervolume(np.zeros((0, 2)), np.ones(2)) == 0.0


@pytest.mark.parametrize("m", [1, 2, 3])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_box_gain_equals_hypervolume_difference(m: int, data: st.DataObject) -> None:
    front = data.draw(_points(m, 15))
    cand = data.draw(arrays(np.float64, (4, m), elements=st.floats(-0.5, 1.3)))
    ref = np.full(m, 1.05)
    lower, upper = nondominated_boxes(front, ref)
    gain = hypervolume_gain(cand, lower, upper)
    base = hypervolume(front, ref) if len(front) else 0.0
    for c, g in zip(cand, gain, strict=True):
        both = np.vstack([front, c[None, :]]) if len(front) else c[None, :]
        assert g == pytest.approx(hypervolume(both, ref) - base, abs=1e-10)


def test_pareto_mask_and_ranks() -> None:
    pts = np.array([[1, 2, 3], [1, 2, 3], [0, 3, 3], [2, 2, 2], [2, 3, 4], [5, 5, 5]], dtype=float)
    assert pareto_mask(pts).tolist() == [True, False, True, True, False, False]
    assert nondominated_ranks(pts).tolist() == [0, 0, 0, 0, 1, 2]
    rng = np.random.default_rng(1)
    many = rng.random((300, 3))
    mask = pareto_mask(many)
    dominated = [(np.all(many <= p, axis=1) & np.any(many < p, axis=1)).any() for p in many]
    assert mask.tolist() == [not d for d in dominated]


@pytest.mark.parametrize("m", [1, 2, 3])
def test_ehvi_matches_monte_carlo(m: int) -> None:
    rng = np.random.default_rng(m)
    front = rng.random((6, m))
    ref = np.full(m, 1.2)
    lower, upper = nondominated_boxes(front, ref)
    mean = rng.random((3, m))
    std = rng.uniform(0.05, 0.4, (3, m))
    std[:, 0] = 0.0  # a cheap objective: known exactly
    exact = _ehvi(mean, std, lower, upper)
    samples = mean[:, None, :] + std[:, None, :] * rng.standard_normal((3, 40_000, m))
    mc = np.array([hypervolume_gain(s, lower, upper).mean() for s in samples])
    assert np.allclose(exact, mc, rtol=0.03, atol=2e-4)
    assert np.allclose(_ehvi(mean, np.zeros_like(std), lower, upper), hypervolume_gain(mean, lower, upper))


def test_gp_gradient_and_fit() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((30, 4))
    x[:, 3] = rng.integers(0, 3, 30)
    is_cat = np.array([False, False, False, True])
    y = np.sin(6 * x[:, 0]) + x[:, 1] ** 2 + 0.3 * x[:, 3]
    ys = (y - y.mean()) / y.std()
    sqd = _sqdist_per_dim(x, x, is_cat)
    v = GPParams(rng.normal(0, 0.5, 4), 0.2, -3.0).to_vector()
    err = check_grad(lambda p: _neg_log_posterior(p, sqd, ys)[0], lambda p: _neg_log_posterior(p, sqd, ys)[1], v)
    assert err < 1e-4 * max(1.0, np.linalg.norm(_neg_log_posterior(v, sqd, ys)[1]))
    gp = fit_gp(x, y, is_cat)
    xt = rng.random((200, 4))
    xt[:, 3] = rng.integers(0, 3, 200)
    yt = np.sin(6 * xt[:, 0]) + xt[:, 1] ** 2 + 0.3 * xt[:, 3]
    mean, std = gp.predict(xt)
    assert np.sqrt(np.mean((mean - yt) ** 2)) < 0.25 * yt.std()
    z = (mean - yt) / std
    assert np.mean(np.abs(z) < 3) > 0.8  # calibrated enough to drive EHVI
    m_train, s_train = gp.predict(x)
    assert np.allclose(m_train, y, atol=0.05 * y.std())
    assert s_train.max() < std.mean()

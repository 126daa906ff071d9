"""A small exact Gaussian process (Matern-5/2, ARD) in NumPy for the sampler's surrogates.

Inputs are the sampler's encoding: numerical parameters scaled to [0, 1], categorical ones as choice indices
(distance 0 if equal, 1 otherwise, like Optuna's GPSampler). Outputs are standardised before fitting.
Hyperparameters (inverse squared length scales, kernel scale, noise variance) maximise the log marginal
likelihood plus weak priors (the priors of Optuna's GPSampler) with L-BFGS-B from SciPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dpotri
from scipy.optimize import minimize
from scipy.special import ndtr

MIN_NOISE = 1e-6
_LOG_BOUNDS_LAMBDA = (math.log(1e-3), math.log(1e3))
_LOG_BOUNDS_SCALE = (math.log(1e-2), math.log(1e2))
_LOG_BOUNDS_NOISE = (math.log(MIN_NOISE), math.log(1.0))
_SQRT5 = math.sqrt(5.0)


def norm_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF."""
    return ndtr(z)


def norm_pdf(z: np.ndarray) -> np.ndarray:
    """Standard normal density."""
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class GPParams:
    """Log hyperparameters: inverse squared length scale per input, kernel scale, noise variance."""

    log_lambda: np.ndarray
    log_scale: float
    log_noise: float

    def to_vector(self) -> np.ndarray:
        return np.concatenate([self.log_lambda, [self.log_scale, self.log_noise]])

    @classmethod
    def from_vector(cls, v: np.ndarray) -> GPParams:
        return cls(np.array(v[:-2], dtype=float), float(v[-2]), float(v[-1]))

    @classmethod
    def default(cls, n_dims: int) -> GPParams:
        return cls(np.zeros(n_dims), 0.0, math.log(1e-2))


def _sqdist_per_dim(a: np.ndarray, b: np.ndarray, is_cat: np.ndarray) -> np.ndarray:
    """(d, len(a), len(b)) squared differences; categorical dims give 0/1."""
    diff = a.T[:, :, None] - b.T[:, None, :]
    out = diff * diff
    if is_cat.any():
        out[is_cat] = (diff[is_cat] != 0.0).astype(float)
    return out


def _scaled_features(x: np.ndarray, lam: np.ndarray, is_cat: np.ndarray, n_choices: np.ndarray) -> np.ndarray:
    """Features whose squared Euclidean distance is ``sum_d lam_d * sqdist_d``: numerical inputs scaled by
    ``sqrt(lam)``, categorical ones one-hot scaled by ``sqrt(lam / 2)`` (two one-hots differ in two places)."""
    num = ~is_cat
    parts = [x[:, num] * np.sqrt(lam[num])]
    for j in np.flatnonzero(is_cat):
        onehot = np.zeros((len(x), int(n_choices[j])))
        onehot[np.arange(len(x)), x[:, j].astype(int)] = math.sqrt(lam[j] / 2.0)
        parts.append(onehot)
    return np.hstack(parts)


def _scaled_sqdist(a: np.ndarray, b: np.ndarray, lam: np.ndarray, is_cat: np.ndarray) -> np.ndarray:
    """``sum_d lam_d * sqdist_d(a, b)`` as one matrix product."""
    n_choices = np.zeros(len(is_cat), dtype=int)
    if is_cat.any():
        n_choices[is_cat] = np.maximum(a[:, is_cat].max(axis=0, initial=0), b[:, is_cat].max(axis=0, initial=0)) + 1
    fa = _scaled_features(a, lam, is_cat, n_choices)
    fb = _scaled_features(b, lam, is_cat, n_choices)
    u = (fa * fa).sum(1)[:, None] + (fb * fb).sum(1)[None, :] - 2.0 * (fa @ fb.T)
    return np.maximum(u, 0.0, out=u)


def _inverse_from_cholesky(chol: np.ndarray) -> np.ndarray:
    """``(L L^T)^-1`` from the lower Cholesky factor (LAPACK potri)."""
    inv, info = dpotri(chol, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("potri failed")
    return np.tril(inv) + np.tril(inv, -1).T


def _matern(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matern-5/2 value and derivative as functions of the squared scaled distance ``u``."""
    t = _SQRT5 * np.sqrt(np.maximum(u, 0.0))
    e = np.exp(-t)
    return (1.0 + t + t * t / 3.0) * e, -(5.0 / 6.0) * (1.0 + t) * e


def _neg_log_posterior(v: np.ndarray, sqd: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Negative (log marginal likelihood + log prior) and its gradient in log-parameter space."""
    n = len(y)
    d = sqd.shape[0]
    lam = np.exp(v[:d])
    scale = math.exp(v[d])
    noise = math.exp(v[d + 1])
    u = np.tensordot(lam, sqd, axes=1)
    k0, dk0 = _matern(u)
    cov = scale * k0 + (noise + 1e-10) * np.eye(n)
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return 1e10, np.zeros_like(v)
    cov_inv = _inverse_from_cholesky(chol)
    alpha = cov_inv @ y
    nll = 0.5 * float(y @ alpha) + float(np.log(np.diag(chol)).sum()) + 0.5 * n * math.log(2 * math.pi)
    w = np.outer(alpha, alpha) - cov_inv  # d(-nll)/dC = W / 2
    wk = w * dk0 * scale
    g_lam = -0.5 * np.tensordot(sqd, wk, axes=([1, 2], [0, 1])) * lam
    g_scale = -0.5 * float(np.sum(w * k0)) * scale
    g_noise = -0.5 * float(np.trace(w)) * noise
    # priors (Optuna GPSampler's): lambda ~ exp(-(0.1/l + 0.1 l)), scale ~ Gamma(2, 1), noise ~ Gamma(1.1, 30)
    prior = -np.sum(0.1 / lam + 0.1 * lam) + (math.log(scale) - scale) + (0.1 * math.log(noise) - 30.0 * noise)
    g_prior = np.concatenate([(0.1 / lam - 0.1 * lam), [1.0 - scale, 0.1 - 30.0 * noise]])
    grad = np.concatenate([g_lam, [g_scale, g_noise]]) - g_prior
    return nll - float(prior), grad


def fit_params(
    x: np.ndarray,
    y: np.ndarray,
    is_cat: np.ndarray,
    *,
    init: GPParams | None = None,
    deterministic: bool = False,
    max_iter: int = 60,
) -> GPParams:
    """Maximum a posteriori hyperparameters for standardised ``y`` on inputs ``x``."""
    d = x.shape[1]
    sqd = _sqdist_per_dim(x, x, is_cat)
    start = (init or GPParams.default(d)).to_vector().copy()
    bounds = [_LOG_BOUNDS_LAMBDA] * d + [_LOG_BOUNDS_SCALE, _LOG_BOUNDS_NOISE]
    if deterministic:
        start[-1] = math.log(MIN_NOISE)
        bounds[-1] = (math.log(MIN_NOISE), math.log(MIN_NOISE))
    start = np.clip(start, [b[0] for b in bounds], [b[1] for b in bounds])
    res = minimize(_neg_log_posterior, start, args=(sqd, y), jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": max_iter})
    best = res.x if np.all(np.isfinite(res.x)) else start
    return GPParams.from_vector(best)


class GaussianProcess:
    """Posterior of a zero-mean GP on standardised targets; predictions come back in original units."""

    def __init__(self, x: np.ndarray, y: np.ndarray, is_cat: np.ndarray, params: GPParams) -> None:
        self.x = np.asarray(x, dtype=float)
        self.is_cat = np.asarray(is_cat, dtype=bool)
        self.params = params
        y = np.asarray(y, dtype=float)
        self.y_mean = float(y.mean())
        std = float(y.std())
        self.y_std = std if std > 1e-12 else 1.0
        ys = (y - self.y_mean) / self.y_std
        self._lam = np.exp(params.log_lambda)
        self._scale = math.exp(params.log_scale)
        noise = math.exp(params.log_noise)
        cov = self._kernel(self.x, self.x) + (noise + 1e-10) * np.eye(len(ys))
        jitter = 0.0
        while True:
            try:
                chol = np.linalg.cholesky(cov + jitter * np.eye(len(ys)))
                break
            except np.linalg.LinAlgError:
                jitter = max(1e-8, jitter * 10.0)
        self._cov_inv = _inverse_from_cholesky(chol)
        self._alpha = self._cov_inv @ ys

    def _kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        u = _scaled_sqdist(a, b, self._lam, self.is_cat)
        return self._scale * _matern(u)[0]

    def predict(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the latent function at ``xq`` (original units)."""
        kq = self._kernel(np.asarray(xq, dtype=float), self.x)
        mean = kq @ self._alpha
        var = self._scale - np.sum((kq @ self._cov_inv) * kq, axis=1)
        std = np.sqrt(np.maximum(var, 1e-12))
        return mean * self.y_std + self.y_mean, std * self.y_std


def fit_gp(
    x: np.ndarray,
    y: np.ndarray,
    is_cat: np.ndarray,
    *,
    init: GPParams | None = None,
    deterministic: bool = False,
    refit: bool = True,
) -> GaussianProcess:
    """Standardise ``y``, fit hyperparameters (or reuse ``init`` when ``refit`` is false), return the GP."""
    y = np.asarray(y, dtype=float)
    std = float(y.std())
    ys = (y - y.mean()) / (std if std > 1e-12 else 1.0)
    params = fit_params(x, ys, is_cat, init=init, deterministic=deterministic) if refit or init is None else init
    return GaussianProcess(x, y, is_cat, params)

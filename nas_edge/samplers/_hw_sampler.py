"""HWScreeningSampler: screen many candidates per trial with cheap exact functions and a GP surrogate.

Each trial the sampler proposes a few hundred candidates (mutations and crossovers of the feasible Pareto
set, a few uniform draws, further-mutated copies of promising infeasible candidates, then two rounds of local
moves around the most promising ones), drops those that violate the user's cheap constraints, scores the rest
by expected hypervolume improvement (EHVI) — exact values for the cheap objectives, Gaussian-process
posteriors for the expensive ones, times the probability of satisfying the expensive constraints seen through
``trial.set_constraint`` — and returns the best one. EHVI is exact: the non-dominated region is split into
boxes and, with independent Gaussian marginals, the expectation of each box's volume factorises over
objectives.

This module depends on NumPy, SciPy and Optuna only (no other part of nas-edge), so it can be shipped as an
OptunaHub package.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, distribution_to_json
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from nas_edge.samplers._encoding import SpaceEncoder
from nas_edge.samplers._gp import GaussianProcess, GPParams, fit_gp, norm_cdf, norm_pdf
from nas_edge.samplers._hv import nondominated_boxes, nondominated_ranks, pareto_mask
from nas_edge.samplers._trials import named_constraints

_logger = optuna.logging.get_logger(__name__)

Params = dict[str, Any]

_CACHE_LIMIT = 200_000
_REF_MARGIN = 0.1  # default reference point: the worst feasible values plus this share of their range
_blas_controller: Any = None


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Run small dense linear algebra single-threaded (OpenBLAS threads oversubscribe a busy machine)."""
    global _blas_controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn; without it, no limit
        yield
        return
    if _blas_controller is None:
        _blas_controller = ThreadpoolController()
    with _blas_controller.limit(limits=1, user_api="blas"):
        yield


@dataclass(frozen=True)
class _Context:
    """What one sampling call needs to know about the space and the study."""

    enc: SpaceEncoder
    signature: str  # identifies the space in the caches
    signs: np.ndarray  # +1 minimise, -1 maximise, per objective


class HWScreeningSampler(BaseSampler):
    """Multi-objective sampler that spends expensive evaluations only on screened, promising candidates.

    Args:
        cheap_objectives: ``f(params) -> values``: exact values of the objectives that are cheap to compute
            from the parameters alone (energy, latency, area ...), in the study's units and directions, in
            the order of ``cheap_objective_indices``.
        cheap_objective_indices: indices (into the study's objectives) of the values ``cheap_objectives``
            returns. Required with ``cheap_objectives``.
        cheap_constraints: ``f(params) -> values`` (a sequence, or a mapping from constraint names as given
            to ``trial.set_constraint``); a candidate is feasible when every value is ``<= 0``. Infeasible
            candidates are never proposed while a feasible one is found.
        vectorized: the cheap functions take a list of parameter dicts and return one row per dict.
        search_space: the distributions of the parameters to sample jointly. Without it the sampler uses the
            intersection of the search spaces of finished trials, so the first trial is sampled at random
            and cannot be screened.
        canonical: ``f(params_list) -> params_list``: for each parameter set, the one that stands for every
            parameter set giving the same network (e.g. a cell with a cut-off edge and the cell without it).
            The sampler then models and proposes only those: no trial repeats a network already evaluated
            or running, and equivalent trials (run by another sampler, enqueued) share one surrogate input.
        n_candidates: candidates screened per trial.
        n_startup_trials: finished trials before the surrogate is used; until then feasible candidates are
            drawn uniformly.
        reference_point: hypervolume reference point in the study's objective units; by default the worst
            value of each objective over the feasible trials plus 10 % of its range (a reference point that
            follows the current front instead shrinks with it and traps the search in a corner).
        deterministic_objective: fit the surrogate without observation noise.
        independent_sampler: sampler for parameters outside the joint search space (default: random).
        seed: seed for the sampler's random numbers.
        warn_independent_sampling: log when a parameter falls back to ``independent_sampler``.
    """

    def __init__(
        self,
        *,
        cheap_objectives: Callable[..., Any] | None = None,
        cheap_objective_indices: Sequence[int] | None = None,
        cheap_constraints: Callable[..., Any] | None = None,
        vectorized: bool = False,
        search_space: Mapping[str, BaseDistribution] | None = None,
        canonical: Callable[[list[Params]], Sequence[Mapping[str, Any]]] | None = None,
        n_candidates: int = 256,
        n_startup_trials: int = 10,
        reference_point: Sequence[float] | None = None,
        deterministic_objective: bool = False,
        independent_sampler: BaseSampler | None = None,
        seed: int | None = None,
        warn_independent_sampling: bool = True,
    ) -> None:
        if (cheap_objectives is None) != (cheap_objective_indices is None):
            raise ValueError("cheap_objectives and cheap_objective_indices must be given together")
        if cheap_objective_indices is not None:
            idx = [int(i) for i in cheap_objective_indices]
            if len(set(idx)) != len(idx) or any(i < 0 for i in idx) or not idx:
                raise ValueError(f"cheap_objective_indices must be distinct non-negative ints, got {idx}")
            self._cheap_idx: tuple[int, ...] = tuple(idx)
        else:
            self._cheap_idx = ()
        if n_candidates < 8:
            raise ValueError("n_candidates must be at least 8")
        if n_startup_trials < 1:
            raise ValueError("n_startup_trials must be at least 1")
        self._cheap_objectives = cheap_objectives
        self._cheap_constraints = cheap_constraints
        self._vectorized = bool(vectorized)
        self._search_space = dict(search_space) if search_space is not None else None
        self._canonical = canonical
        self._n_candidates = int(n_candidates)
        self._n_startup_trials = int(n_startup_trials)
        self._reference_point = None if reference_point is None else np.asarray(reference_point, dtype=float)
        self._deterministic = bool(deterministic_objective)
        self._independent_sampler = independent_sampler or RandomSampler(seed=seed)
        self._rng = np.random.RandomState(seed)
        self._warn_independent_sampling = warn_independent_sampling
        self._intersection = IntersectionSearchSpace(include_pruned=True)
        self._cheap_cache: dict[tuple[str, bytes], tuple[np.ndarray, np.ndarray]] = {}
        self._cheap_constraint_keys: tuple[str, ...] | None = None
        self._gp_cache: dict[tuple[str, str], tuple[int, GPParams]] = {}
        self._row_cache: dict[str, dict[int, tuple[dict[str, Any], np.ndarray]]] = {}
        self._lock = threading.Lock()

    _random_share = 1 / 16  # of the first-stage pool: uniform draws rarely win once a front exists
    _local_rounds = 2  # rounds of local moves (a quarter of n_candidates in all) around the best so far
    _repair = True  # mutate promising infeasible candidates towards feasibility

    # --- pickling and parallel use -------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def reseed_rng(self) -> None:
        self._rng = np.random.RandomState()
        self._independent_sampler.reseed_rng()

    # --- BaseSampler API -----------------------------------------------------------------------------
    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        space = self._search_space if self._search_space is not None else self._intersection.calculate(study)
        return {name: dist for name, dist in space.items() if not dist.single()}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        with self._lock, _single_threaded_blas():
            return self._sample(study, trial, search_space)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        if self._warn_independent_sampling and self._search_space is None:
            complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if complete:
                _logger.warning(
                    f"Parameter {param_name!r} of trial {trial.number} is outside the joint search space and "
                    f"is sampled by {type(self._independent_sampler).__name__}; pass search_space= or set "
                    "warn_independent_sampling=False if this is intended."
                )
        return self._independent_sampler.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent_sampler.before_trial(study, trial)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self._independent_sampler.after_trial(study, trial, state, values)

    # --- the algorithm -------------------------------------------------------------------------------
    def _sample(self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]) -> Params:
        enc = SpaceEncoder(search_space)
        signature = repr([(n, distribution_to_json(d)) for n, d in zip(enc.names, enc.dists, strict=True)])
        signs = np.array([1.0 if d == StudyDirection.MINIMIZE else -1.0 for d in study.directions])
        if any(i >= len(signs) for i in self._cheap_idx):
            raise ValueError(f"cheap_objective_indices {self._cheap_idx} do not fit a study with "
                             f"{len(signs)} objectives")
        ctx = _Context(enc, signature, signs)
        trials = study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING, TrialState.PRUNED)
        )
        rows = self._row_cache.setdefault(signature, {})
        if len(self._row_cache) > 4:  # the space changed several times: forget the oldest encodings
            del self._row_cache[next(iter(self._row_cache))]
        encoded: list[np.ndarray] = []
        complete_t: list[FrozenTrial] = []
        kinds: list[int] = []  # 0 complete, 1 running, 2 pruned
        for t in trials:
            if t.number == trial.number:
                continue
            finished = t.state != TrialState.RUNNING
            hit = rows.get(t._trial_id) if finished else None
            row: np.ndarray | None
            if hit is not None and hit[0] == t.params:  # trial ids are per storage: check the params too
                row = hit[1]
            else:
                row = enc.encode_params(t.params)
                if row is None:
                    continue
                if finished:
                    rows[t._trial_id] = (dict(t.params), row)
            if t.state == TrialState.COMPLETE:
                if t.values is None or len(t.values) != len(signs):
                    continue
                complete_t.append(t)
                kinds.append(0)
            else:
                kinds.append(1 if t.state == TrialState.RUNNING else 2)
            encoded.append(row)
        x_all = np.asarray(encoded).reshape(-1, len(enc))
        kind = np.asarray(kinds, dtype=int)
        seen = set(enc.keys(self._canonical_rows(enc, x_all))) if len(x_all) else set()
        if len(complete_t) < self._n_startup_trials:
            x = self._startup_candidate(ctx, seen)
        else:
            x = self._model_candidate(ctx, x_all[kind == 0], complete_t, x_all[kind == 1], seen)
        return enc.decode_params(x)

    def _cheap(self, ctx: _Context, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cheap constraint values (n, c) and cheap objective values in minimisation form (n, k)."""
        enc, signature = ctx.enc, ctx.signature
        n = len(x)
        keys = enc.keys(x)
        cons: list[np.ndarray | None] = [None] * n
        objs: list[np.ndarray | None] = [None] * n
        todo = []
        for i, key in enumerate(keys):
            hit = self._cheap_cache.get((signature, key))
            if hit is not None:
                cons[i], objs[i] = hit
            else:
                todo.append(i)
        if todo:
            params = enc.decode_many(x[todo])
            c_new = self._call(self._cheap_constraints, params, constraints=True)
            o_new = self._call(self._cheap_objectives, params, constraints=False)
            if len(self._cheap_cache) > _CACHE_LIMIT:
                self._cheap_cache.clear()
            for j, i in enumerate(todo):
                cons[i], objs[i] = c_new[j], o_new[j]
                self._cheap_cache[(signature, keys[i])] = (c_new[j], o_new[j])
        objs_min = np.asarray(objs, dtype=float).reshape(n, -1) * ctx.signs[list(self._cheap_idx)]
        return np.asarray(cons, dtype=float).reshape(n, -1), objs_min

    def _call(self, fn: Callable[..., Any] | None, params: list[Params], *, constraints: bool) -> np.ndarray:
        if fn is None:
            return np.zeros((len(params), 0))
        raw = fn(params) if self._vectorized else [fn(p) for p in params]
        if not self._vectorized or isinstance(raw, Sequence):
            rows = [self._as_row(r, constraints) for r in raw]
            out = np.asarray(rows, dtype=float).reshape(len(params), -1)
        else:
            out = np.asarray(raw, dtype=float).reshape(len(params), -1)
        if not constraints and out.shape[1] != len(self._cheap_idx):
            raise ValueError(f"cheap_objectives returned {out.shape[1]} values, expected "
                             f"{len(self._cheap_idx)} (one per cheap_objective_indices)")
        if np.isnan(out).any():
            raise ValueError(f"cheap_{'constraints' if constraints else 'objectives'} returned NaN")
        return out

    def _as_row(self, value: Any, constraints: bool) -> list[float]:
        if isinstance(value, Mapping):
            if constraints:
                keys = tuple(value)
                if self._cheap_constraint_keys is None:
                    self._cheap_constraint_keys = keys
                return [float(value[k]) for k in self._cheap_constraint_keys]
            raise TypeError("cheap_objectives must return a sequence of floats")
        return [float(v) for v in np.atleast_1d(np.asarray(value, dtype=float))]

    def _canonical_rows(self, enc: SpaceEncoder, x: np.ndarray) -> np.ndarray:
        """Encoded rows mapped to their canonical parameters (unchanged without ``canonical``)."""
        if self._canonical is None or not len(x):
            return x
        rows = [enc.encode_params(p) for p in self._canonical(enc.decode_many(x))]
        if any(r is None for r in rows):
            raise ValueError("canonical returned parameters outside the search space")
        return enc.snap(np.asarray(rows, dtype=float))

    def _fresh(self, enc: SpaceEncoder, x: np.ndarray, seen: set[bytes]) -> np.ndarray:
        """The new networks among candidate rows ``x``: mapped to their canonical parameters (when the sampler
        has ``canonical``), then those neither in ``seen`` nor repeated."""
        return _unique_unseen(enc, self._canonical_rows(enc, x), seen)

    def _feasible_first(self, cons: np.ndarray) -> np.ndarray:
        """Total violation per candidate (0 = feasible)."""
        return np.clip(cons, 0.0, None).sum(axis=1) if cons.shape[1] else np.zeros(len(cons))

    def _startup_candidate(self, ctx: _Context, seen: set[bytes]) -> np.ndarray:
        """A uniform draw among new candidates that pass the cheap constraints (least violation otherwise)."""
        best_x, best_v = None, math.inf
        for _ in range(8):
            x = self._fresh(ctx.enc, ctx.enc.random(self._rng, self._n_candidates), seen)
            if not len(x):
                continue
            if self._cheap_constraints is None:
                return x[0]
            for start in range(0, len(x), 32):  # cost candidates in chunks; stop at the first feasible one
                chunk = x[start : start + 32]
                violation = self._feasible_first(self._cheap(ctx, chunk)[0])
                i = int(np.argmin(violation))
                if violation[i] <= 0.0:
                    return chunk[int(np.flatnonzero(violation <= 0.0)[0])]
                if violation[i] < best_v:
                    best_x, best_v = chunk[i], float(violation[i])
        return best_x if best_x is not None else ctx.enc.random(self._rng, 1)[0]

    def _model_candidate(
        self,
        ctx: _Context,
        x_done: np.ndarray,
        done: list[FrozenTrial],
        x_running: np.ndarray,
        seen: set[bytes],
    ) -> np.ndarray:
        enc = ctx.enc
        n_obj = len(ctx.signs)
        y = _clip_infinite(np.array([t.values for t in done], dtype=float) * ctx.signs)
        expensive = [i for i in range(n_obj) if i not in self._cheap_idx]
        constraints = [named_constraints(t) for t in done]  # parsed from system attrs on every access: once only
        feasible = np.array([all(v <= 0.0 for v in c.values()) for c in constraints], dtype=bool)

        x_model = self._canonical_rows(enc, x_done)  # equivalent trials share one surrogate input
        gps = {i: self._gp(ctx, f"obj{i}", x_model, y[:, i]) for i in expensive}
        if self._cheap_constraints is not None and self._cheap_constraint_keys is None:
            self._cheap(ctx, x_done[:1])  # learn the names of the cheap constraints, if they have names
        con_gps = self._constraint_gps(ctx, x_model, constraints)

        # normalise by the feasible Pareto front's extent (all trials' if it is degenerate); EHVI's argmax
        # does not depend on it (hypervolume scales per axis), but it keeps the numbers O(1)
        yf = y[feasible] if feasible.any() else y
        base = yf[pareto_mask(yf)]
        lo, hi = base.min(axis=0), base.max(axis=0)
        flat = hi - lo <= 1e-12
        lo = np.where(flat, y.min(axis=0), lo)
        hi = np.where(flat, y.max(axis=0), hi)
        scale = np.where(hi - lo > 1e-12, hi - lo, 1.0)
        if self._reference_point is not None:
            if len(self._reference_point) != n_obj:
                raise ValueError(f"reference_point has {len(self._reference_point)} values, the study "
                                 f"{n_obj} objectives")
            ref = (self._reference_point * ctx.signs - lo) / scale
        else:  # like Optuna's samplers: the worst observed (feasible) values, plus 10 % of their range
            worst, best = yf.max(axis=0), yf.min(axis=0)
            ref = (worst + _REF_MARGIN * (worst - best) - lo) / scale
        front = (y[feasible] - lo) / scale
        if len(x_running):  # pending trials count as if they returned their predicted means
            fantasy, _, violation = self._predict(ctx, x_running, gps, lo, scale)
            front = np.vstack([front, fantasy[violation <= 0.0]])
        lower, upper = nondominated_boxes(front, ref)

        def score(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mean, std, violation = self._predict(ctx, x, gps, lo, scale)
            acq = _ehvi(mean, std, lower, upper) * _prob_feasible(con_gps, x)
            return acq, violation

        # parents: the feasible Pareto set, topped up by the next ranks (least violating if none feasible)
        if feasible.any():
            on_front = pareto_mask(y[feasible])
            if on_front.sum() >= min(5, len(on_front)):
                parents = x_done[feasible][on_front]
            else:  # a small front: top it up with the next non-dominated ranks
                order = np.argsort(nondominated_ranks(y[feasible]), kind="stable")
                parents = x_done[feasible][order[:5]]
        else:
            total = np.array([sum(max(v, 0.0) for v in c.values()) for c in constraints])
            parents = x_done[np.argsort(total, kind="stable")[:5]]

        n = self._n_candidates
        n_rand, n_cross = max(1, int(n * self._random_share)), n // 4
        x = np.vstack([
            enc.random(self._rng, n_rand),
            self._mutate(enc, parents[self._rng.randint(len(parents), size=n - n_rand - n_cross)], sigma=None),
            self._crossover(enc, parents, n_cross),
        ])
        x = self._fresh(enc, x, seen)
        for _ in range(4):  # a nearly exhausted discrete space: look further at random
            if len(x):
                break
            x = self._fresh(enc, enc.random(self._rng, n), seen)
        if not len(x):  # every draw was already evaluated: repeat one, as Optuna's samplers do
            return enc.random(self._rng, 1)[0]
        acq, violation = score(x)

        def add(more: np.ndarray) -> None:
            """Score the new ones among ``more`` and append them to the pool."""
            nonlocal x, acq, violation
            more = self._fresh(enc, more, seen | set(enc.keys(x)))
            if len(more):
                acq_m, viol_m = score(more)
                x, acq, violation = np.vstack([x, more]), np.concatenate([acq, acq_m]), np.concatenate(
                    [violation, viol_m])

        if self._repair and (violation > 0.0).any():
            # promising but infeasible candidates (high EHVI ignoring the constraints): a few further-mutated
            # copies each, since a good region may only be feasible with other values of other parameters
            bad = np.flatnonzero(violation > 0.0)
            worst_ok = bad[np.argsort(-acq[bad], kind="stable")[:8]]
            add(self._mutate(enc, np.repeat(x[worst_ok], 4, axis=0), sigma=None, rate=2.0))
        # local moves around the most promising feasible candidates, in rounds (each around the new best)
        for _ in range(self._local_rounds):
            top = x[np.argsort(-np.where(violation <= 0.0, acq, -np.inf), kind="stable")[:8]]
            size = n // (4 * self._local_rounds)
            add(self._mutate(enc, top[self._rng.randint(len(top), size=size)], sigma=0.05))
        ok = violation <= 0.0
        for _ in range(8):  # no feasible candidate yet: keep drawing before accepting a violation
            if ok.any():
                break
            more = self._fresh(enc, enc.random(self._rng, n), seen | set(enc.keys(x)))
            if len(more):
                acq_m, viol_m = score(more)
                x = np.vstack([x, more])
                acq = np.concatenate([acq, acq_m])
                violation = np.concatenate([violation, viol_m])
                ok = violation <= 0.0
        if not ok.any():
            return x[int(np.argmin(violation))]
        best = int(np.argmax(np.where(ok, acq, -np.inf)))
        if acq[best] <= 1e-12:  # nothing promises a gain: explore among the feasible candidates
            best = int(self._rng.choice(np.flatnonzero(ok)))
        return x[best]

    def _mutate(
        self, enc: SpaceEncoder, parents: np.ndarray, *, sigma: float | None, rate: float = 1.0
    ) -> np.ndarray:
        """Copies of ``parents`` with about ``rate`` in ``d`` parameters (at least one) changed.

        Numerical parameters move by a Gaussian step (``sigma`` in the [0, 1] encoding, or per child one of
        0.03 / 0.1 / 0.3 when ``sigma`` is None), at least one grid cell for discrete ones; categorical ones
        take another choice.
        """
        n, d = parents.shape
        if n == 0:
            return parents
        rng = self._rng
        mask = rng.random_sample((n, d)) < rate / d
        mask[np.arange(n), rng.randint(d, size=n)] = True
        sig = np.full(n, sigma) if sigma is not None else rng.choice([0.03, 0.1, 0.3], size=n)
        cell = enc.cell_width
        step = rng.standard_normal((n, d)) * np.maximum(sig[:, None], cell[None, :])
        x = parents.copy()
        num = ~enc.is_cat
        moved = np.clip(parents + step, 0.0, 1.0)
        x[:, num] = np.where(mask[:, num], moved[:, num], parents[:, num])
        for j in np.flatnonzero(enc.is_cat):
            k = int(enc.n_choices[j])
            rows = np.flatnonzero(mask[:, j])
            # a uniformly chosen *other* choice
            shift = rng.randint(1, max(k, 2), size=len(rows))
            x[rows, j] = (parents[rows, j] + shift) % k
        return enc.snap(x)

    def _crossover(self, enc: SpaceEncoder, parents: np.ndarray, n: int) -> np.ndarray:
        """Uniform crossover of random parent pairs, followed by a light mutation."""
        if n <= 0:
            return parents[:0]
        rng = self._rng
        a = parents[rng.randint(len(parents), size=n)]
        b = parents[rng.randint(len(parents), size=n)]
        child = np.where(rng.random_sample(a.shape) < 0.5, a, b)
        return self._mutate(enc, child, sigma=0.03)

    def _predict(
        self,
        ctx: _Context,
        x: np.ndarray,
        gps: dict[int, _EncodedGP],
        lo: np.ndarray,
        scale: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised objective means and standard deviations (0 for cheap ones), cheap violation."""
        mean = np.zeros((len(x), len(lo)))
        std = np.zeros((len(x), len(lo)))
        cons, objs = self._cheap(ctx, x)
        for j, i in enumerate(self._cheap_idx):
            mean[:, i] = objs[:, j]
        for i, gp in gps.items():
            mean[:, i], std[:, i] = gp.predict(x)
        return (mean - lo) / scale, std / scale, self._feasible_first(cons)

    def _gp(self, ctx: _Context, target: str, x: np.ndarray, y: np.ndarray) -> _EncodedGP:
        """Fit a GP; hyperparameters are re-optimised when the data grew by 10 % since the last fit."""
        key = (ctx.signature, target)
        cached = self._gp_cache.get(key)
        n = len(y)
        refit = cached is None or n < cached[0] or n - cached[0] >= max(1, cached[0] // 10)
        init = cached[1] if cached is not None else None
        gp = _EncodedGP(fit_gp(ctx.enc.kernel_inputs(x), y, ctx.enc.kernel_is_cat, init=init,
                               deterministic=self._deterministic, refit=refit), ctx.enc)
        if refit:
            self._gp_cache[key] = (n, gp.gp.params)
        return gp

    def _constraint_gps(
        self, ctx: _Context, x_done: np.ndarray, constraints: list[dict[str, float]]
    ) -> list[_EncodedGP]:
        """GPs for trial constraints that the cheap constraints do not cover and that were ever violated."""
        covered = set(self._cheap_constraint_keys or ())
        keys: list[str] = []
        for c in constraints:
            for k, v in c.items():
                if k not in covered and k not in keys and v > 0.0:
                    keys.append(k)
        gps = []
        for k in keys:
            rows = [i for i, c in enumerate(constraints) if k in c]
            vals = np.array([constraints[i][k] for i in rows], dtype=float)
            gps.append(self._gp(ctx, f"con:{k}", x_done[rows], vals))
        return gps


class _EncodedGP:
    """A GP on the encoder's kernel inputs, queried with encoded rows."""

    def __init__(self, gp: GaussianProcess, enc: SpaceEncoder) -> None:
        self.gp = gp
        self.enc = enc

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.gp.predict(self.enc.kernel_inputs(x))


def _clip_infinite(y: np.ndarray) -> np.ndarray:
    finite = np.isfinite(y)
    if finite.all():
        return y
    lo = np.where(finite.any(axis=0), np.min(np.where(finite, y, np.inf), axis=0), 0.0)
    hi = np.where(finite.any(axis=0), np.max(np.where(finite, y, -np.inf), axis=0), 0.0)
    return np.clip(np.nan_to_num(y, nan=0.0), lo, hi)


def _unique_unseen(enc: SpaceEncoder, x: np.ndarray, seen: set[bytes]) -> np.ndarray:
    """Rows of ``x`` whose parameters are new: not in ``seen`` and not repeated within ``x``."""
    mask = np.zeros(len(x), dtype=bool)
    fresh: set[bytes] = set()
    for i, k in enumerate(enc.keys(x)):
        if k not in seen and k not in fresh:
            fresh.add(k)
            mask[i] = True
    return x[mask]


def _ehvi(mean: np.ndarray, std: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Exact expected hypervolume improvement of independent Gaussian (or exact, std = 0) objectives.

    For each box ``[l, u]`` of the non-dominated region the gain is ``prod_j (u_j - max(l_j, Y_j))^+`` and
    with independent ``Y_j ~ N(m_j, s_j)`` its expectation is the product of
    ``E[(u - max(l, Y))^+] = (u - l) Phi(a) + (u - m) (Phi(b) - Phi(a)) + s (phi(b) - phi(a))`` with
    ``a = (l - m) / s``, ``b = (u - m) / s`` (the term with ``Phi(a)`` vanishes for ``l = -inf``).
    """
    n, m = mean.shape
    total = np.ones((n, len(lower)))
    for j in range(m):
        mu = mean[:, j, None]
        sd = std[:, j]
        if not np.any(sd > 0.0):
            total *= np.clip(upper[None, :, j] - np.maximum(lower[None, :, j], mu), 0.0, None)
            continue
        s = np.maximum(sd, 1e-12)[:, None]
        # boxes share few coordinates: evaluate Phi and phi once per (candidate, distinct bound)
        lo_vals, lo_idx = np.unique(lower[:, j], return_inverse=True)
        up_vals, up_idx = np.unique(upper[:, j], return_inverse=True)
        finite = np.isfinite(lo_vals)
        a = (np.where(finite, lo_vals, 0.0)[None, :] - mu) / s
        cdf_a = np.where(finite, norm_cdf(a), 0.0)
        pdf_a = np.where(finite, norm_pdf(a), 0.0)
        b = (up_vals[None, :] - mu) / s
        cdf_b, pdf_b = norm_cdf(b), norm_pdf(b)
        up = upper[None, :, j]
        lo_fin = np.where(np.isfinite(lower[:, j]), lower[:, j], 0.0)[None, :]
        ca = cdf_a[:, lo_idx]  # 0 for an infinite lower bound, which drops the first term
        psi = (up - lo_fin) * ca + (up - mu) * (cdf_b[:, up_idx] - ca) + s * (pdf_b[:, up_idx] - pdf_a[:, lo_idx])
        total *= np.clip(psi, 0.0, None)
    return total.sum(axis=1)


def _prob_feasible(gps: list[_EncodedGP], x: np.ndarray) -> np.ndarray:
    p = np.ones(len(x))
    for gp in gps:
        mean, std = gp.predict(x)
        p *= norm_cdf(-mean / std)
    return p

"""The search loop (torch): warm-up of the shared weights, then alternating weight and architecture steps.

Each relaxed factor ``f`` has logits ``alpha_f``; at temperature ``tau`` its choice probabilities are
``p_f = softmax(alpha_f / tau)`` and the architecture distribution is their product. A step draws one path
with the Gumbel-max trick (single path, as GDAS / ProxylessNAS: memory and time of one network). The
architecture objective on the held-out split is

    E_p[cross-entropy of the path] + lambda * E_p[cost] / cost_ref

The second term is exact (:func:`expected_cost`, from the cost tables; its gradient too). The first is
estimated from the drawn path by the score function (REINFORCE with a moving-average baseline, ProxylessNAS's
second estimator): a straight-through Gumbel-softmax gate on one path has no gradient here, since every
block's output feeds a batch-normalised layer that cancels its scale, and mixing several paths (DARTS, FBNet)
multiplies the time per step. ``cost_ref`` is the expected cost with uniform probabilities, which makes lambda
unit-free. The temperature falls over the search, so the distribution ends near its argmax (the derived
architecture) and the expected cost near the derived architecture's. With a target ``metric <= limit``
lambda follows a dual update instead of staying fixed.
"""

from __future__ import annotations

import copy
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nas_edge.dnas.config import DNASConfig
from nas_edge.dnas.cost_table import CostTable
from nas_edge.dnas.relax import Relaxation
from nas_edge.evaluate.data import Data
from nas_edge.evaluate.train import tensors, torch_threads


def expected_cost(table: CostTable, probs: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """``constant + sum_t table_t contracted with the probabilities of t's factors`` (float64, differentiable).
    Factors missing from ``probs`` are fixed (one choice)."""
    letters = {n: string.ascii_letters[i] for i, n in enumerate(table.cards)}
    total = torch.tensor(table.constant, dtype=torch.float64)
    for names, values in table.terms:
        t = torch.as_tensor(values, dtype=torch.float64)
        if not names:  # a part of the network no choice changes
            total = total + t
            continue
        ps = [probs[n].to(torch.float64) if n in probs else torch.ones(1, dtype=torch.float64) for n in names]
        spec = "".join(letters[n] for n in names)
        total = total + torch.einsum(f"{spec},{','.join(letters[n] for n in names)}->", t, *ps)
    return total


@dataclass
class Split:
    """The training set cut in two: weights learn on one part, architecture logits on the other."""

    xw: torch.Tensor
    yw: torch.Tensor
    xa: torch.Tensor
    ya: torch.Tensor

    @classmethod
    def of(cls, data: Data, config: DNASConfig) -> Split:
        xt, yt, _, _ = tensors(data, config.max_train_samples)
        order = torch.randperm(len(xt), generator=torch.Generator().manual_seed(config.seed))
        n_arch = max(2, round(len(xt) * config.arch_fraction))
        a, w = order[:n_arch], order[n_arch:]
        return cls(xt[w], yt[w], xt[a], yt[a])


@dataclass
class Outcome:
    """One search: the logits' argmax and the per-epoch record."""

    indices: dict[str, int]
    probabilities: dict[str, list[list[float]]]  # factor -> per epoch -> per choice
    log_probs: dict[str, list[float]]  # factor -> per choice, at the end (the temperature applied)
    history: dict[str, list[float]] = field(default_factory=dict)  # lambda, tau, expected/argmax cost, losses
    seconds: float = 0.0


class Searcher:
    """Holds the super-network and data of one relaxation; :meth:`warmup` once, :meth:`search` per point."""

    def __init__(self, relaxation: Relaxation, data: Data, config: DNASConfig) -> None:
        self.rx, self.config = relaxation, config
        self.relaxed = [f for f in relaxation.factors if not f.fixed]
        self.split = Split.of(data, config)
        torch.manual_seed(config.seed)
        self.net: nn.Module = relaxation.supernet()
        self.gen = torch.Generator().manual_seed(config.seed + 1)

    # -- sampling -----------------------------------------------------------------------------------------

    def _sample(self, logits: Mapping[str, torch.Tensor] | None, tau: float = 1.0) -> dict[str, int]:
        """One path: per factor ``argmax(alpha / tau + Gumbel noise)``, a draw from ``softmax(alpha / tau)``."""
        choice: dict[str, int] = {}
        with torch.no_grad():
            for f in self.relaxed:
                a = logits[f.name] / tau if logits is not None else torch.zeros(len(f.choices))
                u = torch.rand(len(f.choices), generator=self.gen).clamp_(1e-10, 1 - 1e-10)
                choice[f.name] = int((a - torch.log(-torch.log(u))).argmax())
        return choice

    def _batches(self, n: int) -> list[torch.Tensor]:
        bs = self.config.batch_size
        order = torch.randperm(n, generator=self.gen)
        return [order[i:i + bs] for i in range(0, n - 1, bs) if len(order[i:i + bs]) > 1]

    def _weight_step(self, opt: torch.optim.Optimizer, idx: torch.Tensor,
                     logits: Mapping[str, torch.Tensor] | None, tau: float = 1.0) -> float:
        choice = self._sample(logits, tau)
        loss = F.cross_entropy(self.net(self.split.xw[idx], choice), self.split.yw[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    def _weight_opt(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.net.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)

    # -- phases -------------------------------------------------------------------------------------------

    def warmup(self) -> dict[str, Any]:
        """Train the shared weights on uniformly drawn paths; returns the state every search starts from."""
        with torch_threads(self.config.threads):
            opt = self._weight_opt()
            self.net.train()
            for _ in range(self.config.warmup_epochs):
                for idx in self._batches(len(self.split.xw)):
                    self._weight_step(opt, idx, None)
        return {"net": copy.deepcopy(self.net.state_dict()), "opt": copy.deepcopy(opt.state_dict())}

    def search(self, start: Mapping[str, Any], table: CostTable, *, lam: float | None = None,
               limit: float | None = None) -> Outcome:
        """Search from the warmed-up ``start``: fixed ``lam``, or lambda steered so the cost meets ``limit``."""
        cfg = self.config
        t0 = time.perf_counter()
        self.gen = torch.Generator().manual_seed(cfg.seed + 2)  # a point's result does not depend on its order
        self.net.load_state_dict(start["net"])
        opt = self._weight_opt()
        opt.load_state_dict(start["opt"])
        logits = {f.name: torch.zeros(len(f.choices), requires_grad=True) for f in self.relaxed}
        arch_opt = torch.optim.Adam(list(logits.values()), lr=cfg.arch_lr, betas=(0.5, 0.999))
        ref = max(table.uniform(), 1e-30)
        lam_now = float(lam) if lam is not None else cfg.lambda_start
        probs_log: dict[str, list[list[float]]] = {f.name: [] for f in self.relaxed}
        hist: dict[str, list[float]] = {k: [] for k in ("lambda", "tau", "expected_cost", "argmax_cost",
                                                        "weight_loss", "arch_loss", "arch_accuracy")}
        baseline: float | None = None
        with torch_threads(cfg.threads):
            self.net.train()
            for epoch in range(cfg.epochs):
                tau = cfg.tau_start * (cfg.tau_end / cfg.tau_start) ** (epoch / max(1, cfg.epochs - 1))
                w_batches = self._batches(len(self.split.xw))
                a_batches = self._batches(len(self.split.xa))
                steps = max(len(w_batches), len(a_batches))
                w_loss, a_loss, a_correct, a_seen = 0.0, 0.0, 0, 0
                for s in range(steps):
                    w_loss += self._weight_step(opt, w_batches[s % len(w_batches)], logits, tau)
                    idx = a_batches[s % len(a_batches)]
                    choice = self._sample(logits, tau)
                    with torch.no_grad():
                        out = self.net(self.split.xa[idx], choice)
                        ce = F.cross_entropy(out, self.split.ya[idx]).item()
                    advantage = 0.0 if baseline is None else ce - baseline
                    baseline = ce if baseline is None else 0.9 * baseline + 0.1 * ce
                    log_probs = {n: torch.log_softmax(v / tau, 0) for n, v in logits.items()}
                    log_path = sum(log_probs[n][k] for n, k in choice.items())
                    cost = expected_cost(table, {n: lp.exp() for n, lp in log_probs.items()})
                    surrogate = advantage * log_path + lam_now * cost / ref
                    arch_opt.zero_grad(set_to_none=True)
                    surrogate.backward()
                    arch_opt.step()
                    a_loss += ce
                    a_correct += int((out.argmax(1) == self.split.ya[idx]).sum())
                    a_seen += len(idx)
                    if limit is not None:  # dual ascent on log(lambda): up while over the limit, down below it
                        lam_now *= (cost.item() / limit) ** (cfg.target_rate / steps)
                        lam_now = min(max(lam_now, 1e-6), 1e6)
                with torch.no_grad():
                    probs = {n: torch.softmax(v / tau, 0) for n, v in logits.items()}
                    for n, p in probs.items():
                        probs_log[n].append([round(float(v), 5) for v in p])
                    hist["lambda"].append(lam_now)
                    hist["tau"].append(tau)
                    hist["expected_cost"].append(float(expected_cost(table, probs)))
                    hist["argmax_cost"].append(table.cost(self._argmax(logits)))
                    hist["weight_loss"].append(w_loss / steps)
                    hist["arch_loss"].append(a_loss / steps)
                    hist["arch_accuracy"].append(a_correct / max(1, a_seen))
        with torch.no_grad():
            final = {n: torch.log_softmax(v / tau, 0).tolist() for n, v in logits.items()}
        return Outcome(indices=self._argmax(logits), probabilities=probs_log, log_probs=final, history=hist,
                       seconds=time.perf_counter() - t0)

    def _argmax(self, logits: Mapping[str, torch.Tensor]) -> dict[str, int]:
        out = {f.name: 0 for f in self.rx.factors}
        out.update({n: int(np.argmax(v.detach().numpy())) for n, v in logits.items()})
        return out

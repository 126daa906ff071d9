"""Zero-cost proxies: score an untrained network in one or two passes. Needs torch.

- NASWOT (Mellor et al., "Neural Architecture Search without Training", ICML 2021): the binary codes of
  which ReLU/GELU units are active, for a minibatch, form a kernel ``K = sum_units (c c^T + (1-c)(1-c)^T)``;
  the score is ``log|det K|``. Networks that separate inputs well score higher.
- SynFlow (Tanaka et al., "Pruning neural networks without any data by iteratively conserving synaptic
  flow", NeurIPS 2020): with all weights made positive and an all-ones input, ``R = sum(f(1))``; the score
  is ``sum |theta * dR/dtheta|``. We return its natural log (the raw value overflows quickly).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def naswot(model: nn.Module, x: torch.Tensor) -> float:
    """NASWOT score of ``model`` on the minibatch ``x`` (higher is better)."""
    n = len(x)
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        codes = (inputs[0].detach().reshape(n, -1) > 0).double()
        kernel.add_(codes @ codes.T + (1 - codes) @ (1 - codes).T)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.ReLU, nn.GELU))]
    was_training = model.training
    try:
        model.train()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if not handles:
        return 0.0
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if sign > 0 else 0.0


def synflow(model: nn.Module, example_input: torch.Tensor) -> float:
    """log SynFlow score of ``model`` (a copy is scored in float64; the model is not changed)."""
    net = copy.deepcopy(model).double()
    net.eval()  # batch norm on running statistics (identity at initialisation), as in the paper's code
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    x = example_input[:1]
    x = torch.ones_like(x, dtype=torch.float64) if x.is_floating_point() else torch.zeros_like(x)
    net.zero_grad()
    torch.sum(net(x)).backward()
    score = sum(float((p.detach() * p.grad).abs().sum()) for p in net.parameters() if p.grad is not None)
    return math.log(score) if score > 0 else float("-inf")

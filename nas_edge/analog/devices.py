"""Weights -> device conductances -> what the columns hold at time t.

A layer's weight matrix (``groups x outputs x reduction``) is scaled per output to ``[-1, 1]`` (the digital
periphery multiplies the scale back, as aihwkit's column-wise weight scaling does), quantised to the profile's
grid and sliced into ``cell_bits`` digits. Conductances are normalised to ``g_max``:

- ``differential``: integer ``q`` in ``-(2^(wb-1)-1)..2^(wb-1)-1``; each slice of ``|q|`` goes to a G+ or a
  G- device in two separate columns, each read by the ADC; the two are subtracted digitally;
- ``signed``: same devices, but each cell sums G+ - G- on its bit line (one column, one signed ADC reading;
  aihwkit's analog tiles and IBM's PCM cores);
- ``offset``: ``q + 2^(wb-1) - 1`` (non-negative) on one device per slice; the offset times the sum of the
  (DAC-quantised) inputs is subtracted digitally (the reference column, read exactly).

Without weight quantisation there is one continuous slice. Programming noise, drift and the drift
compensation act on device conductances (see :func:`program` and :func:`at_time`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nas_edge.analog.config import AnalogConfig
from nas_edge.analog.quant import grid, split_digits

PCM_PROG_COEFF = (0.26348, 1.9650, -1.1731)
"""aihwkit's PCM programming-noise fit, sigma(g) in uS with g = G / g_max (Nandakumar et al. 2019)."""


@dataclass
class Slices:
    """Target device conductances of one layer, before any noise.

    ``g``: ``(S, D, G, N, K)`` in ``[0, 1]`` (S slices, D devices per slice: 2 for differential/signed, 1 for
    offset); ``slice_weight``: ``(S,)`` so that the normalised weight is ``sum_s w_s (g+ - g-)`` (offset:
    ``sum_s w_s g - 1``); ``scale``: ``(G, N)`` per-output weight scale.
    """

    g: torch.Tensor
    slice_weight: torch.Tensor
    scale: torch.Tensor


def weight_scale(w: torch.Tensor) -> torch.Tensor:
    """Per-output scale ``max_k |w|`` of a ``(G, N, K)`` matrix (1 where a row is all zero)."""
    s = w.detach().abs().amax(dim=-1)
    return torch.where(s > 0, s, torch.ones_like(s))


def target_slices(w: torch.Tensor, cfg: AnalogConfig) -> Slices:
    """Noise-free conductances that encode ``w`` (``(G, N, K)``) on the profile's cells."""
    scale = weight_scale(w)
    wn = (w.detach() / scale[..., None]).clamp(-1.0, 1.0)
    dt = w.dtype
    if not cfg.quantize_weights:
        if cfg.mapping == "offset":
            return Slices(((wn + 1) / 2)[None, None], torch.tensor([2.0], dtype=dt, device=w.device), scale)
        g = torch.stack([wn.clamp_min(0), (-wn).clamp_min(0)])[None]
        return Slices(g, torch.tensor([1.0], dtype=dt, device=w.device), scale)
    levels = 2 ** (cfg.weight_bits - 1) - 1
    q = grid(wn, levels)
    if cfg.mapping == "offset":
        vals, weights = split_digits(q + levels, cfg.weight_bits, cfg.cell_bits)
        g = vals[:, None]
    else:
        vals, weights = split_digits(q.abs(), cfg.weight_bits - 1, cfg.cell_bits)
        pos = (q > 0).to(dt)
        g = torch.stack([vals * pos, vals * (1 - pos)], dim=1)
    sw = torch.tensor(weights, dtype=dt, device=w.device) / levels
    return Slices(g, sw, scale)


def pcm_sigma(g: torch.Tensor, g_max_us: float) -> torch.Tensor:
    """Programming-noise standard deviation of normalised conductances ``g`` (relative to g_max)."""
    c0, c1, c2 = PCM_PROG_COEFF
    return (c0 + c1 * g + c2 * g * g) / g_max_us


def program(g: torch.Tensor, cfg: AnalogConfig, generator: torch.Generator | None = None,
            noise_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Programmed conductances (programming noise, clipped at 0) and per-device drift exponents.

    The exponents are ``|N(drift_nu, drift_nu_std)|`` per device (``None`` without drift).
    """
    scale = cfg.noise_scale * noise_scale
    if cfg.programming_noise == "pcm" and scale > 0:
        noise = torch.randn(g.shape, generator=generator, dtype=g.dtype, device=g.device)
        g = (g + scale * pcm_sigma(g, cfg.g_max_us) * noise).clamp_min(0.0)
    elif cfg.programming_noise == "gaussian" and cfg.programming_sigma > 0 and scale > 0:
        noise = torch.randn(g.shape, generator=generator, dtype=g.dtype, device=g.device)
        g = (g + scale * cfg.programming_sigma * noise).clamp_min(0.0)
    nu = None
    if cfg.has_drift:
        nu = cfg.drift_nu + cfg.drift_nu_std * torch.randn(g.shape, generator=generator, dtype=g.dtype,
                                                           device=g.device)
        nu = nu.abs()
    return g, nu


def drift_factor(nu: torch.Tensor, t_s: float, t0_s: float) -> torch.Tensor:
    """``((t + t0) / t0) ** -nu``: t counts from the end of programming, as in aihwkit (t0: first read)."""
    return torch.exp(-nu * math.log((t_s + t0_s) / t0_s))


def columns(g: torch.Tensor, slice_weight: torch.Tensor, mapping: str) -> tuple[torch.Tensor, torch.Tensor]:
    """What each ADC reads: ``(J, G, N, K)`` column conductances and their ``(J,)`` digital weights."""
    s, d = g.shape[:2]
    if mapping == "differential":
        cols = g.reshape(s * d, *g.shape[2:])
        coef = torch.stack([slice_weight, -slice_weight], dim=1).reshape(-1)
        return cols, coef
    if mapping == "signed":
        return g[:, 0] - g[:, 1], slice_weight
    return g[:, 0], slice_weight


def at_time(g_prog: torch.Tensor, nu: torch.Tensor | None, t_s: float, cfg: AnalogConfig) -> torch.Tensor:
    """Conductances ``t_s`` seconds after programming."""
    if nu is None or t_s <= 0:
        return g_prog
    return g_prog * drift_factor(nu, t_s, cfg.drift_t0_s)


def compensation(cols_ref: torch.Tensor, cols_now: torch.Tensor, coef: torch.Tensor) -> float:
    """Global drift compensation factor of a layer: the read-out of all columns with an all-ones input right
    after programming over the same read-out now (aihwkit's GlobalDriftCompensation, read noise aside)."""
    w = coef.abs().reshape(-1, *([1] * (cols_ref.dim() - 1)))
    ref = float((w * cols_ref.sum(dim=-1, keepdim=True).abs()).sum())
    now = float((w * cols_now.sum(dim=-1, keepdim=True).abs()).sum())
    return ref / now if now > 0 else 1.0


def effective_weight(cols: torch.Tensor, coef: torch.Tensor, mapping: str) -> torch.Tensor:
    """The normalised ``(G, N, K)`` weight that columns with these conductances realise (no converters)."""
    w = torch.tensordot(coef, cols, dims=([0], [0]))
    return w - 1.0 if mapping == "offset" else w

"""Quantisers of the analog simulation: integer grids, bit slices / input cycles, and the ADC.

Conventions (all tensors, any shape):

- a *grid* of ``levels`` maps ``[-1, 1]`` onto the integers ``-levels..levels`` (round half to even, clipped);
- an integer magnitude of ``bits`` bits is split into ``ceil(bits / digit_bits)`` digits, least significant
  first; digit ``s`` holds ``b_s = min(digit_bits, bits - s * digit_bits)`` bits and is mapped onto a full
  analog range by ``value_s = digit_s / (2**b_s - 1)``, so ``integer = sum_s value_s * (2**b_s - 1) *
  2**(s * digit_bits)``;
- the ADC converts a value in ``[-full_scale, full_scale]`` (signed: ``2**bits - 1`` levels, zero among them;
  one bit: the two levels +-full_scale) or ``[0, full_scale]`` (unsigned: ``2**bits`` levels), clipping
  outside.
"""

from __future__ import annotations

import math

import torch


def grid(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Integers ``round(clip(x, -1, 1) * levels)`` (as floats)."""
    return torch.round(x.clamp(-1.0, 1.0) * levels)


def digit_bits(bits: int, per_digit: int) -> list[int]:
    """Bits held by each digit, least significant first: ``[per_digit, ..., remainder]``."""
    if bits < 1 or per_digit < 1:
        raise ValueError(f"need bits >= 1 and per_digit >= 1, got {bits}, {per_digit}")
    n = math.ceil(bits / per_digit)
    return [min(per_digit, bits - s * per_digit) for s in range(n)]


def digit_weights(bits: int, per_digit: int) -> list[float]:
    """``(2**b_s - 1) * 2**(bits below digit s)`` for each digit: ``integer = sum_s weight_s * value_s``."""
    out, shift = [], 0
    for b in digit_bits(bits, per_digit):
        out.append(float(2 ** b - 1) * float(2 ** shift))
        shift += b
    return out


def split_digits(magnitude: torch.Tensor, bits: int, per_digit: int) -> tuple[torch.Tensor, list[float]]:
    """Split non-negative integers (floats holding integers < 2**bits) into normalised digits.

    Returns ``(values, weights)``: ``values`` has a new leading axis of digits, each in ``[0, 1]``
    (``digit / (2**b_s - 1)``); ``sum_s weights[s] * values[s] == magnitude`` exactly.
    """
    values = []
    rest = magnitude
    for b in digit_bits(bits, per_digit):
        base = float(2 ** b)
        digit = torch.remainder(rest, base)
        rest = torch.div(rest - digit, base, rounding_mode="floor")
        values.append(digit / float(2 ** b - 1))
    return torch.stack(values), digit_weights(bits, per_digit)


def adc_levels(bits: int, signed: bool) -> int:
    """Number of output levels of a ``bits``-bit ADC on a signed or unsigned range."""
    if signed:
        return 2 if bits == 1 else 2 ** bits - 1
    return 2 ** bits


def adc_step(full_scale: float | torch.Tensor, bits: int, signed: bool) -> float | torch.Tensor:
    """Spacing of the ADC's output levels."""
    if signed:
        return 2 * full_scale if bits == 1 else 2 * full_scale / (2 ** bits - 2)
    return full_scale / (2 ** bits - 1)


def adc_codes(x: torch.Tensor, full_scale: float, bits: int, signed: bool) -> tuple[torch.Tensor, float]:
    """``(codes, step)``: the ADC output is ``codes * step``, codes integers; ``x`` is overwritten (no copy).

    Every level is a multiple of the step (zero is a level, except for a one-bit signed ADC, whose codes
    are +-1 and step ``full_scale``), so the conversion is ``round(x / step)`` clipped to the end codes; an
    exact tie between two levels (integer partial sums do hit them) goes to the even code.
    """
    fs = max(float(full_scale), torch.finfo(x.dtype).tiny)
    if signed and bits == 1:  # a comparator: +-full_scale
        return x.copy_((x >= 0).to(x.dtype)).mul_(2).sub_(1), fs
    step = float(adc_step(fs, bits, signed))
    top = round(fs / step)
    return x.mul_(1.0 / step).round_().clamp_(-top if signed else 0, top), step


def adc(x: torch.Tensor, full_scale: float, bits: int, signed: bool, *, inplace: bool = False) -> torch.Tensor:
    """Quantise ``x`` to the ADC's levels (nearest level; values beyond the range clip to the end levels).

    ``inplace`` overwrites ``x`` (no extra memory).
    """
    codes, step = adc_codes(x if inplace else x.clone(), full_scale, bits, signed)
    return codes.mul_(step)

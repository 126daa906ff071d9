"""Quantiser, slicing and device-model properties of the analog simulation (hypothesis where a rule must
hold for every input)."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nas_edge.analog import AnalogConfig, devices  # noqa: E402
from nas_edge.analog.quant import adc, adc_levels, adc_step, digit_bits, grid, split_digits  # noqa: E402
from nas_edge.hardware import load_profile, profile_from_dict, profile_to_dict  # noqa: E402

from reference_cost import columns_per_output  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")


FAST = settings(max_examples=60, deadline=None)
floats = st.floats(-4, 4, allow_nan=False, width=32)


@FAST
@given(st.lists(floats, min_size=1, max_size=50), st.integers(1, 12), st.floats(0.01, 3), st.booleans())
def test_adc_outputs_are_levels_nearest_and_clipped(values, bits, fs, signed):
    x = torch.tensor(values, dtype=torch.float64)
    y = adc(x, fs, bits, signed)
    lo = -fs if signed else 0.0
    assert torch.all(y >= lo - 1e-12) and torch.all(y <= fs + 1e-12)
    if signed and bits == 1:
        levels = torch.tensor([-fs, fs], dtype=torch.float64)
    else:
        levels = torch.linspace(lo, fs, adc_levels(bits, signed), dtype=torch.float64)
    # every output is a level, and the nearest level to the clipped input
    dist = (y[:, None] - levels[None]).abs().min(dim=1).values
    assert torch.all(dist < 1e-9 * max(1.0, fs))
    clipped = x.clamp(lo, fs)
    best = (clipped[:, None] - levels[None]).abs().min(dim=1).values
    assert torch.all((y - clipped).abs() <= best + 1e-9)
    assert len(torch.unique(adc(torch.linspace(-5, 5, 20001, dtype=torch.float64), fs, bits, signed))) <= len(levels)


@FAST
@given(st.lists(floats, min_size=2, max_size=50), st.integers(1, 10), st.floats(0.01, 3), st.booleans())
def test_adc_is_monotone_idempotent_and_error_bounded(values, bits, fs, signed):
    x = torch.tensor(sorted(values), dtype=torch.float64)
    y = adc(x, fs, bits, signed)
    assert torch.all(y[1:] >= y[:-1])
    assert torch.allclose(adc(y, fs, bits, signed), y)
    inside = (x.abs() <= fs) if signed else ((x >= 0) & (x <= fs))
    if not (signed and bits == 1):
        assert torch.all((y - x)[inside].abs() <= adc_step(fs, bits, signed) / 2 + 1e-12)


def test_adc_zero_is_a_level_and_inplace_matches():
    for bits in range(2, 9):
        assert float(adc(torch.zeros(1), 1.0, bits, True)) == 0.0
        x = torch.randn(100)
        assert torch.equal(adc(x.clone(), 1.5, bits, True, inplace=True), adc(x, 1.5, bits, True))


@FAST
@given(st.integers(1, 16), st.integers(1, 8), st.data())
def test_digits_recombine_exactly(bits, per_digit, data):
    ints = data.draw(st.lists(st.integers(0, 2 ** bits - 1), min_size=1, max_size=30))
    x = torch.tensor(ints, dtype=torch.float64)
    vals, weights = split_digits(x, bits, per_digit)
    assert vals.shape[0] == math.ceil(bits / per_digit) == len(digit_bits(bits, per_digit))
    assert torch.all(vals >= 0) and torch.all(vals <= 1)
    back = sum(w * v for w, v in zip(weights, vals, strict=True))
    assert torch.equal(back, x)
    # each digit value times its full scale is an integer that fits its bits
    for b, v in zip(digit_bits(bits, per_digit), vals, strict=True):
        d = v * (2 ** b - 1)
        assert torch.allclose(d, d.round()) and float(d.max()) <= 2 ** b - 1


@FAST
@given(st.lists(floats, min_size=1, max_size=30), st.integers(1, 200))
def test_grid_is_symmetric_rounding(values, levels):
    x = torch.tensor(values, dtype=torch.float64)
    q = grid(x, levels)
    assert torch.equal(q, torch.round(x.clamp(-1, 1) * levels))
    assert torch.equal(grid(-x, levels), -q)
    assert torch.all(q.abs() <= levels)


@FAST
@given(st.integers(2, 9), st.integers(1, 8), st.sampled_from(["differential", "offset", "signed"]),
       st.integers(1, 4), st.integers(1, 6), st.integers(0, 10 ** 6))
def test_target_conductances_encode_the_quantised_weight(wb, cb, mapping, n, k, seed):
    """Noise-free devices realise exactly the weight rounded to the profile's grid, whatever the slicing."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(1, n, k, generator=gen, dtype=torch.float64)
    cfg = AnalogConfig(weight_bits=wb, cell_bits=cb, mapping=mapping)
    sl = devices.target_slices(w, cfg)
    assert torch.all(sl.g >= 0) and torch.all(sl.g <= 1 + 1e-12)
    cols, coef = devices.columns(sl.g, sl.slice_weight, mapping)
    got = devices.effective_weight(cols, coef, mapping) * sl.scale[..., None]
    levels = 2 ** (wb - 1) - 1
    scale = w.abs().amax(dim=-1, keepdim=True)
    want = np.round(w.numpy() / scale.numpy() * levels) / levels * scale.numpy()
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)
    n_slices = math.ceil((wb if mapping == "offset" else wb - 1) / cb)
    assert sl.g.shape[:2] == (n_slices, 1 if mapping == "offset" else 2)
    if mapping != "offset":  # a weight lives on its G+ or its G- device, never both
        assert torch.all(sl.g[:, 0] * sl.g[:, 1] == 0)
    # the cost model reads as many columns per output as the simulation slices
    assert cols.shape[0] == columns_per_output(_profile(wb, cb, mapping))[0]


@functools.cache
def _profile(wb: int, cb: int, mapping: str):
    d = profile_to_dict(load_profile("neurosim-rram-22nm"))
    d["precision"]["weight_bits"] = wb
    d["array"].update(cell_bits=cb, mapping=mapping)
    return profile_from_dict(d)


def test_unquantised_targets_are_exact():
    w = torch.randn(2, 3, 7, dtype=torch.float64)
    for mapping in ("differential", "offset", "signed"):
        sl = devices.target_slices(w, AnalogConfig(mapping=mapping, quantize_weights=False))
        cols, coef = devices.columns(sl.g, sl.slice_weight, mapping)
        got = devices.effective_weight(cols, coef, mapping) * sl.scale[..., None]
        torch.testing.assert_close(got, w, atol=1e-12, rtol=0)


def test_pcm_programming_noise_follows_the_aihwkit_fit():
    cfg = AnalogConfig(programming_noise="pcm", g_max_us=25.0)
    gen = torch.Generator().manual_seed(0)
    for g0 in (0.3, 0.6, 1.0):
        g = torch.full((200_000,), g0, dtype=torch.float64)
        prog, nu = devices.program(g, cfg, gen)
        assert nu is None
        sigma_us = 0.26348 + 1.965 * g0 - 1.1731 * g0 ** 2
        assert float(prog.std()) == pytest.approx(sigma_us / 25.0, rel=0.02)
        assert float(prog.mean()) == pytest.approx(g0, abs=1e-3)
    zero, _ = devices.program(torch.zeros(10_000, dtype=torch.float64), cfg, gen)
    assert float(zero.min()) == 0.0 and float(zero.max()) > 0  # clipped at zero, never negative


def test_gaussian_noise_scale_and_switch():
    cfg = AnalogConfig(programming_noise="gaussian", programming_sigma=0.05)
    g = torch.full((100_000,), 0.5, dtype=torch.float64)
    prog, _ = devices.program(g, cfg, torch.Generator().manual_seed(1))
    assert float(prog.std()) == pytest.approx(0.05, rel=0.03)
    prog2, _ = devices.program(g, cfg.replace(noise_scale=2.0), torch.Generator().manual_seed(1))
    assert float(prog2.std()) == pytest.approx(0.10, rel=0.03)
    same, _ = devices.program(g, cfg.replace(noise_scale=0.0), torch.Generator().manual_seed(1))
    assert torch.equal(same, g)


def test_drift_power_law_and_global_compensation():
    cfg = AnalogConfig(drift_nu=0.05, drift_nu_std=0.0, drift_t0_s=20.0)
    g = torch.rand(2, 2, 1, 4, 9, dtype=torch.float64)
    prog, nu = devices.program(g, cfg, torch.Generator().manual_seed(0))
    assert nu is not None and torch.all(nu == 0.05)
    for t in (1.0, 3600.0, 86400.0):
        gt = devices.at_time(prog, nu, t, cfg)
        torch.testing.assert_close(gt, g * ((t + 20.0) / 20.0) ** -0.05)
        ref, coef = devices.columns(prog, torch.ones(2, dtype=torch.float64), "differential")
        now, _ = devices.columns(gt, torch.ones(2, dtype=torch.float64), "differential")
        gamma = devices.compensation(ref, now, coef)
        assert gamma == pytest.approx(((t + 20.0) / 20.0) ** 0.05)  # uniform drift is fully compensated
    assert torch.equal(devices.at_time(prog, nu, 0.0, cfg), prog)
    spread = AnalogConfig(drift_nu=0.05, drift_nu_std=0.02)
    _, nu2 = devices.program(torch.full((100_000,), 0.5), spread, torch.Generator().manual_seed(0))
    assert nu2 is not None and float(nu2.min()) >= 0 and float(nu2.std()) == pytest.approx(0.02, rel=0.1)

"""The vectorised crossbar simulation against an explicit loop over arrays, row groups, read cycles and
columns (written independently, in float64 Python), and the ideal simulation against the digital forward."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

from nas_edge.analog import (  # noqa: E402
    AnalogConfig,
    AnalogConv2d,
    AnalogLinear,
    calibrate,
    convert_to_analog,
    program,
    row_groups,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")


# -- the reference: one loop iteration per (vector, group, array, row group, cycle, column, output) ----------


def _ref_adc(p: float, fs: float, bits: int, signed: bool) -> float:
    """Nearest of the ADC's levels ``k * step``; an exact tie (integer partial sums hit them) goes to even k."""
    if signed and bits == 1:  # a comparator: +fs from zero up
        return fs if p >= 0 else -fs
    if signed:
        ks = np.arange(-(2 ** (bits - 1) - 1), 2 ** (bits - 1))
        step = 2 * fs / (2 ** bits - 2)
    else:
        ks = np.arange(2 ** bits)
        step = fs / (2 ** bits - 1)
    dist = np.abs(ks * step - p)
    best = ks[dist <= dist.min() * (1 + 1e-12) + 1e-300]
    k = best[0] if len(best) == 1 else best[best % 2 == 0][0]
    return float(k * step)


def _ref_dac(xn: float, cfg: AnalogConfig, signed: bool) -> tuple[list[float], list[float], float]:
    """Per-cycle DAC values, their digital weights and the quantised value, with integer arithmetic."""
    if not cfg.quantize_inputs:
        return [xn], [1.0], xn
    mag = cfg.input_bits - (1 if signed else 0)
    levels = 2 ** mag - 1
    v = min(max(xn, -1.0 if signed else 0.0), 1.0) * levels
    p = int(np.round(v))  # numpy rounds half to even, like torch
    sign, p = (1 if p >= 0 else -1), abs(p)
    vals, weights, shift = [], [], 0
    while shift < mag:
        b = min(cfg.dac_bits, mag - shift)
        digit = (p >> shift) & (2 ** b - 1)
        vals.append(sign * digit / (2 ** b - 1))
        weights.append((2 ** b - 1) * 2 ** shift / levels)
        shift += b
    return vals, weights, sign * p / levels


def _tiles(k: int, rows: int, rp: int, kernel: int) -> list[list[int]]:
    """Row groups as explicit index lists: arrays of ``rows`` rows (whole kernels), then ``rp`` rows a read."""
    tile = rows if kernel <= 1 or kernel > rows else (rows // kernel) * kernel
    out = []
    for a in range(0, k, tile):
        idx = list(range(a, min(k, a + tile)))
        out.extend(idx[s:s + rp] for s in range(0, len(idx), rp))
    return out


def reference_mvm(layer, vectors: np.ndarray, signed_in: bool, read_noise: bool = False) -> np.ndarray:
    """``vectors``: (M, G, K) raw inputs -> (M, G, N) outputs before bias, by explicit loops."""
    cfg = layer.analog_config
    cols = layer._cols.detach().double().numpy()  # (J, G, N, K): what the programmed devices hold now
    coef = layer._coef.detach().double().numpy()
    scale = layer._scale.detach().double().numpy()
    j_cols, g_n, n_out, k = cols.shape
    kern = layer.kernel_size_ if cfg.keep_kernels_whole else 1
    tiles = _tiles(k, cfg.rows, cfg.rows_parallel, kern)
    signed_adc = cfg.mapping == "signed" or signed_in
    m_n = vectors.shape[0]
    out = np.zeros((m_n, g_n, n_out))
    for m in range(m_n):
        for g in range(g_n):
            dac = [_ref_dac(float(v) / layer.x_max, cfg, signed_in) for v in vectors[m, g]]
            n_cyc = len(dac[0][0])
            for rows in tiles:
                for c in range(n_cyc):
                    u = np.array([dac[r][0][c] for r in rows])
                    a_c = dac[0][1][c]
                    for j in range(j_cols):
                        for n in range(n_out):
                            p = float(np.dot(u, cols[j, g, n, rows]))
                            if cfg.adc:
                                p = _ref_adc(p, layer.full_scale, cfg.adc_bits, signed_adc)
                            out[m, g, n] += a_c * coef[j] * p
            out[m, g] *= layer._gamma
            if cfg.mapping == "offset":
                out[m, g] -= sum(d[2] for d in dac)
            out[m, g] *= scale[g] * layer.x_max
    return out


def _patches(x: np.ndarray, conv: nn.Conv2d) -> tuple[np.ndarray, tuple[int, int]]:
    """(B*Ho*Wo, G, K) patches in (channel, ky, kx) order by explicit loops over output positions."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = conv.kernel_size, conv.stride, conv.padding, conv.dilation
    b, cin, h, w = x.shape
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    g = conv.groups
    cg = cin // g
    out = np.zeros((b, ho, wo, g, cg * kh * kw))
    for bi in range(b):
        for oy in range(ho):
            for ox in range(wo):
                for gi in range(g):
                    vals = []
                    for ci in range(cg):
                        for ky in range(kh):
                            for kx in range(kw):
                                iy, ix = oy * sh - ph + ky * dh, ox * sw - pw + kx * dw
                                inside = 0 <= iy < h and 0 <= ix < w
                                vals.append(x[bi, gi * cg + ci, iy, ix] if inside else 0.0)
                    out[bi, oy, ox, gi] = vals
    return out.reshape(b * ho * wo, g, -1), (ho, wo)


def _cfg(draw, *, k_hint: int) -> AnalogConfig:
    rows = draw(st.integers(1, max(1, k_hint + 2)))
    return AnalogConfig(
        weight_bits=draw(st.integers(2, 7)), input_bits=draw(st.integers(2, 7)), cell_bits=draw(st.integers(1, 4)),
        dac_bits=draw(st.integers(1, 4)), adc_bits=draw(st.integers(1, 8)),
        mapping=draw(st.sampled_from(["differential", "offset", "signed"])), rows=rows,
        rows_parallel=draw(st.integers(1, rows)), keep_kernels_whole=draw(st.booleans()),
        programming_noise=draw(st.sampled_from(["none", "pcm", "gaussian"])), programming_sigma=0.05,
        drift_nu=draw(st.sampled_from([0.0, 0.05])), drift_nu_std=0.02,
        quantize_weights=draw(st.booleans()), quantize_inputs=draw(st.booleans()), adc=draw(st.booleans()))


def _prepare(layer, x: torch.Tensor, seed: int, t_s: float) -> None:
    layer.eval()
    calibrate(layer, x)
    layer.program_(torch.Generator().manual_seed(seed))
    layer.drift_to_(t_s)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_linear_partial_sums_equal_the_loop(data):
    k, n, m = data.draw(st.integers(1, 24)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    cfg = _cfg(data.draw, k_hint=k)
    seed = data.draw(st.integers(0, 2 ** 31))
    gen = torch.Generator().manual_seed(seed)
    lin = AnalogLinear(k, n, bias=data.draw(st.booleans()), config=cfg, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(n, k, generator=gen, dtype=torch.float64))
    x = torch.randn(m, k, generator=gen, dtype=torch.float64)
    if data.draw(st.booleans()):
        x = x.abs()  # unsigned inputs: unsigned DAC and (except signed cells) unsigned ADC
    _prepare(lin, x, seed, data.draw(st.sampled_from([0.0, 1.0, 86400.0])))
    with torch.no_grad():
        got = lin(x).numpy()
    want = reference_mvm(lin, x.numpy()[:, None, :], bool((x < 0).any()))[:, 0]
    if lin.bias is not None:
        want = want + lin.bias.detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_conv_partial_sums_equal_the_loop(data):
    groups = data.draw(st.integers(1, 3))
    cin = groups * data.draw(st.integers(1, 3))
    cout = groups * data.draw(st.integers(1, 2))
    kernel = data.draw(st.integers(1, 3))
    k = cin // groups * kernel * kernel
    cfg = _cfg(data.draw, k_hint=k)
    conv = AnalogConv2d(cin, cout, kernel, stride=data.draw(st.integers(1, 2)), padding=data.draw(st.integers(0, 1)),
                        dilation=data.draw(st.integers(1, 2)), groups=groups, bias=data.draw(st.booleans()),
                        config=cfg, dtype=torch.float64)
    size = data.draw(st.integers(3, 5))
    if size + 2 * conv.padding[0] < conv.dilation[0] * (kernel - 1) + 1:
        size = conv.dilation[0] * (kernel - 1) + 1
    seed = data.draw(st.integers(0, 2 ** 31))
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, cin, size, size, generator=gen, dtype=torch.float64)
    if data.draw(st.booleans()):
        x = x.abs()
    _prepare(conv, x, seed, data.draw(st.sampled_from([0.0, 3600.0])))
    with torch.no_grad():
        got = conv(x).numpy()
    patches, (ho, wo) = _patches(x.numpy(), conv)
    want = reference_mvm(conv, patches, bool((x < 0).any()))  # (B*Ho*Wo, G, N)
    want = want.reshape(2, ho, wo, cout).transpose(0, 3, 1, 2)
    if conv.bias is not None:
        want = want + conv.bias.detach().numpy()[None, :, None, None]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_conv_read_noise_energy_equals_the_patch_sums(data):
    """The per-row-group sum of squared inputs (read-noise variance) of every conv path (box filter,
    average pool, masked conv) equals the explicit sum over each patch's row group."""
    groups = data.draw(st.integers(1, 3))
    cin, kernel = groups * data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    rows = data.draw(st.integers(1, 12))
    cfg = AnalogConfig(rows=rows, rows_parallel=data.draw(st.integers(1, rows)))
    conv = AnalogConv2d(cin, groups, kernel, stride=data.draw(st.integers(1, 2)),
                        padding=data.draw(st.integers(0, kernel // 2)), dilation=data.draw(st.integers(1, 2)),
                        groups=groups, config=cfg, dtype=torch.float64)
    x = torch.randn(2, cin, 5, 5, generator=torch.Generator().manual_seed(data.draw(st.integers(0, 99))),
                    dtype=torch.float64)
    groups_k = conv._row_groups()
    got = conv._row_energy(x[None], groups_k)[0, :, :, :, 0, 0, :]  # (B, G, Rg, L)
    patches, _ = _patches(x.numpy(), conv)  # (B*L, G, K)
    want = np.stack([(patches[:, :, a:b] ** 2).sum(-1) for a, b in groups_k], axis=-1)  # (B*L, G, Rg)
    want = want.reshape(2, -1, groups, len(groups_k)).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 300), st.integers(1, 64), st.data())
def test_row_groups_partition_the_reduction(k, rows, data):
    rp = data.draw(st.integers(1, rows))
    kernel = data.draw(st.sampled_from([1, 4, 9, 25]))
    groups = row_groups(k, rows, rp, kernel)
    assert [i for a, b in groups for i in range(a, b)] == list(range(k))
    assert all(0 < b - a <= rp for a, b in groups)
    assert [list(range(a, b)) for a, b in groups] == _tiles(k, rows, rp, kernel)
    if kernel <= rows:  # no row group straddles two arrays, and whole kernels stay in one array
        tile = rows if kernel == 1 else rows // kernel * kernel
        assert all(a // tile == (b - 1) // tile for a, b in groups)
    assert len(groups) >= math.ceil(k / rows)


def test_read_noise_has_the_per_read_variance():
    """Read noise on every device and read: output variance = sigma^2 * devices * sum(u^2) * sum_j coef_j^2."""
    k, n = 40, 3
    cfg = AnalogConfig(mapping="signed", read_noise_sigma=0.02, quantize_weights=False, quantize_inputs=False,
                       adc=False, rows=16, rows_parallel=8)
    lin = AnalogLinear(k, n, bias=False, config=cfg, dtype=torch.float64)
    x = torch.rand(1, k, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    _prepare(lin, x, 0, 0.0)
    lin.generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        ys = torch.stack([lin(x.expand(4000, k)) for _ in range(5)]).reshape(-1, n)
        ideal = nn.functional.linear(x, lin.weight)[0]
    u = x[0] / lin.x_max
    scale = lin._scale[0] * lin.x_max
    expected_std = 0.02 * math.sqrt(2 * float((u * u).sum())) * scale
    torch.testing.assert_close(ys.mean(0), ideal, atol=float(4 * expected_std.max() / math.sqrt(len(ys))), rtol=0)
    torch.testing.assert_close(ys.std(0), expected_std, rtol=0.05, atol=0)


# -- all non-idealities off + 16-bit ADC = digital forward -------------------------------------------------


def _digits_nets(kind: str):
    """Small digits networks covering every layer kind (depthwise/grouped convs, squeeze-excite linears,
    residual shortcuts; attention projections and MLPs)."""
    from nas_edge.spaces import create_space

    space = create_space(kind, input_shape=(1, 8, 8), num_classes=10)
    if kind == "transformer":
        choices = [dict(vit_patch=2, vit_embed=32, vit_depth=2, vit_heads=2, vit_mlp_ratio=2),
                   dict(vit_patch=4, vit_embed=64, vit_depth=1, vit_heads=4, vit_mlp_ratio=1)]
    else:
        stages = [[("mbconv", 16, 3, 3, True), ("residual", 24, 3, 1, False), ("dense", 32, 3, 1, True)],
                  [("dense", 12, 5, 1, False), ("mbconv", 24, 5, 4, False), ("residual", 48, 3, 1, True)]]
        choices = []
        for stem, blocks in zip((8, 16), stages, strict=True):
            params = {"cnn_resolution": 8, "cnn_stem_width": stem}
            for i, (block, width, kernel, expand, se) in enumerate(blocks):
                params.update({f"cnn_s{i}_block": block, f"cnn_s{i}_depth": 1, f"cnn_s{i}_width": width,
                               f"cnn_s{i}_kernel": kernel, f"cnn_s{i}_expand": expand, f"cnn_s{i}_se": se})
            choices.append(params)
    return [(space, space.from_params(p)) for p in choices]


def _ideal_diff(space, arch, cfg: AnalogConfig, x: torch.Tensor) -> float:
    torch.manual_seed(0)
    model = space.build(arch).eval()
    net = convert_to_analog(model, cfg)
    assert sum(isinstance(m, (AnalogLinear, AnalogConv2d)) for m in net.modules()) == sum(
        isinstance(m, (nn.Linear, nn.Conv2d)) for m in model.modules())
    calibrate(net, x)
    program(net, torch.Generator().manual_seed(0))
    with torch.no_grad():
        return float((net(x) - model(x)).abs().max())


@pytest.mark.parametrize("profile", ["pcm-aihwkit-14nm", "neurosim-rram-22nm", "mnsim-default-45nm"])
def test_ideal_simulation_equals_digital_forward(profile):
    """Every non-ideality off, 16-bit ADC: the digits CNNs' simulated forward equals the digital one."""
    cfg = AnalogConfig.from_profile(profile).ideal(adc_bits=16)
    x = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    for space, arch in _digits_nets("cnn"):
        diff = _ideal_diff(space, arch, cfg, x)
        assert diff <= 1e-5, f"{arch.summary()}: max |analog - digital| = {diff:.2e}"


def test_ideal_transformer_equals_digital_forward():
    """Transformers (outputs ~1, 14+ analog layers in series): exact without the ADC; with a 16-bit ADC
    the difference stays within a few of its steps (each layer: <= 1/2 step = full scale / 2 / 65534)."""
    cfg = AnalogConfig.from_profile("pcm-aihwkit-14nm").ideal(adc_bits=16)
    x = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    for space, arch in _digits_nets("transformer"):
        assert _ideal_diff(space, arch, cfg.replace(adc=False), x) <= 1e-5
        assert _ideal_diff(space, arch, cfg, x) <= 2e-4


def test_ideal_differs_once_a_non_ideality_is_on():
    """The equality above is not vacuous: each non-ideality alone moves the output."""
    lin = nn.Linear(64, 8)
    x = torch.randn(32, 64, generator=torch.Generator().manual_seed(0))
    base = AnalogConfig.from_profile("pcm-aihwkit-14nm").ideal(adc_bits=16)
    for change in ({"adc_bits": 3}, {"quantize_weights": True, "weight_bits": 3},
                   {"quantize_inputs": True, "input_bits": 3}, {"read_noise_sigma": 0.02},
                   {"programming_noise": "pcm"}):
        net = convert_to_analog(lin, base.replace(**change))
        calibrate(net, x)
        program(net, torch.Generator().manual_seed(0))
        with torch.no_grad():
            assert float((net(x) - lin(x)).abs().max()) > 1e-3, change


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_projections_are_analog_and_exact_when_ideal(batch_first):
    """nn.MultiheadAttention becomes AnalogMultiheadAttention: same outputs and weights when ideal (self- and
    cross-attention, boolean and additive masks, unbatched input), and its projections really run analog."""
    from nas_edge.analog import AnalogMultiheadAttention

    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, batch_first=batch_first).eval()
    model = nn.Sequential(mha)
    cfg = AnalogConfig.from_profile("pcm-aihwkit-14nm").ideal().replace(adc=False)
    net = convert_to_analog(model, cfg)
    amha = net[0]
    assert isinstance(amha, AnalogMultiheadAttention) and isinstance(amha.in_proj, AnalogLinear)
    shape = (2, 5, 16) if batch_first else (5, 2, 16)
    q, kv = torch.randn(*shape), torch.randn(*shape)
    calibrate(amha, q, kv, kv)  # the in-projection sees both: its ranges cover both
    program(amha, torch.Generator().manual_seed(0))
    causal = torch.ones(5, 5, dtype=torch.bool).triu(1)
    pad = torch.tensor([[False] * 4 + [True], [False] * 5])
    additive = torch.randn(5, 5)
    cases = [((q, q, q), {}), ((q, kv, kv), {}), ((q, q, q), {"attn_mask": causal}),
             ((q, kv, kv), {"key_padding_mask": pad}), ((q, q, q), {"attn_mask": additive}),
             ((q, q, q), {"need_weights": True, "average_attn_weights": False})]
    with torch.no_grad():
        for args, kw in cases:
            (want, w_want), (got, w_got) = mha(*args, **kw), amha(*args, **kw)
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(w_got, w_want, atol=1e-5, rtol=1e-5)
        one = q[0] if batch_first else q[:, 0]
        torch.testing.assert_close(amha(one, one, one)[0], mha(one, one, one)[0], atol=1e-5, rtol=1e-5)
        assert amha(q, q, q, need_weights=False)[1] is None
    noisy = convert_to_analog(model, AnalogConfig.from_profile("pcm-aihwkit-14nm").replace(adc_bits=3))[0]
    calibrate(noisy, q, q, q)
    program(noisy, torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert float((noisy(q, q, q)[0] - mha(q, q, q)[0]).abs().max()) > 1e-2

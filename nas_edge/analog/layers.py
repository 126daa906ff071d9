"""Analog ``Linear`` and ``Conv2d``: drop-in subclasses (same parameters and state-dict keys) that can run as
digital layers, as simulated crossbars, or with hardware-aware noise injection while training.

One matrix-vector product on the crossbar (see :mod:`nas_edge.analog.devices` for the weight side):

1. inputs are scaled by the layer's calibrated range ``x_max`` and DAC-quantised to ``input_bits`` (sign
   and magnitude; unsigned when calibration saw no negative input) and fed in ``ceil(bits / dac_bits)``
   read cycles of ``dac_bits`` each (bit-serial for ``dac_bits = 1``);
2. the reduction (``K = Cin/groups * kh * kw`` for a convolution) is split into row tiles of ``rows`` (whole
   kernels per tile with ``keep_kernels_whole``), and each tile into row groups of ``rows_parallel`` rows:
   the rows one read activates. Every row group, read cycle and column gives one partial sum;
3. read noise (``read_noise_sigma`` per device and read, independent per read) is added to each partial sum,
   which the ADC then quantises and clips (full scale calibrated per layer);
4. the periphery shifts and adds cycles and slices, adds row groups and tiles, applies the drift
   compensation factor, subtracts the offset reference, rescales and adds the (digital) bias.

Everything is vectorised, cycles stacked on the batch axis and slice columns on the output axis: a linear
layer gathers its row groups into one batched matmul; a convolution runs one grouped ``conv2d`` whose weight
holds a copy of the columns per row group, masked to that group's rows (no im2col; the DAC works on the
input before any replication). Memory is bounded by chunking the batch. The read-noise variance of a partial
sum needs the sum of squared inputs of its row group: channel sums and a box filter (or average pooling).

Modes: ``digital`` (the plain layer), ``calibrate`` (see :func:`~nas_edge.analog.model.calibrate`) and
``analog`` (inference only: no gradients). In training mode with ``hwa`` set, the forward is the
hardware-aware one (:class:`~nas_edge.analog.config.HWAConfig`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from nas_edge.analog import devices
from nas_edge.analog.config import AnalogConfig, HWAConfig
from nas_edge.analog.quant import adc_codes, digit_weights, split_digits
from nas_edge.workload.table import conv_out_size

Mode = Literal["digital", "analog", "calibrate"]
_CHUNK_ELEMENTS = 1 << 23  # partial sums held at once (32 MiB in float32)


def row_groups(k: int, rows: int, rows_parallel: int, kernel: int = 1) -> list[tuple[int, int]]:
    """``(start, stop)`` of every row group of a reduction of size ``k``, tile by tile.

    A tile holds ``rows`` rows, or with ``kernel > 1`` (whole kernels per tile) the largest multiple of
    ``kernel`` that fits (``rows`` when one kernel is larger than the array).
    """
    tile = rows if kernel <= 1 or kernel > rows else rows // kernel * kernel
    out: list[tuple[int, int]] = []
    for a in range(0, k, tile):
        end = min(k, a + tile)
        out.extend((s, min(end, s + rows_parallel)) for s in range(a, end, rows_parallel))
    return out


def _group_index(k: int, groups: list[tuple[int, int]], device: torch.device) -> torch.Tensor | None:
    """``(Rg, R)`` gather index into a reduction padded with one zero at position ``k`` (None: one group)."""
    if len(groups) == 1:
        return None
    r = max(b - a for a, b in groups)
    idx = torch.full((len(groups), r), k, dtype=torch.long)
    for i, (a, b) in enumerate(groups):
        idx[i, : b - a] = torch.arange(a, b)
    return idx.to(device)


@dataclass
class HWADraw:
    """One hardware-aware draw of a layer's devices: the ``(G, N, K)`` weight they realise and their columns."""

    weight: torch.Tensor
    cols: torch.Tensor
    coef: torch.Tensor
    gamma: float
    scale: torch.Tensor


@torch.no_grad()
def hwa_draw(matrix: torch.Tensor, cfg: AnalogConfig, hwa: HWAConfig,
             generator: torch.Generator | None = None) -> HWADraw:
    """Program fresh noisy devices for the ``(G, N, K)`` weight ``matrix`` and read them at a time drawn
    log-uniformly in ``[hwa.t_min_s, hwa.t_max_s]`` (with ``hwa.drift``), after drift compensation."""
    sl = devices.target_slices(matrix, cfg)
    g_prog, nu = devices.program(sl.g, cfg, generator, noise_scale=hwa.noise_scale)
    t = 0.0
    if hwa.drift and nu is not None:
        r = float(torch.rand((), generator=generator, device=matrix.device))
        t = math.exp(math.log(hwa.t_min_s) + r * (math.log(hwa.t_max_s) - math.log(hwa.t_min_s)))
    ref, coef = devices.columns(g_prog, sl.slice_weight, cfg.mapping)
    cols, _ = devices.columns(devices.at_time(g_prog, nu, t, cfg), sl.slice_weight, cfg.mapping)
    gamma = devices.compensation(ref, cols, coef) if cfg.drift_compensation and t > 0 else 1.0
    w_eff = devices.effective_weight(gamma * cols, coef, cfg.mapping) * sl.scale[..., None]
    return HWADraw(w_eff, cols, coef, gamma, sl.scale)


def straight_through(weight: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """``noisy`` in the forward, the gradient of ``weight`` in the backward."""
    return weight + (noisy - weight).detach()


class AnalogMixin:
    """The simulation shared by :class:`AnalogLinear` and :class:`AnalogConv2d`."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    training: bool

    def _init_analog(self, config: AnalogConfig) -> None:
        self.analog_config = config
        self.mode: Mode = "digital"
        self.hwa: HWAConfig | None = None
        self.generator: torch.Generator | None = None
        self.x_max: float | None = None
        self.x_signed = True
        self.full_scale: float | None = None
        self._g_prog: torch.Tensor | None = None
        self._nu: torch.Tensor | None = None
        self._slice_weight: torch.Tensor | None = None
        self._scale: torch.Tensor | None = None
        self._cols: torch.Tensor | None = None
        self._coef: torch.Tensor | None = None
        self._gamma = 1.0
        self.time_s = 0.0

    # -- what subclasses provide --------------------------------------------------------------------------

    @property
    def kernel_size_(self) -> int:
        return 1

    def _matrix(self, w: torch.Tensor) -> torch.Tensor:
        """Weight as ``(G, N, K)``."""
        raise NotImplementedError

    def _digital(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # -- state ------------------------------------------------------------------------------------------------

    @property
    def is_programmed(self) -> bool:
        return self._g_prog is not None

    @property
    def is_calibrated(self) -> bool:
        return self.x_max is not None and self.full_scale is not None

    def _row_groups(self) -> list[tuple[int, int]]:
        cfg = self.analog_config
        k = self._matrix(self.weight).shape[-1]
        kern = self.kernel_size_ if cfg.keep_kernels_whole else 1
        return row_groups(k, cfg.rows, cfg.rows_parallel, kern)

    @torch.no_grad()
    def program_(self, generator: torch.Generator | None = None, *, noise: bool = True) -> None:
        """Write the current weights to the (simulated) devices: programming noise and drift exponents are
        drawn here, once; then the layer reads them at time 0 (see :meth:`drift_to_`)."""
        cfg = self.analog_config
        sl = devices.target_slices(self._matrix(self.weight), cfg)
        if noise:
            self._g_prog, self._nu = devices.program(sl.g, cfg, generator)
        else:
            self._g_prog, self._nu = sl.g, None
        self._slice_weight, self._scale = sl.slice_weight, sl.scale
        self.drift_to_(0.0)

    @torch.no_grad()
    def drift_to_(self, t_s: float) -> None:
        """Read the programmed devices ``t_s`` seconds after programming (drift, then drift compensation)."""
        if self._g_prog is None or self._slice_weight is None:
            raise RuntimeError("program the layer first (program_)")
        cfg = self.analog_config
        ref, coef = devices.columns(self._g_prog, self._slice_weight, cfg.mapping)
        g_t = devices.at_time(self._g_prog, self._nu, t_s, cfg)
        cols, _ = devices.columns(g_t, self._slice_weight, cfg.mapping)
        self._cols, self._coef = cols, coef
        drifted = self._nu is not None and t_s > 0
        self._gamma = devices.compensation(ref, cols, coef) if cfg.drift_compensation and drifted else 1.0
        self.time_s = float(t_s)

    def effective_weight(self) -> torch.Tensor:
        """The weight the programmed devices realise now (converters aside), in the layer's weight shape."""
        if self._cols is None or self._coef is None or self._scale is None:
            raise RuntimeError("program the layer first (program_)")
        w = devices.effective_weight(self._gamma * self._cols, self._coef, self.analog_config.mapping)
        return (w * self._scale[..., None]).reshape(self.weight.shape)

    # -- forward ------------------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.hwa is not None:
            return self._hwa_forward(x)
        if self.mode == "digital":
            return self._digital(x, self.weight)
        if self.mode == "calibrate":
            return self._calibrate_forward(x)
        return self._analog_forward(x)

    @torch.no_grad()
    def _calibrate_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Widen the input range and the ADC full scale to cover this batch (noise-free devices, ideal ADC).

        A layer called several times in one forward (shared weights) ends with ranges covering every call;
        :func:`~nas_edge.analog.model.calibrate` clears them first.
        """
        signed = bool((x < 0).any())
        xmax = float(x.detach().abs().max()) or 1.0
        old_x, old_fs = self.x_max, self.full_scale
        self.x_signed = signed or (self.x_signed and old_x is not None)
        self.x_max = xmax if old_x is None else max(xmax, old_x)
        self.program_(noise=False)
        pct = self.analog_config.adc_percentile
        y, peak = self._mvm(x, adc_on=False, read_noise=False, keep_abs=pct < 100)
        if isinstance(peak, torch.Tensor):
            flat = peak.reshape(-1)
            if flat.numel() > 1 << 22:
                flat = flat[torch.randperm(flat.numel(), generator=torch.Generator().manual_seed(0))[: 1 << 22]]
            fs = float(torch.quantile(flat.float(), pct / 100))
        else:
            fs = float(peak)
        if old_x is not None and old_fs is not None:  # partial sums scale with 1 / x_max
            fs = max(fs, old_fs * old_x / self.x_max)
        self.full_scale = fs if fs > 0 else 1.0
        return self._add_bias(y)

    @torch.no_grad()
    def _analog_forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.is_calibrated:
            raise RuntimeError(f"{type(self).__name__}: calibrate the analog model first (calibrate())")
        if not self.is_programmed:
            self.program_(self.generator)
        y, _ = self._mvm(x, adc_on=self.analog_config.adc, read_noise=True)
        return self._add_bias(y)

    def _add_bias(self, out: torch.Tensor) -> torch.Tensor:
        if self.bias is None:
            return out
        shape = [1] * out.dim()
        shape[1 if isinstance(self, nn.Conv2d) else -1] = -1
        return out + self.bias.reshape(shape)

    def _hwa_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Hardware-aware training step: forward through freshly drawn noisy devices (and the converters,
        with ranges taken from this batch); gradients as if the noisy weight were used digitally."""
        hwa, cfg = self.hwa, self.analog_config
        assert hwa is not None
        draw = hwa_draw(self._matrix(self.weight), cfg, hwa, self.generator)
        y_dig = self._digital(x, straight_through(self.weight, draw.weight.reshape(self.weight.shape)))
        if not hwa.converters:
            return y_dig
        with torch.no_grad():
            saved = (self._cols, self._coef, self._gamma, self._scale, self.x_max, self.x_signed, self.full_scale)
            try:
                self._cols, self._coef, self._gamma, self._scale = draw.cols, draw.coef, draw.gamma, draw.scale
                self.x_signed = bool((x < 0).any())
                xmax = float(x.detach().abs().max())
                self.x_max = xmax if xmax > 0 else 1.0
                self.full_scale = None  # the ADC range of this batch
                y, _ = self._mvm(x.detach(), adc_on=cfg.adc, read_noise=True, noise_scale=hwa.noise_scale)
            finally:
                (self._cols, self._coef, self._gamma, self._scale, self.x_max, self.x_signed,
                 self.full_scale) = saved
        return y_dig + (self._add_bias(y) - y_dig).detach()

    # -- the crossbar ---------------------------------------------------------------------------------------

    def _inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
        """DAC, element-wise on the layer input: ``(C, *x.shape)`` per-cycle values ``u_c``, their ``(C,)``
        digital weights ``a_c`` and the unit of ``u``: each cycle drives ``u_c * unit`` (in [-1, 1]) and the
        normalised input is ``unit * sum_c a_c u_c``.

        Several cycles drive normalised digits (unit 1); one read cycle feeds the integer codes themselves
        (unit ``1 / levels``), which saves a pass over the input.
        """
        cfg = self.analog_config
        assert self.x_max is not None
        one = torch.ones(1, dtype=x.dtype, device=x.device)
        if not cfg.quantize_inputs:  # an ideal DAC: no rounding, no clipping
            return (x * (1.0 / self.x_max))[None], one, 1.0
        mag_bits = cfg.input_bits - (1 if self.x_signed else 0)
        levels = 2 ** mag_bits - 1
        q = x.mul(levels / self.x_max).round_().clamp_(-levels if self.x_signed else 0, levels)  # integer codes
        if mag_bits <= cfg.dac_bits:  # one read cycle
            return q[None], one, 1.0 / levels
        a = torch.tensor(digit_weights(mag_bits, cfg.dac_bits), dtype=x.dtype, device=x.device) / levels
        vals, _ = split_digits(q.abs(), mag_bits, cfg.dac_bits)
        return vals * torch.sign(q), a, 1.0

    def _crossbar(self, u: torch.Tensor, cols: torch.Tensor, groups: list[tuple[int, int]]) -> torch.Tensor:
        """Partial sums ``(C, B, G, Rg, J, N, L)`` of per-cycle inputs ``u`` (``(C, *input shape)``) on the
        ``(J, G, N, K)`` column conductances, one per row group (L: output positions, 1 for linear)."""
        raise NotImplementedError

    def _row_energy(self, u: torch.Tensor, groups: list[tuple[int, int]]) -> torch.Tensor:
        """Sum of squared inputs per row group, ``(C, B, G, Rg, 1, 1, L)`` (read-noise variance / sigma^2)."""
        raise NotImplementedError

    def _input_sum(self, xq: torch.Tensor) -> torch.Tensor:
        """Sum of each vector's quantised inputs, ``(B, G, 1, L)`` (the offset reference)."""
        raise NotImplementedError

    def _restore(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``(B, G, N, L)`` -> the layer's output layout."""
        raise NotImplementedError

    def _mvm(self, x: torch.Tensor, *, adc_on: bool, read_noise: bool, keep_abs: bool = False,
             noise_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | float]:
        """The crossbar forward of a layer input ``x``; returns the output (bias aside) and the peak |partial
        sum| (every |partial sum| with ``keep_abs``)."""
        cfg = self.analog_config
        cols, coef, scale = self._cols, self._coef, self._scale
        assert cols is not None and coef is not None and scale is not None and self.x_max is not None
        j, g, n, _ = cols.shape
        groups = self._row_groups()
        rg = len(groups)
        n_dev = 2 if cfg.mapping == "signed" else 1
        sigma = cfg.read_noise_sigma * cfg.noise_scale * noise_scale if read_noise else 0.0
        signed_adc = cfg.mapping == "signed" or self.x_signed
        c_est = math.ceil((cfg.input_bits - self.x_signed) / cfg.dac_bits) if cfg.quantize_inputs else 1
        per_sample = c_est * g * rg * j * n * self._positions(x)
        b = x.shape[0] if x.dim() > 1 else 1
        chunk = max(1, _CHUNK_ELEMENTS // max(1, per_sample))
        outs, peaks = [], []
        for start in range(0, b, chunk):
            xs = x[start:start + chunk] if x.dim() > 1 else x
            u, a, u_scale = self._inputs(xs)
            ps = self._crossbar(u, cols, groups)  # partial sums in units of u_scale
            if sigma > 0:
                std = torch.sqrt(self._row_energy(u, groups).mul_(n_dev * sigma * sigma))
                noise = torch.randn(ps.shape, generator=self.generator, dtype=ps.dtype, device=ps.device)
                ps = ps.addcmul_(std, noise)
            fs = self.full_scale
            if keep_abs:
                peaks.append(ps.abs().reshape(-1) * u_scale)
            elif fs is None or not adc_on:
                peaks.append(ps.abs().amax() * u_scale if ps.numel() else ps.new_zeros(()))
            step = u_scale
            if adc_on:  # integer codes; the step joins the digital scale below
                fs = fs if fs is not None else float(peaks[-1])
                ps, step = adc_codes(ps, fs / u_scale, cfg.adc_bits, signed_adc)
                step *= u_scale
            ps = ps[:, :, :, 0] if ps.shape[3] == 1 else ps.sum(dim=3)  # row groups added: (C, B, G, J, N, L)
            out_scale = (scale * self.x_max)[None, :, :, None]
            if ps.shape[0] == 1 and ps.shape[3] == 1 and cfg.mapping != "offset":
                y = ps[0, :, :, 0] * (out_scale * float(a[0] * coef[0] * self._gamma * step))
            else:
                y = torch.einsum("cbgjnl,c,j->bgnl", ps, a, coef) * (self._gamma * step)
                if cfg.mapping == "offset":  # the reference: the sum of the quantised inputs
                    y = y - self._input_sum(torch.tensordot(a, u, dims=([0], [0]))) * u_scale
                y = y * out_scale
            outs.append(self._restore(y, xs))
        out = torch.cat(outs) if len(outs) > 1 else outs[0]
        if keep_abs:
            return out, torch.cat(peaks)
        return out, float(torch.stack(peaks).max()) if peaks else 0.0

    def _positions(self, x: torch.Tensor) -> int:
        """Output positions per sample (vectors per sample for a linear layer)."""
        raise NotImplementedError


class AnalogLinear(AnalogMixin, nn.Linear):  # type: ignore[misc]  # torch types Linear.bias as never None
    """``nn.Linear`` on a simulated crossbar (digital until calibrated and switched to ``analog`` mode).

    Row groups are gathered from the padded reduction and run as one batched matmul (no wasted products).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 config: AnalogConfig | None = None, device: torch.device | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        self._init_analog(config or AnalogConfig())

    @classmethod
    def from_linear(cls, layer: nn.Linear, config: AnalogConfig) -> AnalogLinear:
        """Wrap ``layer`` (sharing its parameters)."""
        new = cls(layer.in_features, layer.out_features, layer.bias is not None, config=config,
                  device=layer.weight.device, dtype=layer.weight.dtype)
        new.weight = layer.weight
        new.bias = layer.bias
        new.train(layer.training)
        return new

    def _matrix(self, w: torch.Tensor) -> torch.Tensor:
        return w[None]

    def _digital(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return F.linear(x, w, self.bias)

    def _positions(self, x: torch.Tensor) -> int:
        return int(math.prod(x.shape[1:-1])) if x.dim() > 2 else 1

    def _gathered(self, u: torch.Tensor, groups: list[tuple[int, int]]) -> torch.Tensor:
        """``(C, V, Rg, R)`` row groups of the ``(C, ..., K)`` inputs (V: all vectors)."""
        k = u.shape[-1]
        v = u.reshape(u.shape[0], -1, k)
        idx = _group_index(k, groups, u.device)
        return v[:, :, None, :] if idx is None else F.pad(v, (0, 1))[:, :, idx]

    def _crossbar(self, u: torch.Tensor, cols: torch.Tensor, groups: list[tuple[int, int]]) -> torch.Tensor:
        c = u.shape[0]
        b = u.shape[1] if u.dim() > 2 else 1
        ug = self._gathered(u, groups)  # (C, V, Rg, R)
        rg, r = ug.shape[2], ug.shape[3]
        j, _, n, k = cols.shape
        idx = _group_index(k, groups, cols.device)
        cg = cols[:, 0][:, :, None, :] if idx is None else F.pad(cols[:, 0], (0, 1))[:, :, idx]
        w_mat = cg.permute(2, 3, 0, 1).reshape(rg, r, j * n)  # (Rg, R, J*N)
        x_mat = ug.permute(2, 0, 1, 3).reshape(rg, -1, r)  # (Rg, C*V, R)
        ps = torch.bmm(x_mat, w_mat).reshape(rg, c, b, -1, j, n)  # (Rg, C, B, L, J, N)
        return ps.permute(1, 2, 0, 4, 5, 3)[:, :, None]  # (C, B, 1, Rg, J, N, L)

    def _row_energy(self, u: torch.Tensor, groups: list[tuple[int, int]]) -> torch.Tensor:
        ug = self._gathered(u, groups)
        e = (ug * ug).sum(-1)  # (C, V, Rg)
        c = u.shape[0]
        b = u.shape[1] if u.dim() > 2 else 1
        return e.reshape(c, b, -1, e.shape[-1]).permute(0, 1, 3, 2)[:, :, None, :, None, None, :]

    def _input_sum(self, xq: torch.Tensor) -> torch.Tensor:
        b = xq.shape[0] if xq.dim() > 1 else 1
        return xq.sum(-1).reshape(b, 1, 1, -1)

    def _restore(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = y[:, 0].transpose(1, 2)  # (B, L, N)
        return out.reshape(*x.shape[:-1], out.shape[-1])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mode={self.mode}"


class AnalogConv2d(AnalogMixin, nn.Conv2d):
    """``nn.Conv2d`` on simulated crossbars. Each group's ``Cin/groups * kh * kw`` reduction is tiled onto
    the arrays; all row groups and slice columns run as one grouped ``conv2d`` whose weight stacks one
    copy of the columns per row group, masked to that group's rows (cycles stacked on the batch axis)."""

    def __init__(self, *args: Any, config: AnalogConfig | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_analog(config or AnalogConfig())

    @classmethod
    def from_conv(cls, layer: nn.Conv2d, config: AnalogConfig) -> AnalogConv2d:
        """Wrap ``layer`` (sharing its parameters)."""
        new = cls(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                  padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
                  bias=layer.bias is not None, padding_mode=layer.padding_mode, config=config,
                  device=layer.weight.device, dtype=layer.weight.dtype)
        new.weight = layer.weight
        new.bias = layer.bias
        new.train(layer.training)
        return new

    @property
    def kernel_size_(self) -> int:
        return int(self.kernel_size[0] * self.kernel_size[1])

    def _matrix(self, w: torch.Tensor) -> torch.Tensor:
        return w.reshape(self.groups, self.out_channels // self.groups, -1)

    def _digital(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, w, self.bias)

    def _masks(self, k: int, groups: list[tuple[int, int]], like: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros(len(groups), k, dtype=like.dtype, device=like.device)
        for i, (a, b) in enumerate(groups):
            mask[i, a:b] = 1
        return mask

    def _out_hw(self, x: torch.Tensor) -> tuple[int, int]:
        r = self._reversed_padding_repeated_twice  # [left, right, top, bottom] for any padding setting
        (kh, kw), (dh, dw), (sh, sw) = self.kernel_size, self.dilation, self.stride
        h, w = x.shape[-2:]
        return conv_out_size(h, kh, sh, (r[2], r[3]), dh), conv_out_size(w, kw, sw, (r[0], r[1]), dw)

    def _positions(self, x: torch.Tensor) -> int:
        ho, wo = self._out_hw(x)
        return max(1, ho * wo)

    def _crossbar(self, u: torch.Tensor, cols: torch.Tensor, groups: list[tuple[int, int]]) -> torch.Tensor:
        c, b = u.shape[:2]
        j, g, n, k = cols.shape
        rg = len(groups)
        w = cols.permute(1, 0, 2, 3)  # (G, J, N, K)
        if rg > 1:
            w = w[:, None] * self._masks(k, groups, cols)[None, :, None, None, :]  # (G, Rg, J, N, K)
        w = w.reshape(g * rg * j * n, self.in_channels // self.groups, *self.kernel_size)
        out = self._conv_forward(u.reshape(c * b, *u.shape[2:]), w, None)
        return out.reshape(c, b, g, rg, j, n, -1)

    def _row_energy(self, u: torch.Tensor, groups: list[tuple[int, int]]) -> torch.Tensor:
        c, b = u.shape[:2]
        sq = (u * u).reshape(c * b, *u.shape[2:])
        if len(groups) == 1:  # one row group: channel sums per group, then a box filter per group
            g = self.groups
            if self.in_channels != g:
                sq = sq.reshape(c * b, g, -1, *sq.shape[-2:]).sum(dim=2)
            (kh, kw), pad = self.kernel_size, self._reversed_padding_repeated_twice
            if (kh, kw) == (1, 1) and not any(pad):
                out = sq[..., :: self.stride[0], :: self.stride[1]]
            else:
                w = torch.ones(g, 1, kh, kw, dtype=u.dtype, device=u.device)
                if isinstance(self.padding, str) or self.padding_mode != "zeros":
                    mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
                    sq, padding = F.pad(sq, pad, mode=mode), (0, 0)
                else:
                    padding = (pad[2], pad[0])
                out = F.conv2d(sq, w, None, self.stride, padding, self.dilation, g)
        else:
            k = self.in_channels // self.groups * self.kernel_size_
            masks = self._masks(k, groups, u).repeat(self.groups, 1)  # (G*Rg, K)
            out = self._conv_forward(sq, masks.reshape(-1, self.in_channels // self.groups, *self.kernel_size), None)
        return out.reshape(c, b, self.groups, len(groups), 1, 1, -1)

    def _input_sum(self, xq: torch.Tensor) -> torch.Tensor:
        k = self.in_channels // self.groups
        w = torch.ones(self.groups, k, *self.kernel_size, dtype=xq.dtype, device=xq.device)
        out = self._conv_forward(xq, w, None)
        return out.reshape(out.shape[0], self.groups, 1, -1)

    def _restore(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return y.reshape(y.shape[0], -1, *self._out_hw(x))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mode={self.mode}"

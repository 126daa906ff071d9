"""Whole networks: convert the static-weight layers to analog ones and drive them together.

Analog: every ``nn.Linear`` and ``nn.Conv2d`` (convolutions, classifier heads, squeeze-excite, the attention
projections ``qkv`` / ``proj`` and MLP layers of the spaces' transformer, ``nn.MultiheadAttention``'s input
and output projections via :class:`AnalogMultiheadAttention`). Digital, on the chip's digital unit as the
cost model assumes: embeddings, normalisation, activations, pooling, and activation x activation products
(attention ``QK^T`` and ``A V``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nas_edge.analog.config import AnalogConfig, HWAConfig
from nas_edge.analog.layers import AnalogConv2d, AnalogLinear, AnalogMixin, Mode


class AnalogMultiheadAttention(nn.Module):
    """``nn.MultiheadAttention`` with its projections on crossbars (the attention itself stays digital).

    Built from a module with packed input projections (``embed_dim == kdim == vdim``), no ``add_bias_kv``
    and no ``add_zero_attn``; masks, ``batch_first`` and ``need_weights`` behave as in PyTorch.
    """

    def __init__(self, mha: nn.MultiheadAttention, config: AnalogConfig) -> None:
        super().__init__()
        if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError("AnalogMultiheadAttention needs packed projections (kdim == vdim == embed_dim), "
                             "no add_bias_kv and no add_zero_attn")
        e = mha.embed_dim
        self.embed_dim, self.num_heads, self.batch_first = e, mha.num_heads, mha.batch_first
        self.dropout = mha.dropout
        self.in_proj = AnalogLinear(e, 3 * e, mha.in_proj_bias is not None, config=config,
                                    device=mha.in_proj_weight.device, dtype=mha.in_proj_weight.dtype)
        self.in_proj.weight = mha.in_proj_weight
        self.in_proj.bias = mha.in_proj_bias
        self.out_proj = AnalogLinear.from_linear(mha.out_proj, config)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = True,
                attn_mask: torch.Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        batched = query.dim() == 3
        if not batched:
            query, key, value = query[:, None], key[:, None], value[:, None]
        elif self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        e, h = self.embed_dim, self.num_heads
        if query is key and key is value:
            q, k, v = self.in_proj(query).chunk(3, dim=-1)
        else:  # separate inputs: each third of the projection on its own input (same devices)
            q = self.in_proj(query)[..., :e]
            k = self.in_proj(key)[..., e:2 * e]
            v = self.in_proj(value)[..., 2 * e:]
        tq, b = q.shape[0], q.shape[1]
        tk = k.shape[0]

        def heads(t: torch.Tensor, length: int) -> torch.Tensor:
            return t.reshape(length, b, h, e // h).permute(1, 2, 0, 3)

        qh, kh, vh = heads(q, tq), heads(k, tk), heads(v, tk)
        scores = qh @ kh.transpose(-2, -1) / (e // h) ** 0.5
        if is_causal and attn_mask is None:
            attn_mask = torch.ones(tq, tk, dtype=torch.bool, device=q.device).triu(1)
        if attn_mask is not None:
            mask = attn_mask if attn_mask.dim() == 2 else attn_mask.reshape(b, h, tq, tk)
            scores = scores.masked_fill(mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
        if key_padding_mask is not None:
            kpm = key_padding_mask[:, None, None, :]
            scores = scores.masked_fill(kpm, float("-inf")) if kpm.dtype == torch.bool else scores + kpm
        attn = torch.softmax(scores, dim=-1)
        attn = F.dropout(attn, self.dropout, self.training)
        out = (attn @ vh).permute(2, 0, 1, 3).reshape(tq, b, e)
        out = self.out_proj(out)
        if not batched:
            out = out[:, 0]
        elif self.batch_first:
            out = out.transpose(0, 1)
        weights = None
        if need_weights:
            weights = attn.mean(dim=1) if average_attn_weights else attn
            if not batched:
                weights = weights[0]
        return out, weights


def convert_to_analog(model: nn.Module, config: AnalogConfig, *, inplace: bool = False) -> nn.Module:
    """A copy of ``model`` (or ``model`` itself) whose static-weight layers are analog (digital mode)."""
    net = model if inplace else copy.deepcopy(model)
    if isinstance(net, (nn.Linear, nn.Conv2d, nn.MultiheadAttention)):
        return _convert_one(net, config)
    _convert_children(net, config)
    return net


def _convert_one(mod: nn.Module, config: AnalogConfig) -> nn.Module:
    if isinstance(mod, AnalogMixin):
        _reset(mod, config)
        return mod
    if isinstance(mod, nn.MultiheadAttention):
        return AnalogMultiheadAttention(mod, config)
    if isinstance(mod, nn.Conv2d):
        return AnalogConv2d.from_conv(mod, config)
    if isinstance(mod, nn.Linear):
        return AnalogLinear.from_linear(mod, config)
    return mod


def _convert_children(module: nn.Module, config: AnalogConfig) -> None:
    for name, child in module.named_children():
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.MultiheadAttention)):
            setattr(module, name, _convert_one(child, config))
        elif not isinstance(child, AnalogMultiheadAttention):
            _convert_children(child, config)
        else:
            for sub in (child.in_proj, child.out_proj):
                _reset(sub, config)


def analog_layers(model: nn.Module) -> Iterator[AnalogMixin]:
    """The analog layers of ``model``, in module order."""
    for mod in model.modules():
        if isinstance(mod, AnalogMixin):
            yield mod


def set_mode(model: nn.Module, mode: Mode) -> None:
    for layer in analog_layers(model):
        layer.mode = mode


def set_config(model: nn.Module, config: AnalogConfig) -> None:
    """Give every analog layer ``config`` (calibration and programming must be redone)."""
    for layer in analog_layers(model):
        _reset(layer, config)


def _reset(layer: AnalogMixin, config: AnalogConfig) -> None:
    layer.analog_config = config
    layer.x_max = layer.full_scale = None
    layer._g_prog = layer._cols = None


def set_hwa(model: nn.Module, hwa: HWAConfig | None, generator: torch.Generator | None = None) -> None:
    """Switch hardware-aware noise injection on (``hwa``) or off (``None``) for training forwards."""
    for layer in analog_layers(model):
        layer.hwa = hwa
        layer.generator = generator


@torch.no_grad()
def calibrate(model: nn.Module, *inputs: Any, **kwargs: Any) -> None:
    """Set every analog layer's input range and ADC full scale from one forward ``model(*inputs, **kwargs)``
    (noise-free devices, ideal ADC): the largest |input| and |partial sum| seen, or the configured percentile."""
    was = model.training
    model.eval()
    for layer in analog_layers(model):
        layer.x_max = layer.full_scale = None
        layer.x_signed = False
    set_mode(model, "calibrate")
    try:
        model(*inputs, **kwargs)
    finally:
        set_mode(model, "analog")
        model.train(was)


@torch.no_grad()
def program(model: nn.Module, generator: torch.Generator | None = None) -> None:
    """Program every analog layer (fresh programming noise and drift exponents); ``generator`` also drives
    the read noise of later forwards."""
    for layer in analog_layers(model):
        layer.generator = generator
        layer.program_(generator)


@torch.no_grad()
def drift_to(model: nn.Module, t_s: float) -> None:
    """Read every programmed layer ``t_s`` seconds after programming."""
    for layer in analog_layers(model):
        layer.drift_to_(t_s)

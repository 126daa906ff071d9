"""The analytic workload of every space equals what the built torch module computes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from nas_edge.spaces import NetworkSpace, create_space  # noqa: E402
from nas_edge.workload import Workload  # noqa: E402
from nas_edge.workload.table import COLUMNS, OpKind  # noqa: E402

CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "cnn-digits": ("cnn", {}),
    "cnn-rgb32": ("cnn", {"input_shape": (3, 32, 32), "num_classes": 100, "stages": 4}),
    "cnn-rect": ("cnn", {"input_shape": (2, 12, 20), "num_classes": 5, "stages": 2}),
    "vit-digits": ("transformer", {}),
    "vit-rgb": ("transformer", {"input_shape": (3, 16, 24), "num_classes": 7}),
    "vit-tokens": ("transformer", {"input_shape": (12,), "num_classes": 3, "vocab_size": 50}),
}


def space_for(config: str) -> NetworkSpace:
    name, kw = CONFIGS[config]
    space = create_space(name, **kw)
    assert isinstance(space, NetworkSpace)
    return space


def hooked_static_rows(module: Any, x: Any) -> list[tuple[int, int, int, int, int, int, float, float]]:
    """An independent count: forward hooks on Conv2d / Linear give (kind, k, n, m, groups, kernel, macs,
    params) in execution order, from the modules' own shapes."""
    rows: list[tuple[int, int, int, int, int, int, float, float]] = []

    def hook(mod: Any, inputs: tuple[Any, ...], out: Any) -> None:
        if isinstance(mod, torch.nn.Conv2d):
            kh, kw = mod.kernel_size
            k = mod.in_channels // mod.groups * kh * kw
            m = out.shape[-1] * out.shape[-2]
            rows.append((int(OpKind.CONV), k, mod.out_channels, m, mod.groups, kh * kw, m * k * mod.out_channels,
                         mod.weight.numel()))
        else:
            m = int(np.prod(out.shape[:-1]))
            rows.append((int(OpKind.LINEAR), mod.in_features, mod.out_features, m, 1, 1,
                         m * mod.in_features * mod.out_features, mod.weight.numel()))

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        module.eval()(x)
    for h in handles:
        h.remove()
    return rows


@pytest.mark.parametrize("config", list(CONFIGS))
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_layers_equal_from_torch_of_the_built_module(config: str, seed: int) -> None:
    space = space_for(config)
    arch = space.sample(seed)
    analytic = space.layers(arch)
    module = space.build(arch)
    traced = Workload.from_torch(module, space.example_input())
    assert len(analytic) == len(traced), (arch, analytic.names, traced.names)
    for col in COLUMNS:
        np.testing.assert_array_equal(getattr(analytic, col), getattr(traced, col), err_msg=f"{col} of {arch}")

    static = analytic.static_mask
    ours = list(zip(*(getattr(analytic, c)[static].tolist() for c in COLUMNS[:8]), strict=True))
    assert ours == hooked_static_rows(module, space.example_input())
    weights = sum(m.weight.numel() for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    assert analytic.total_params == weights


@pytest.mark.parametrize("config", list(CONFIGS))
def test_built_modules_run_and_are_seeded(config: str) -> None:
    space = space_for(config)
    for seed in range(2):
        arch = space.sample(seed)
        torch.manual_seed(0)
        a = space.build(arch)
        torch.manual_seed(0)
        b = space.build(arch)
        for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(pa, pb)
        out = a(space.example_input(batch=3))
        assert out.shape == (3, space.num_classes)
        assert torch.isfinite(out).all()

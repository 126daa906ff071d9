"""Search spaces: registry, parameter contract, Architecture round trips, analytic workloads."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optuna.distributions import CategoricalDistribution, IntDistribution

from nas_edge.hardware import load_profile, profile_from_dict, profile_to_dict
from nas_edge.spaces import (
    Architecture,
    CNNArchitecture,
    CNNSpace,
    HardwareChoice,
    HardwareSpace,
    NetworkSpace,
    SearchSpace,
    SpaceError,
    Stage,
    TransformerSpace,
    create_space,
    list_spaces,
    register_space,
)
from nas_edge.spaces._rows import Rows
from nas_edge.workload.table import OpKind, Workload, layer_row

NETWORK_CONFIGS: dict[str, dict[str, Any]] = {
    "cnn-digits": {"name": "cnn", "input_shape": (1, 8, 8), "num_classes": 10},
    "cnn-rgb32": {"name": "cnn", "input_shape": (3, 32, 32), "num_classes": 100, "stages": 4},
    "cnn-rect": {"name": "cnn", "input_shape": (2, 12, 20), "num_classes": 5, "stages": 2},
    "vit-digits": {"name": "transformer", "input_shape": (1, 8, 8), "num_classes": 10},
    "vit-rgb": {"name": "transformer", "input_shape": (3, 16, 24), "num_classes": 7},
    "vit-tokens": {"name": "transformer", "input_shape": (12,), "num_classes": 3, "vocab_size": 50},
}


def make(config: str) -> NetworkSpace:
    kw = dict(NETWORK_CONFIGS[config])
    space = create_space(kw.pop("name"), **kw)
    assert isinstance(space, NetworkSpace)
    return space


def params_strategy(space: SearchSpace) -> st.SearchStrategy[dict[str, Any]]:
    """Any full parameter set of a space, drawn from its declared distributions."""
    fields = {}
    for name, d in space.distributions().items():
        if isinstance(d, CategoricalDistribution):
            fields[name] = st.sampled_from(d.choices)
        else:
            assert isinstance(d, IntDistribution)
            fields[name] = st.integers(0, (d.high - d.low) // d.step).map(lambda i, d=d: d.low + i * d.step)
    return st.fixed_dictionaries(fields)


# -- registry ----------------------------------------------------------------------------------------------

def test_registry_lists_the_three_spaces() -> None:
    assert {"cnn", "transformer", "hardware"} <= set(list_spaces())
    assert "hardware" not in list_spaces("network")
    assert list_spaces("hardware") == ["hardware"]
    assert isinstance(create_space("cnn"), CNNSpace)


def test_unknown_space_and_bad_options_are_clear_errors() -> None:
    with pytest.raises(SpaceError, match=r"unknown search space 'resnet'.*cnn"):
        create_space("resnet")
    with pytest.raises(SpaceError, match="unexpected keyword"):
        create_space("cnn", depth=3)
    with pytest.raises(SpaceError, match=r"\(C, H, W\)"):
        create_space("cnn", input_shape=(8, 8))
    with pytest.raises(SpaceError, match="divide"):
        create_space("transformer", input_shape=(1, 8, 8), patch_sizes=(3,))
    with pytest.raises(SpaceError, match="divide every embedding"):
        create_space("transformer", embed_dims=(30,), heads=(4,))


def test_register_a_user_space() -> None:
    from nas_edge.spaces.base import _REGISTRY

    try:
        @register_space(name="test-tiny")
        class Tiny(CNNSpace):
            pass

        assert "test-tiny" in list_spaces("network")
        assert isinstance(create_space("test-tiny", stages=1), Tiny)
        with pytest.raises(SpaceError, match="already registered"):
            register_space(CNNSpace, name="test-tiny")
    finally:
        _REGISTRY.pop("test-tiny", None)


def test_parameter_names_and_choices_are_stable() -> None:
    """A study can be extended only if names and choices never change: pin the defaults."""
    cnn = create_space("cnn").distributions()
    assert list(cnn)[:8] == ["cnn_resolution", "cnn_stem_width", "cnn_s0_block", "cnn_s0_depth", "cnn_s0_width",
                             "cnn_s0_kernel", "cnn_s0_expand", "cnn_s0_se"]
    assert len(cnn) == 2 + 3 * 6
    assert cnn["cnn_resolution"] == CategoricalDistribution((8, 12, 16))
    assert cnn["cnn_s1_block"] == CategoricalDistribution(("mbconv", "dense", "residual"))
    assert cnn["cnn_s2_kernel"] == IntDistribution(3, 7, step=2)
    assert cnn["cnn_s1_width"] == CategoricalDistribution((16, 24, 32, 48))
    vit = create_space("transformer").distributions()
    assert list(vit) == ["vit_patch", "vit_embed", "vit_depth", "vit_heads", "vit_mlp_ratio"]
    assert vit["vit_patch"] == CategoricalDistribution((1, 2, 4))
    hw = create_space("hardware").distributions()
    assert list(hw) == ["hw_rows", "hw_cols", "hw_cell_bits", "hw_adc_bits", "hw_cols_per_adc",
                        "hw_rows_parallel_div"]
    assert hw["hw_rows"] == CategoricalDistribution((64, 128, 256, 512))
    assert hw["hw_adc_bits"] == IntDistribution(3, 8)


# -- architectures ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config", list(NETWORK_CONFIGS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_params_architecture_dict_round_trips(config: str, data: st.DataObject) -> None:
    space = make(config)
    params = data.draw(params_strategy(space))
    arch = space.from_params(params)
    assert space.to_params(arch) == params
    d = arch.to_dict()
    assert json.loads(json.dumps(d)) == d  # JSON-safe, no tuples or numpy scalars
    assert Architecture.from_dict(d) == arch
    assert type(arch).from_dict(d) == arch
    assert space.suggest(optuna.trial.FixedTrial(params)) == arch


@pytest.mark.parametrize("config", list(NETWORK_CONFIGS))
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_layers_are_valid_for_any_architecture(config: str, seed: int) -> None:
    space = make(config)
    arch = space.sample(seed)
    w = space.layers(arch)
    assert isinstance(w, Workload) and len(w) > 0
    assert w.total_macs > 0 and w.total_params > 0
    assert OpKind(int(w.kind[-1])) == OpKind.LINEAR and w.n[-1] == space.num_classes
    if isinstance(arch, CNNArchitecture):
        convs = w.kind == int(OpKind.CONV)
        dw = convs & (w.groups > 1)
        # depthwise rows exist exactly when some stage is mbconv, and every one is fully depthwise
        assert bool(dw.any()) == any(s.block == "mbconv" for s in arch.stages)
        assert np.all(w.k[dw] == w.kernel[dw])


def test_architecture_from_dict_rejects_foreign_and_malformed_dicts() -> None:
    arch = create_space("cnn").sample(0)
    d = arch.to_dict()
    with pytest.raises(SpaceError, match="unknown space"):
        Architecture.from_dict({**d, "space": "nope"})
    with pytest.raises(SpaceError, match="missing keys"):
        Architecture.from_dict({k: v for k, v in d.items() if k != "stem_width"})
    with pytest.raises(SpaceError, match="transformer"):
        create_space("transformer").to_params(arch)
    with pytest.raises(SpaceError, match="not in"):
        create_space("cnn").from_params({**create_space("cnn").to_params(arch), "cnn_s0_kernel": 4})


def test_sample_is_seeded_and_covers_the_space() -> None:
    space = create_space("cnn")
    assert space.sample(7) == space.sample(7)
    blocks = {s.block for i in range(60) for s in space.sample(i).stages}
    assert blocks == {"mbconv", "dense", "residual"}


# -- the row builder equals the reference layer_row ---------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(cin=st.integers(1, 64), mult=st.integers(1, 4), k=st.sampled_from([1, 3, 5, 7]), h=st.integers(1, 40),
       w=st.integers(1, 40), stride=st.integers(1, 3), depthwise=st.booleans(), fout=st.integers(1, 300),
       tokens=st.integers(1, 50), heads=st.sampled_from([1, 2, 4]), ops=st.sampled_from([1, 2, 5]))
def test_rows_builder_matches_layer_row(cin: int, mult: int, k: int, h: int, w: int, stride: int, depthwise: bool,
                                        fout: int, tokens: int, heads: int, ops: int) -> None:
    groups = cin if depthwise else 1
    cout = cin * mult
    r = Rows()
    r.conv("c", cin, cout, k, h, w, stride, groups=groups)
    r.linear("l", cin, fout, tokens)
    r.matmul("m", tokens, cin, fout, heads)
    r.op(int(OpKind.NORM), "n", h * w, ops)
    r.op(int(OpKind.POOL), "p", cin, ops, cin * h * w)
    ref = Workload.from_rows([
        layer_row({"type": "conv", "name": "c", "in_channels": cin, "out_channels": cout, "kernel": k,
                   "in_size": (h, w), "stride": stride, "padding": k // 2, "groups": groups}),
        layer_row({"type": "linear", "name": "l", "in_features": cin, "out_features": fout, "tokens": tokens}),
        layer_row({"type": "matmul", "name": "m", "m": tokens, "k": cin, "n": fout, "heads": heads}),
        layer_row({"type": "norm", "name": "n", "elements": h * w, "ops_per_element": ops}),
        layer_row({"type": "pool", "name": "p", "elements": cin, "ops_per_element": ops,
                   "in_elements": cin * h * w}),
    ])
    got = r.workload()
    for col in ("kind", "k", "n", "m", "groups", "kernel", "macs", "params", "in_elems", "out_elems"):
        np.testing.assert_array_equal(getattr(got, col), getattr(ref, col), err_msg=col)
    assert got.names == ref.names


# -- hardware space -----------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_hardware_choices_are_valid_profiles(data: st.DataObject) -> None:
    space = create_space("hardware", base="neurosim-sram-22nm")
    assert isinstance(space, HardwareSpace)
    params = data.draw(params_strategy(space))
    choice = space.from_params(params)
    assert isinstance(choice, HardwareChoice)
    assert 1 <= choice.rows_parallel <= choice.rows
    assert choice.cols_per_adc <= choice.cols
    prof = space.profile(choice)
    assert (prof.array.rows, prof.array.cols, prof.array.cell_bits, prof.adc.bits, prof.array.cols_per_adc,
            prof.array.rows_parallel) == (choice.rows, choice.cols, choice.cell_bits, choice.adc_bits,
                                          choice.cols_per_adc, choice.rows_parallel)
    base = load_profile("neurosim-sram-22nm")
    assert prof.array.read_energy_per_cell_fj == base.array.read_energy_per_cell_fj  # the rest is the base's
    assert space.to_params(choice) == params
    assert Architecture.from_dict(choice.to_dict()) == choice


def test_hardware_space_refuses_digital_bases_and_follows_adc_tables() -> None:
    digital = profile_from_dict({"name": "cpu", "kind": "digital", "provenance": "test", "technology_nm": 7,
                                 "clock_ghz": 2.0, "peak_gmacs_per_s": 50, "elementwise_gops_per_s": 20,
                                 "bandwidth_gb_per_s": 10, "energy_per_mac_pj": 1.0, "energy_per_byte_pj": 5.0})
    with pytest.raises(SpaceError, match="IMC base"):
        HardwareSpace(base=digital)
    data = profile_to_dict(load_profile("neurosim-rram-22nm"))
    data.pop("base", None)
    data["adc"] = {"model": "table", "bits": 4, "energy_pj_by_bits": {4: 0.1, 6: 0.3},
                   "latency_ns_by_bits": {4: 1.0, 6: 2.0}, "area_um2_by_bits": {4: 100.0, 6: 300.0}}
    space = HardwareSpace(base=profile_from_dict(data))
    assert space.distributions()["hw_adc_bits"] == CategoricalDistribution((4, 6))
    with pytest.raises(SpaceError, match="no entries for bits"):
        HardwareSpace(base=profile_from_dict(data), adc_bits=(4, 5))


def test_cnn_architecture_decodes_nested_stages() -> None:
    arch = CNNArchitecture(resolution=8, stem_width=8, stages=(Stage("dense", 1, 8, 3, 1, False),))
    space = CNNSpace(stages=1, widths=[[8]])
    assert Architecture.from_dict(arch.to_dict()) == arch
    assert space.layers(arch).names[0] == "stem.conv"
    assert TransformerSpace(input_shape=(5,), vocab_size=9).distributions().keys() == {
        "vit_embed", "vit_depth", "vit_heads", "vit_mlp_ratio"}

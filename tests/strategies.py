"""Hypothesis strategies shared by the tests: random layers, workloads and valid profiles."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from nas_edge.hardware import load_profile, profile_from_dict, profile_to_dict
from nas_edge.workload import Workload


@st.composite
def conv_layers(draw: st.DrawFn) -> dict[str, Any]:
    groups = draw(st.sampled_from([1, 1, 2, 4, "depthwise"]))
    per_in = draw(st.integers(1, 48))
    if groups == "depthwise":
        groups = draw(st.integers(2, 96))
        cin, cout = groups, groups * draw(st.sampled_from([1, 1, 2]))
    else:
        cin, cout = groups * per_in, groups * draw(st.integers(1, 96))
    kernel = draw(st.sampled_from([1, 3, 5, 7]))
    size = draw(st.integers(kernel, 20))
    return {"type": "conv", "in_channels": cin, "out_channels": cout, "kernel": kernel, "in_size": size,
            "stride": draw(st.integers(1, 2)), "groups": groups}


linear_layers = st.builds(
    lambda i, o, t: {"type": "linear", "in_features": i, "out_features": o, "tokens": t},
    st.integers(1, 3000), st.integers(1, 1200), st.integers(1, 64))
matmul_layers = st.builds(lambda m, k, n, h: {"type": "matmul", "m": m, "k": k, "n": n, "heads": h},
                          st.integers(1, 64), st.integers(1, 64), st.integers(1, 64), st.integers(1, 8))
digital_layers = st.builds(lambda t, e, o: {"type": t, "elements": e, "ops_per_element": o},
                           st.sampled_from(["elementwise", "norm", "softmax", "pool", "other"]),
                           st.integers(0, 100_000), st.sampled_from([1, 2, 5]))
layers = st.one_of(conv_layers(), conv_layers(), linear_layers, matmul_layers, digital_layers)
workloads = st.lists(layers, min_size=1, max_size=12).map(Workload.from_layers)


@st.composite
def imc_profiles(draw: st.DrawFn):
    base = profile_to_dict(load_profile(draw(st.sampled_from(
        ["neurosim-rram-22nm", "neurosim-sram-22nm", "isaac-reram-32nm", "pcm-aihwkit-14nm", "mnsim-default-45nm"]))))
    rows = draw(st.sampled_from([8, 16, 64, 100, 128, 256, 512]))
    cols = draw(st.sampled_from([8, 16, 64, 128, 200, 256, 512]))
    base["precision"]["weight_bits"] = draw(st.integers(1, 16))
    base["precision"]["input_bits"] = draw(st.integers(1, 16))
    base["array"].update(
        rows=rows, cols=cols, cell_bits=draw(st.integers(1, 4)),
        rows_parallel=draw(st.integers(1, rows)), cols_per_adc=draw(st.integers(1, cols)),
        dac_bits=draw(st.integers(1, 8)), mapping=draw(st.sampled_from(["differential", "offset", "signed"])),
        keep_kernels_whole=draw(st.booleans()), input_accumulation=draw(st.sampled_from(["digital", "analog"])),
        leakage_power_uw=draw(st.sampled_from([0.0, 1.5])),
    )
    base["adc"] = {"model": "sar", "bits": draw(st.integers(1, 16))}
    base["chip"].update(
        arrays_per_pe=draw(st.integers(1, 8)), pes_per_tile=draw(st.integers(1, 8)),
        tiles=draw(st.one_of(st.just("auto"), st.integers(1, 400))),
        on_overflow=draw(st.sampled_from(["infeasible", "reprogram"])),
        max_duplication=draw(st.integers(1, 32)), min_vectors_per_copy=draw(st.integers(1, 64)),
        leakage_power_mw=draw(st.sampled_from([0.0, 2.0])),
    )
    base["noise"] = None
    return profile_from_dict(base)


@st.composite
def digital_profiles(draw: st.DrawFn):
    base = profile_to_dict(load_profile(draw(st.sampled_from(["mobile-cpu-a78", "npu-int8-4tops", "mcu-cortex-m7"]))))
    base["peak_gmacs_per_s"] = draw(st.floats(0.1, 5000))
    base["bandwidth_gb_per_s"] = draw(st.floats(0.1, 500))
    base["layer_overhead_ns"] = draw(st.floats(0, 1e4))
    base["efficiency"]["depthwise"] = draw(st.floats(0.01, 1))
    base["efficiency"]["pointwise"] = draw(st.one_of(st.none(), st.floats(0.01, 1)))
    return profile_from_dict(base)


profiles = st.one_of(imc_profiles(), imc_profiles(), digital_profiles())

"""Hand-checked tiny cases, calibration against NeuroSim V1.4 Table VII, and aihwkit's tile rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nas_edge.cost import estimate, estimate_batch
from nas_edge.hardware import load_profile, profile_from_dict, profile_to_dict
from nas_edge.hardware.adc import adc_figures
from nas_edge.workload import Workload, WorkloadError
from nas_edge.workload.zoo import resnet18, vgg8


def _profile(**array):
    """neurosim-rram-22nm with array fields overridden (and precision via weight_bits=...)."""
    d = profile_to_dict(load_profile("neurosim-rram-22nm"))
    wb = array.pop("weight_bits", None)
    if wb is not None:
        d["precision"]["weight_bits"] = wb
    d["array"].update(array)
    return profile_from_dict(d)


def _one(layer, profile):
    return estimate(Workload.from_layers([layer]), profile)


MATRIX_300x200 = {"type": "linear", "in_features": 300, "out_features": 200}


def test_300x200_differential_8b_weights_on_2b_cells():
    # S = ceil((8-1)/2) = 4 slices, 2 columns each: 1600 columns -> 13 column tiles; 3 row tiles -> 39 arrays
    c = _one(MATRIX_300x200, _profile(cell_bits=2, weight_bits=8, mapping="differential"))
    assert c.layer("arrays")[0] == 39
    assert c.layer("row_tiles")[0] == 3 and c.layer("col_tiles")[0] == 13
    assert c.layer("utilisation")[0] == pytest.approx(300 * 200 * 8 / (39 * 128 * 128))
    # ADC conversions for one vector: 8 input cycles x (2 full row tiles x 2 row groups + 1 (44 rows)) x 1600
    assert c.layer("adc_conversions")[0] == 8 * (2 * 2 + 1) * 1600


def test_300x200_offset_8b_weights_on_2b_cells():
    # S = 4 columns per output, one reference column per array: 800 columns over 127 usable -> 7 column tiles
    c = _one(MATRIX_300x200, _profile(cell_bits=2, weight_bits=8, mapping="offset"))
    assert c.layer("arrays")[0] == 21
    assert c.layer("utilisation")[0] == pytest.approx(300 * 200 * 4 / (21 * 128 * 128))
    # reference columns are read too: 800 + 7 columns per row group
    assert c.layer("adc_conversions")[0] == 8 * (2 * 2 + 1) * (800 + 7)


def test_depthwise_3x3_is_packed_block_diagonally():
    # 32 channels, K_g = 9 rows, N_g = 1 output x 14 columns (differential, 8-bit on 1-bit cells):
    # min(128 // 9, 128 // 14) = 9 groups per array -> ceil(32 / 9) = 4 arrays, utilisation ~6 %
    layer = {"type": "conv", "in_channels": 32, "out_channels": 32, "kernel": 3, "in_size": 8, "groups": 32}
    c = _one(layer, _profile(mapping="differential"))
    assert c.layer("arrays")[0] == 4
    assert c.layer("utilisation")[0] == pytest.approx(9 * 32 * 14 / (4 * 128 * 128))
    dense = _one({**layer, "groups": 1}, _profile(mapping="differential"))
    # the dense conv has 32x the MACs but its crossbars are far better used
    assert dense.layer("utilisation")[0] > 5 * c.layer("utilisation")[0]


def test_input_cycles_and_row_groups():
    p = _profile(dac_bits=2, rows_parallel=32)
    c = _one({"type": "linear", "in_features": 128, "out_features": 15, "tokens": 10}, p)
    assert c.layer("input_cycles")[0] == 4  # 8-bit inputs, 2-bit DAC
    assert c.layer("row_groups")[0] == 4  # 128 rows, 32 at a time
    # offset mapping: 15 x 8 columns + 1 reference; 10 vectors x 4 cycles x 4 row groups
    assert c.layer("adc_conversions")[0] == 10 * 4 * 4 * (15 * 8 + 1)
    # one more output needs 128 + 1 columns: a second column tile with its own reference column
    c16 = _one({"type": "linear", "in_features": 128, "out_features": 16, "tokens": 10}, p)
    assert c16.layer("col_tiles")[0] == 2
    assert c16.layer("adc_conversions")[0] == 10 * 4 * 4 * (16 * 8 + 2)


def test_analog_input_accumulation_converts_once_per_output():
    """Input cycles accumulated on the column (charge domain): the column is read every cycle (array energy as
    before), converted once per row group (ADC and shift-add energy and conversion time / input cycles)."""
    layer = {"type": "linear", "in_features": 128, "out_features": 15, "tokens": 10}
    digital = _one(layer, _profile(dac_bits=2, rows_parallel=32))
    analog = _one(layer, _profile(dac_bits=2, rows_parallel=32, input_accumulation="analog"))
    assert analog.layer("adc_conversions")[0] == 10 * 4 * (15 * 8 + 1) == digital.layer("adc_conversions")[0] / 4
    for part in ("adc", "shift_add"):
        assert analog.layer(f"energy_{part}_pj")[0] == pytest.approx(digital.layer(f"energy_{part}_pj")[0] / 4)
    for part in ("array", "dac"):
        assert analog.layer(f"energy_{part}_pj")[0] == pytest.approx(digital.layer(f"energy_{part}_pj")[0])
    p = load_profile("neurosim-rram-22nm")
    t_adc = adc_figures(p.adc, technology_nm=p.technology_nm, clock_ghz=p.clock_ghz).latency_ns
    saved = 10 * 4 * (4 - 1) * p.array.cols_per_adc * t_adc  # 10 vectors x 4 row groups x 3 fewer conversions
    assert digital.layer("latency_ns")[0] - analog.layer("latency_ns")[0] == pytest.approx(saved)


def test_dynamic_matmul_runs_on_the_digital_unit():
    c = _one({"type": "matmul", "m": 64, "k": 32, "n": 64, "heads": 4}, "neurosim-rram-22nm")
    assert c.layer("arrays")[0] == 0 and c.layer("adc_conversions")[0] == 0
    assert c.layer("energy_digital_pj")[0] == pytest.approx(64 * 32 * 64 * 4 * 0.05)


def test_capacity_infeasible_and_reprogram():
    base = profile_to_dict(load_profile("neurosim-rram-22nm"))
    base["chip"].update(tiles=2, on_overflow="infeasible")
    small = profile_from_dict(base)
    w = vgg8()
    t = estimate(w, small).totals
    assert t["fits"] == 0.0 and t["feasible"] == 0.0 and t["arrays_needed"] > t["arrays_on_chip"] == 32
    assert t["energy_write_uj"] == 0.0
    base["chip"]["on_overflow"] = "reprogram"
    t2 = estimate(w, profile_from_dict(base)).totals
    assert t2["fits"] == 0.0 and t2["feasible"] == 1.0
    assert t2["energy_write_uj"] > 0 and t2["write_latency_ms"] > 0
    assert t2["energy_uj"] > t["energy_uj"]


def test_duplication_speeds_up_and_costs_area():
    base = profile_to_dict(load_profile("neurosim-rram-22nm"))
    w = vgg8()
    fast = estimate(w, profile_from_dict(base)).totals
    base["chip"]["max_duplication"] = 1
    slow = estimate(w, profile_from_dict(base)).totals
    assert fast["latency_ms"] < slow["latency_ms"] / 3
    assert fast["area_mm2"] > slow["area_mm2"]
    assert fast["energy_adc_uj"] == pytest.approx(slow["energy_adc_uj"])  # same conversions, more in parallel


def test_fixed_chip_caps_duplication_to_fit():
    base = profile_to_dict(load_profile("neurosim-rram-22nm"))
    base["chip"].update(tiles=600)  # 9600 arrays: enough for VGG-8 (6499) but not for 32 copies of every conv
    t = estimate(vgg8(), profile_from_dict(base)).totals
    assert t["fits"] == 1.0
    assert t["arrays_needed"] <= t["arrays_used"] <= t["arrays_on_chip"] == 9600


# ---- calibration: NeuroSim V1.4 manual, Table VII (VGG-8, CIFAR-10) --------------------------------------
NEUROSIM_TABLE_VII = [
    ("neurosim-rram-22nm", 32, 381.90, 6.25, 11.25),
    ("neurosim-rram-22nm", 64, 378.06, 8.16, 19.88),
    ("neurosim-sram-22nm", 32, 85.97, 6.06, 8.76),
    ("neurosim-sram-22nm", 64, 84.39, 8.01, 17.13),
]


@pytest.mark.parametrize(("profile", "rows_parallel", "area", "tops", "tops_per_w"), NEUROSIM_TABLE_VII)
def test_calibration_against_neurosim(profile, rows_parallel, area, tops, tops_per_w):
    d = profile_to_dict(load_profile(profile))
    d["array"]["rows_parallel"] = rows_parallel
    t = estimate(vgg8(), profile_from_dict(d)).totals
    assert 2 * t["macs"] == pytest.approx(1.2318e9, rel=1e-3)  # NeuroSim's op count for VGG-8
    for ours, published in ((t["area_mm2"], area), (t["tops"], tops), (t["tops_per_w"], tops_per_w)):
        assert ours == pytest.approx(published, rel=0.10)


# ---- array counts: closed form and aihwkit's tile rule ------------------------------------------------
def _static_layers(w):
    return [i for i in range(len(w)) if int(w.kind[i]) in (0, 1)]


@pytest.mark.parametrize("net", [vgg8, resnet18])
def test_array_count_closed_form(net):
    w = net()
    p = load_profile("neurosim-rram-22nm")  # offset mapping, 8 columns per output + 1 reference per array
    c = estimate(w, p)
    for i in _static_layers(w):
        expected = math.ceil(w.k[i] / 128) * math.ceil(w.n[i] * 8 / 127)
        assert c.layer("arrays")[i] == expected, w.names[i]


@pytest.mark.parametrize("net", [vgg8, resnet18])
def test_array_count_matches_aihwkit_tile_rule(net):
    # aihwkit: 512x512 analog tiles, one signed weight per cross-point, convs split only along input channels
    d = profile_to_dict(load_profile("pcm-aihwkit-14nm"))
    d["array"].update(rows=512, cols=512, rows_parallel=512, keep_kernels_whole=True, mapping="signed")
    d["precision"]["weight_bits"] = d["array"]["cell_bits"]
    p = profile_from_dict(d)
    w = net()
    c = estimate(w, p)
    for i in _static_layers(w):
        kernel, k, n = int(w.kernel[i]), int(w.k[i]), int(w.n[i])
        channels_per_tile = 512 // kernel
        tiles = math.ceil((k // kernel) / channels_per_tile) * math.ceil(n / 512)
        assert c.layer("arrays")[i] == tiles, w.names[i]
    assert c.totals["arrays_needed"] == sum(c.layer("arrays"))


def test_batch_product_and_zip():
    ws, ps = [vgg8(), resnet18()], ["neurosim-rram-22nm", "mobile-cpu-a78", "npu-int8-4tops"]
    prod = estimate_batch(ws, ps)
    grid = prod.grid("latency_ms", 2, 3)
    assert grid[1, 1] == pytest.approx(estimate(ws[1], ps[1])["latency_ms"])
    z = estimate_batch(ws, ps[:2], pairs="zip")
    assert np.allclose(z["energy_uj"], [grid[0, 0] * 0 + estimate(ws[0], ps[0])["energy_uj"],
                                        estimate(ws[1], ps[1])["energy_uj"]])
    with pytest.raises(ValueError, match="as many workloads"):
        estimate_batch(ws, ps, pairs="zip")


def test_batched_workload_scales_frames():
    w = vgg8()
    one, eight = estimate(w, "neurosim-rram-22nm"), estimate(w.batched(8), "neurosim-rram-22nm")
    assert eight["macs"] == pytest.approx(8 * one["macs"])
    assert eight["frames_per_s"] > one["frames_per_s"]  # more vectors per copy amortise the I/O


def test_digital_roofline_memory_bound_and_overhead():
    p = load_profile("npu-int8-4tops")
    # an element-wise op on 1M elements: 2 MB moved at 8 GB/s = 250 us, compute 1M / (64 x 0.8) = 19.5 us
    c = _one({"type": "elementwise", "elements": 1_000_000}, p)
    assert c.layer("latency_ns")[0] == pytest.approx(2e6 / 8.0 + 2000.0)


def test_cost_to_dict_is_json_safe():
    import json

    d = estimate(vgg8(), "neurosim-rram-22nm").to_dict()
    text = json.dumps(d)
    assert json.loads(text)["totals"]["tops"] == pytest.approx(d["totals"]["tops"])
    assert len(d["layers"]) == len(vgg8()) and d["layers"][0]["op"] == "conv"


@pytest.mark.parametrize("bad", [
    {"type": "conv", "in_channels": -3, "out_channels": 8, "kernel": 3, "in_size": 8},
    {"type": "conv", "in_channels": 3, "out_channels": 8, "kernel": 9, "in_size": 4, "padding": 0},
    {"type": "linear", "in_features": 0, "out_features": 8},
    {"type": "linear", "in_features": 8, "out_features": 8, "tokens": 0},
    {"type": "conv", "in_channels": 6, "out_channels": 8, "kernel": 3, "in_size": 8, "groups": 4},
    {"type": "gru", "hidden": 8},
    {"type": "linear", "in_features": 8},
    {"type": "linear", "in_features": 8, "out_features": 8, "bias": True},
])
def test_impossible_layers_are_refused(bad):
    with pytest.raises(WorkloadError):
        Workload.from_layers([bad])


def test_impossible_rows_are_refused_before_the_kernel():
    ok = Workload.from_layers([{"type": "linear", "in_features": 8, "out_features": 8}])
    cols = {c: getattr(ok, c).copy() for c in ("kind", "k", "n", "m", "groups", "kernel", "macs", "params",
                                               "in_elems", "out_elems")}
    for col, value, match in (("m", 0, "m=0"), ("k", -1, "k=-1"), ("macs", float("nan"), "macs"),
                              ("kind", 42, "kind")):
        bad = dict(cols)
        bad[col] = np.array([value])
        with pytest.raises(WorkloadError, match=match):
            Workload(**bad)

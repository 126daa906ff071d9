"""The Numba kernels equal the plain-Python reference on random layers and random valid profiles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nas_edge.cost import LAYER_FIELDS, estimate, estimate_batch, kernels
from nas_edge.cost.layout import N_LAYER, N_TOTAL, TOTAL_FIELDS, profile_params

from reference_cost import reference
from strategies import imc_profiles, profiles, workloads

REL = 1e-9


def _close(a: float, b: float) -> bool:
    return bool(np.isclose(a, b, rtol=REL, atol=1e-12))


def _assert_matches(layers: np.ndarray, totals: dict, ref_layers: list[dict], ref_totals: dict) -> None:
    for i, ref_row in enumerate(ref_layers):
        for field, expected in ref_row.items():
            got = layers[i, LAYER_FIELDS.index(field)]
            assert _close(got, expected), f"layer {i} {field}: kernel {got} != reference {expected}"
    for key, expected in ref_totals.items():
        assert _close(totals[key], expected), f"total {key}: kernel {totals[key]} != reference {expected}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(w=workloads, p=profiles)
def test_kernel_equals_reference(w, p):
    cost = estimate(w, p)
    _assert_matches(cost.layers, cost.totals, *reference(w, p))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(w=workloads, p=imc_profiles(), data=st.data())
def test_value_aware_kernel_equals_reference(w, p, data):
    """Per-row DAC and cell-read factors (value-aware energy) in the kernel and the reference."""
    factors = st.lists(st.floats(0, 2, allow_nan=False), min_size=len(w), max_size=len(w))
    f_dac, f_cell = np.array(data.draw(factors)), np.array(data.draw(factors))
    layers, tot = np.zeros((len(w), N_LAYER)), np.zeros(N_TOTAL)
    kernels.network_cost(*w.columns(), profile_params(p), float(w.batch), f_dac, f_cell, layers, tot)
    _assert_matches(layers, dict(zip(TOTAL_FIELDS, tot.tolist(), strict=True)),
                    *reference(w, p, f_dac.tolist(), f_cell.tolist()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ws=st.lists(workloads, min_size=1, max_size=4), ps=st.lists(profiles, min_size=1, max_size=3))
def test_batch_equals_single(ws, ps):
    batch = estimate_batch(ws, ps)
    assert len(batch["energy_uj"]) == len(ws) * len(ps)
    for j, (wi, pi) in enumerate(zip(batch.workload_index, batch.profile_index, strict=True)):
        single = estimate(ws[wi], ps[pi]).totals
        for key in ("energy_uj", "latency_ms", "area_mm2", "arrays_needed", "fits", "tops_per_w", "edp_uj_ms",
                    "frames_per_s_pipelined"):
            assert _close(batch[key][j], single[key]), key


@settings(max_examples=60, deadline=None)
@given(w=workloads, p=profiles)
def test_energy_components_add_up(w, p):
    t = estimate(w, p).totals
    parts = sum(v for k, v in t.items() if k.startswith("energy_") and k.endswith("_uj") and k != "energy_uj")
    assert parts == pytest.approx(t["energy_uj"], rel=1e-9, abs=1e-15)
    areas = sum(t[k] for k in ("area_cells_mm2", "area_adc_mm2", "area_periphery_mm2", "area_buffer_mm2",
                               "area_digital_mm2"))
    if p.kind == "imc":
        assert areas == pytest.approx(t["area_mm2"], rel=1e-9)
    assert t["pipeline_stage_ms"] <= t["latency_ms"] * (1 + 1e-12)

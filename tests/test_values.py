"""Value-aware array energy (nas_edge.cost.values): the vectorised densities equal the plain-Python reference,
the kernels scale exactly the DAC and cell-read energy, and a traced ONNX model reads real bit densities."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import reference_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from typer.testing import CliRunner

from nas_edge.cli import app
from nas_edge.cost import estimate
from nas_edge.cost.values import (
    CalibrationDataError,
    LayerValues,
    ValueTrace,
    energy_factors,
    layer_factors,
    load_calibration_data,
    trace_onnx,
)
from nas_edge.hardware import load_profile, profile_from_dict, profile_to_dict

finite = st.floats(-4, 4, allow_nan=False, width=32)


@st.composite
def layer_values(draw: st.DrawFn) -> LayerValues:
    groups = draw(st.integers(1, 3))
    per_group = draw(st.integers(1, 3))
    rows_per_channel = draw(st.sampled_from([1, 4]))
    outputs = draw(st.integers(1, 3))
    samples = draw(st.integers(1, 5))
    x = draw(hnp.arrays(np.float64, (samples, groups * per_group), elements=finite))
    if draw(st.booleans()):
        x = np.abs(x)
    w = draw(hnp.arrays(np.float64, (groups, outputs, per_group * rows_per_channel), elements=finite))
    return LayerValues(x, float(np.abs(x).max()), bool((x < 0).any()), w, rows_per_channel)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v=layer_values(), ib=st.integers(1, 10), dac=st.integers(1, 4), wb=st.integers(1, 10), cb=st.integers(1, 4),
       mapping=st.sampled_from(["differential", "offset", "signed"]))
def test_factors_equal_the_reference(v: LayerValues, ib: int, dac: int, wb: int, cb: int, mapping: str) -> None:
    base = profile_to_dict(load_profile("neurosim-rram-22nm"))
    base["precision"].update(input_bits=ib, weight_bits=wb)
    base["array"].update(dac_bits=min(dac, ib), cell_bits=cb, mapping=mapping)
    prof = profile_from_dict(base)
    got = layer_factors(v, prof)
    want = reference_values.layer_factors(v, ib, min(dac, ib), wb, cb, mapping)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("mapping", ["differential", "offset", "signed"])
def test_random_bits_give_factor_one(mapping: str) -> None:
    """Every input code once and every weight magnitude equally often is random bits: the value-blind figure
    (offset: the codes 1..255, 128 twice, is within 2 %)."""
    base = profile_to_dict(load_profile("neurosim-rram-22nm"))
    base["array"].update(mapping=mapping, cell_bits=1, dac_bits=1)
    prof = profile_from_dict(base)
    x = np.arange(256, dtype=np.float64)[:, None]
    w = np.concatenate([np.arange(128.0), -np.arange(128.0)])[None, :, None]
    dac, cell = layer_factors(LayerValues(x, 255.0, False, w, 1), prof)
    assert dac == 1.0
    assert cell == pytest.approx(1.0, rel=0.02 if mapping == "offset" else 1e-12)


def test_kernel_scales_only_dac_and_cell_energy() -> None:
    """Factors reach exactly the DAC and the cell-read part of the array energy; ADC, bit lines, shift-add,
    buffers and latency do not move."""
    from nas_edge.workload import zoo

    w = zoo.vgg8()
    prof = load_profile("neurosim-rram-22nm")
    names = [n for i, n in enumerate(w.names) if int(w.kind[i]) in (0, 1)]
    rng = np.random.default_rng(1)
    x = np.abs(rng.normal(size=(4, 4096)))
    trace = ValueTrace({n: LayerValues(x[:, :64], float(x.max()), False, rng.normal(size=(1, 8, 64)), 1)
                        for n in names})
    blind, aware = estimate(w, prof), estimate(w, prof, values=trace)
    f_dac, f_cell, found = energy_factors(trace, w, prof)
    untraced = [i for i, n in enumerate(w.names) if n not in names]
    assert found == len(names) and np.all(f_dac[untraced] == 1) and np.all(f_cell[untraced] == 1)
    for key in ("energy_adc_uj", "energy_shift_add_uj", "energy_buffer_uj", "latency_ms", "area_mm2"):
        assert aware[key] == blind[key], key
    np.testing.assert_allclose(aware.layer("energy_dac_pj"), blind.layer("energy_dac_pj") * f_dac, rtol=1e-12)
    assert aware["energy_array_uj"] < blind["energy_array_uj"]
    assert estimate(w, "mobile-cpu-a78", values=trace)["energy_uj"] == estimate(w, "mobile-cpu-a78")["energy_uj"]


@pytest.fixture(scope="module")
def relu_net(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    nn = torch.nn
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, groups=2), nn.ReLU(),
                      nn.Flatten(), nn.Linear(8 * 6 * 6, 5)).eval()
    buf = io.BytesIO()
    torch.onnx.export(m, (torch.randn(1, 3, 6, 6),), buf, dynamo=False, input_names=["x"],
                      dynamic_axes={"x": {0: "N"}})
    return buf.getvalue()


def test_trace_of_a_relu_network(relu_net: bytes) -> None:
    from nas_edge.workload.onnx_adapter import from_onnx

    w = from_onnx(relu_net)
    data = np.random.default_rng(0).normal(size=(6, 3, 6, 6)).astype(np.float32)
    trace = trace_onnx(relu_net, data)
    assert trace.inputs_used == 6 and not trace.notes
    prof = load_profile("neurosim-rram-22nm")
    f_dac, f_cell, found = energy_factors(trace, w, prof)
    assert found == 3
    diff = profile_to_dict(prof)
    diff["array"]["mapping"] = "differential"
    _, f_cell_diff, _ = energy_factors(trace, w, profile_from_dict(diff))  # factors cached per mapping
    assert not np.allclose(f_cell_diff, f_cell)
    assert f_dac[0] == pytest.approx(1.0, abs=0.05)  # normal inputs in two's complement: random bits
    assert f_dac[1] < 0.8 and f_dac[2] < 0.8  # after ReLU: half the values are 0, the rest small
    zero = trace_onnx(relu_net, np.zeros_like(data))
    f0, c0, _ = energy_factors(zero, w, prof)
    assert f0[0] == 0.0 and c0[0] == 0.0  # no input level, no row drive, no cell current
    aware, blind = estimate(w, prof, values=trace), estimate(w, prof)
    assert aware["energy_uj"] < blind["energy_uj"] and aware["energy_adc_uj"] == blind["energy_adc_uj"]


def test_cli_calibration_data(relu_net: bytes, tmp_path: Path) -> None:
    model = tmp_path / "net.onnx"
    model.write_bytes(relu_net)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(4, 3, 6, 6)).astype(np.float32))
    base = ["profile", str(model), "-H", "neurosim-rram-22nm", "--json"]
    aware = runner.invoke(app, [*base, "--calibration-data", str(tmp_path / "x.npy")])
    assert aware.exit_code == 0, aware.stderr
    doc, blind = json.loads(aware.stdout), json.loads(runner.invoke(app, base).stdout)
    assert doc["model"]["calibration"] == {"inputs": 4, "layers_traced": 3}
    e_aware, e_blind = (d["hardware"][0]["totals"]["energy_uj"] for d in (doc, blind))
    assert e_aware < e_blind
    np.save(tmp_path / "wrong.npy", np.zeros((4, 5), dtype=np.float32))
    (tmp_path / "text.npy").write_text("not numpy")
    for name, message in (("wrong.npy", "cannot run the model on the calibration data"),
                          ("text.npy", "not a NumPy"), ("missing.npy", "no such file")):
        r = runner.invoke(app, [*base, "--calibration-data", str(tmp_path / name)])
        assert r.exit_code == 1 and r.stderr.startswith("error:") and message in r.stderr, (name, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1


def test_load_calibration_data_by_input_name(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=np.ones((2, 3)), y=np.zeros((2, 1)))
    got = load_calibration_data(tmp_path / "d.npz")
    assert isinstance(got, dict) and sorted(got) == ["x", "y"]
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(CalibrationDataError, match="expected numbers"):
        load_calibration_data(tmp_path / "s.npy")


runner = CliRunner()

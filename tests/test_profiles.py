"""Hardware profiles: built-ins, base inheritance, JSON Schema, and one clear error per invalid file."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nas_edge.hardware import (
    ProfileError,
    builtin_names,
    json_schema,
    load_profile,
    profile_from_dict,
    profile_to_dict,
)
from nas_edge.hardware.adc import adc_figures, lossless_adc_bits
from nas_edge.hardware.schema import ADCSpec

REQUIRED_BUILTINS = {"neurosim-rram-22nm", "neurosim-sram-22nm", "isaac-reram-32nm", "pcm-aihwkit-14nm",
                     "mnsim-default-45nm", "mobile-cpu-a78", "npu-int8-4tops"}


def test_required_builtins_exist():
    assert set(builtin_names()) >= REQUIRED_BUILTINS


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_profiles_are_valid_and_sourced(name):
    p = load_profile(name)
    assert p.name == name
    assert len(p.provenance) > 80  # says where its numbers come from
    # the JSON Schema accepts the raw file, so editors can check profiles as they are typed
    from importlib import resources

    raw = yaml.safe_load((resources.files("nas_edge.hardware_profiles") / f"{name}.yaml").read_text())
    jsonschema.validate(raw, json_schema())


def test_neurosim_profiles_have_the_table_vii_configuration():
    for name in ("neurosim-rram-22nm", "neurosim-sram-22nm"):
        p = load_profile(name)
        assert (p.array.rows, p.array.cols, p.array.cell_bits, p.array.rows_parallel) == (128, 128, 1, 64)
        # NeuroSim's default ADC (Param.cpp SARADC = false): a multi-level sense amplifier, 2^N - 1 of them
        assert (p.precision.weight_bits, p.precision.input_bits, p.adc.bits, p.adc.model) == (8, 8, 4, "flash")
        assert p.technology_nm == 22


def test_pcm_profile_has_noise_parameters():
    noise = load_profile("pcm-aihwkit-14nm").noise
    assert noise is not None and noise.programming_noise == "pcm" and noise.drift_nu > 0


def test_base_inheritance_overrides_only_what_differs(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("base: neurosim-rram-22nm\nname: mine\nadc: {bits: 6}\narray: {rows_parallel: 32}\n")
    p = load_profile(f)
    base = load_profile("neurosim-rram-22nm")
    assert (p.name, p.adc.bits, p.adc.model, p.array.rows_parallel) == ("mine", 6, "flash", 32)
    assert p.array.cell_area_um2 == base.array.cell_area_um2 and p.buffer == base.buffer
    assert "extended from neurosim-rram-22nm" in p.provenance
    # a base given as a relative path is found beside the file
    g = tmp_path / "child.yaml"
    g.write_text("base: mine.yaml\nname: child\nclock_ghz: 2.0\n")
    c = load_profile(g)
    assert (c.adc.bits, c.clock_ghz) == (6, 2.0)


def test_base_cycle_is_refused(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nname: b\n")
    with pytest.raises(ProfileError, match="cyclic"):
        load_profile(tmp_path / "a.yaml")


def _write(tmp_path, text):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    return f


def _rram(**edits):
    d = profile_to_dict(load_profile("neurosim-rram-22nm"))
    for path, value in edits.items():
        node = d
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        if value is KeyError:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return yaml.safe_dump(d)


BAD = [
    ("unknown field", lambda: _rram(array__colums=128), "array.colums", "unknown field"),
    ("missing field", lambda: _rram(array__rows=KeyError), "array.rows", "required"),
    ("wrong type", lambda: _rram(array__rows="many"), "array.rows", "integer"),
    ("zero size", lambda: _rram(array__cols=0), "array.cols", "greater than 0"),
    ("negative size", lambda: _rram(array__cell_area_um2=-1.0), "array.cell_area_um2", "greater than 0"),
    ("adc bits high", lambda: _rram(adc__bits=17), "adc.bits", "less than or equal to 16"),
    ("adc bits zero", lambda: _rram(adc__bits=0), "adc.bits", "greater than or equal to 1"),
    ("rows parallel", lambda: _rram(array__rows_parallel=256), "array", "rows_parallel (256) must not exceed rows"),
    ("unknown base", lambda: "base: no-such-chip\nname: x\n", "base", "unknown base profile 'no-such-chip'"),
    ("malformed yaml", lambda: "name: [unclosed\n", None, "malformed YAML at line"),
    ("empty file", lambda: "", None, "empty"),
    ("not a mapping", lambda: "- 1\n- 2\n", None, "expected a YAML mapping"),
    ("bad kind", lambda: _rram(kind="fpga"), "kind", "'imc' or 'digital'"),
    ("adc model fields", lambda: _rram(adc={"model": "fom", "bits": 8}), "adc", "needs fom_fj_per_step"),
]


@pytest.mark.parametrize(("case", "make", "field", "expected"), BAD, ids=[b[0] for b in BAD])
def test_invalid_profiles_name_file_field_and_expectation(tmp_path, case, make, field, expected):
    f = _write(tmp_path, make())
    with pytest.raises(ProfileError) as info:
        load_profile(f)
    msg = str(info.value)
    assert msg.startswith(str(f)), msg
    if field:
        assert f": {field}:" in msg or f"{field}" == info.value.field, msg
    assert expected in msg, msg
    assert "\n" not in msg  # one message, one line


def test_missing_file_is_refused_with_builtin_list(tmp_path):
    with pytest.raises(ProfileError, match=r"no such profile file.*neurosim-rram-22nm"):
        load_profile(tmp_path / "nope.yaml")


def test_yaml_is_loaded_safely(tmp_path):
    f = _write(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ProfileError, match="malformed YAML"):
        load_profile(f)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=12))
def test_random_documents_give_a_profile_or_a_profile_error(doc):
    data = doc if isinstance(doc, dict) else {"name": doc}
    try:
        profile_from_dict(data)
    except ProfileError as exc:
        assert str(exc).startswith("<dict>")


def test_adc_models():
    sar4 = adc_figures(ADCSpec(model="sar", bits=4), technology_nm=22, clock_ghz=1.0)
    assert sar4.energy_pj == pytest.approx((0.538 * 4 + 4.3753) * 5 * 1e-3)  # ~33 fJ at 4 b (NeuroSim SarADC.cpp)
    assert sar4.latency_ns == pytest.approx(5.0)
    fom = ADCSpec(model="fom", bits=8, fom_fj_per_step=3.32, latency_ns=1.0, area_um2=100.0)
    assert adc_figures(fom, technology_nm=22, clock_ghz=1.0).energy_pj == pytest.approx(0.85, rel=1e-3)
    flash = ADCSpec(model="flash", bits=3, comparator_energy_fj=10, comparator_area_um2=2, latency_ns=0.5)
    assert adc_figures(flash, technology_nm=22, clock_ghz=1).energy_pj == pytest.approx(7 * 10e-3)
    # energy grows with resolution in every model
    for bits in range(1, 16):
        lo, hi = (adc_figures(ADCSpec(model="sar", bits=b), technology_nm=22, clock_ghz=1) for b in (bits, bits + 1))
        assert hi.energy_pj > lo.energy_pj and hi.area_um2 > lo.area_um2


def test_lossless_adc_bits():
    assert lossless_adc_bits(64, 1, 1) == 7  # log2(64) + 1 + 1 - 1
    assert lossless_adc_bits(128, 2, 1) == 9
    assert lossless_adc_bits(128, 2, 2) == 11  # 128 * 3 * 3 = 1152 needs 11 bits, not 7 + 2 + 2 - 1
    with pytest.raises(ValueError):
        lossless_adc_bits(0, 1, 1)


@given(st.integers(1, 1024), st.integers(1, 4), st.integers(1, 4))
def test_lossless_adc_bits_reads_the_largest_sum_and_no_fewer(rows: int, cell: int, dac: int) -> None:
    bits = lossless_adc_bits(rows, cell, dac)
    largest = rows * (2**cell - 1) * (2**dac - 1)  # every row at its top cell level and input level
    assert largest <= 2**bits - 1 and (bits == 1 or largest > 2 ** (bits - 1) - 1)
    if rows & (rows - 1) == 0 and (cell == 1 or dac == 1):  # the design card's approximation is exact here
        assert bits == max(1, (rows - 1).bit_length() + cell + dac - 1)


def test_schema_is_json_schema():
    s = json_schema()
    jsonschema.Draft202012Validator.check_schema(s)
    assert "imc" in json.dumps(s) and "digital" in json.dumps(s)

"""Technology scaling: published per-node values, consistent factors, and what a profile that changes its node
gets — which figures scale, by how much, which explicit figure wins, and which nodes are refused."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from nas_edge.cli import app
from nas_edge.hardware import ProfileError, adc_figures, json_schema, load_profile, profile_from_dict, profile_to_dict
from nas_edge.hardware import technology as T

NODES = st.floats(min_value=T.RANGE_NM[0], max_value=T.RANGE_NM[1], allow_nan=False)
RULES = [r for r in T.RULES]


def test_published_anchors() -> None:
    # Stillmaker & Baas: 45 nm -> 7 nm logic area is 19 / 320 (both relative to 180 nm)
    assert T.factor("logic_area", 45, 7) == pytest.approx(19 / 320)
    # NeuroSim's SRAM cells: 280 F^2 at 22 nm, 10.6 x 30.8 F^2 at 14 nm (Samsung), F = the node
    assert T.factor("sram_cell_area", 22, 14) == pytest.approx(10.6 * 30.8 * 14**2 / (280 * 22**2))
    # NeuroSim's SAR fits: (0.0645 N + 0.5511) uW at 5 nm, (0.538 N + 4.3753) uW at 22 nm
    assert T.factor("adc_energy", 22, 5, bits=4) == pytest.approx((0.0645 * 4 + 0.5511) / (0.538 * 4 + 4.3753))
    assert T.factor("column_energy", 22, 1) == pytest.approx(0.0288 / 0.072341)
    # below 7 nm: C V^2 of NeuroSim's minimum device (66.94 aF at 0.6 V at 1 nm, 100.497 aF at 0.7 V at 7 nm)
    assert T.factor("logic_energy", 7, 1) == pytest.approx(66.94 * 0.36 / (100.497 * 0.49))
    # below 7 nm: NeuroSim's standard cell, contacted poly pitch x cell height in F (40 x 80 at 1 nm, 8.1428 x
    # 34.285 at 7 nm), times the node squared
    assert T.factor("logic_area", 7, 1) == pytest.approx(40 * 80 * 1**2 / (8.1428 * 34.285 * 7**2))
    # the SRAM read path from NeuroSim V1.4 run per node: sense amplifiers fall 6x from 22 to 1 nm, the word
    # lines 2.7x (the gate-all-around devices' larger cells and repeaters)
    assert T.factor("sram_sense_energy", 22, 1) == pytest.approx(0.1659)
    assert T.factor("sram_wordline_energy", 22, 1) == pytest.approx(0.3708)


@pytest.mark.parametrize("rule", RULES)
@given(a=NODES, b=NODES, c=NODES)
def test_factors_chain(rule: str, a: float, b: float, c: float) -> None:
    """Scaling a -> b -> c is scaling a -> c, and a -> a is 1: no path dependence, whatever the nodes."""
    assert T.factor(rule, a, a) == 1.0
    assert T.factor(rule, a, b) * T.factor(rule, b, c) == pytest.approx(T.factor(rule, a, c), rel=1e-9)


def test_memory_dependent_rules_pick_by_memory() -> None:
    assert T.figure_rule("array.bitline_energy_per_column_fj", "imc", "sram") == "sram_sense_energy"
    assert T.figure_rule("array.read_energy_per_cell_fj", "imc", "sram") == "sram_wordline_energy"
    assert T.figure_rule("adc.comparator_energy_fj", "imc", "sram") == "sram_sense_energy"
    assert T.figure_rule("array.bitline_energy_per_column_fj", "imc", "rram") == "column_energy"
    assert T.figure_rule("adc.comparator_energy_fj", "imc", "pcm") == "adc_energy"
    assert T.figure_rule("array.cell_area_um2", "imc", None) == "logic_area"


def test_logic_shrinks_with_the_node() -> None:
    nodes = [45, 32, 22, 14, 10, 7, 5, 3, 2, 1]
    for rule in ("logic_area", "logic_energy"):
        values = [T.factor(rule, 45, n) for n in nodes]
        assert values == sorted(values, reverse=True), rule


def test_out_of_range_nodes_are_refused_with_the_range() -> None:
    for nm in (0.5, 65):
        with pytest.raises(ProfileError, match=r"technology_nm: .*outside the range the scaling rules cover \(1-45 nm"):
            profile_from_dict({"base": "neurosim-sram-22nm", "name": "x", "technology_nm": nm})
    with pytest.raises(ProfileError, match="figures_nm"):
        profile_from_dict({**profile_to_dict(load_profile("neurosim-sram-22nm")), "figures_nm": 90})
    # a profile costed at its own node may sit anywhere (no scaling asked)
    d = profile_to_dict(load_profile("mnsim-default-45nm"))
    assert profile_from_dict({**d, "technology_nm": 65}).technology_nm == 65
    with pytest.raises(ProfileError, match=r"'sar' ADC model .* 1-130 nm"):
        profile_from_dict({**profile_to_dict(load_profile("neurosim-sram-22nm")), "technology_nm": 180,
                           "adc": {"model": "sar", "bits": 4}})


def test_base_at_another_node_scales_exactly_the_listed_figures() -> None:
    base = load_profile("neurosim-sram-22nm")
    p = profile_from_dict({"base": "neurosim-sram-22nm", "name": "sram-5nm", "technology_nm": 5})
    assert p.scaling is not None and (p.scaling.from_nm, p.scaling.to_nm) == (22, 5)
    b, s = profile_to_dict(base), profile_to_dict(p)
    for path in T.IMC_FIGURES:
        old, new = _get(b, path), _get(s, path)
        if old is None or path not in p.scaling.scaled:
            assert new == old and not old, path  # absent from the files: a zero default, nothing to scale
            continue
        expected = T.figure_rule(path, "imc", "sram")
        assert p.scaling.scaled[path] == expected
        assert new == pytest.approx(old * T.factor(expected, 22, 5)), path
    assert p.array.cell_area_um2 == pytest.approx(base.array.cell_area_um2 * 19.2 * 43.75 * 25 / (280 * 484))
    for path in ("buffer.bandwidth_gb_per_s", "array.rows", "adc.bits", "array.write_energy_per_cell_pj"):
        assert _get(s, path) == _get(b, path), path  # not scaled
    # the ADC (NeuroSim's multi-level sense amplifier, a flash-type converter) follows NeuroSim's sense amplifiers
    f = adc_figures(p.adc, technology_nm=5, clock_ghz=p.clock_ghz)
    f22 = adc_figures(base.adc, technology_nm=22, clock_ghz=base.clock_ghz)
    assert f.energy_pj == pytest.approx(f22.energy_pj * 0.3218)
    # a SAR ADC is computed at the chip's node: NeuroSim's 5 nm fit, at the scaled clock
    sar = profile_from_dict({"base": "neurosim-sram-22nm", "name": "sar-5nm", "technology_nm": 5,
                             "adc": {"model": "sar", "bits": 4}})
    f = adc_figures(sar.adc, technology_nm=5, clock_ghz=sar.clock_ghz)
    assert f.energy_pj == pytest.approx((0.0645 * 4 + 0.5511) * 5 / sar.clock_ghz * 1e-3)
    # the resolved profile round-trips without being scaled twice
    again = profile_from_dict(profile_to_dict(p))
    assert profile_to_dict(again) == profile_to_dict(p)


def test_explicit_figure_wins_and_says_so(tmp_path) -> None:
    f = tmp_path / "chip.yaml"
    f.write_text("base: neurosim-sram-22nm\nname: mine\ntechnology_nm: 7\narray: {cell_area_um2: 0.05}\n")
    p = load_profile(f)
    assert p.array.cell_area_um2 == 0.05 and "array.cell_area_um2" not in p.scaling.scaled
    (note,) = p.scaling.explicit
    scaled = 0.1014 * T.factor("sram_cell_area", 22, 7)
    assert note.startswith("array.cell_area_um2: the explicit 0.05 wins over") and f"{scaled:.6}"[:6] in note
    r = CliRunner().invoke(app, ["hardware", "validate", str(f)])
    assert r.exit_code == 0 and "scaled from 22 nm to 7 nm" in r.stdout and "explicit 0.05 wins" in r.stdout


def test_figures_nm_scales_a_file_of_its_own() -> None:
    d = profile_to_dict(load_profile("neurosim-rram-22nm"))
    d.pop("scaling")
    p = profile_from_dict({**d, "figures_nm": 22, "technology_nm": 14})
    assert p.array.cell_area_um2 == pytest.approx(d["array"]["cell_area_um2"] * T.factor("logic_area", 22, 14))
    assert p.clock_ghz == pytest.approx(1 / T.factor("logic_delay", 22, 14))


def test_schema_names_every_scaled_figure() -> None:
    defs = json_schema()["$defs"]
    props = {name: d.get("properties", {}) for name, d in defs.items()}
    marked = {f for d in props.values() for f, v in d.items() if "x-scales-with" in v}
    expected = {p.rsplit(".", 1)[-1] for p in (*T.IMC_FIGURES, *T.DIGITAL_FIGURES)}
    assert marked == expected
    assert "not scaled" in props["BufferSpec"]["bandwidth_gb_per_s"]["description"]


def _get(d: dict, path: str):
    for part in path.split("."):
        d = d.get(part) if isinstance(d, dict) else None
    return d


def test_sar_power_is_neurosims_fit_at_its_nodes() -> None:
    for nm, (a, b, _) in T.SAR_FIT.items():
        assert T.sar_power_uw(6, nm) == pytest.approx(a * 6 + b)
    assert math.isclose(T.sar_power_uw(4, 22), 0.538 * 4 + 4.3753)


def test_schema_checks_partial_files_too() -> None:
    """A file with `base` holds only what differs: no field is required, but names and types still are."""
    import jsonschema

    schema = json_schema()
    jsonschema.validate({"base": "neurosim-sram-22nm", "name": "x", "technology_nm": 5}, schema)
    for bad in ({"base": "neurosim-sram-22nm", "array": {"rowz": 64}},
                {"base": "neurosim-sram-22nm", "array": {"rows": "many"}},
                {"name": "no-base", "technology_nm": 5}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)

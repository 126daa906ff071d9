"""Hardware profiles that validated but gave wrong costs, or leaked what they pointed at (issue 12 items 9, 16)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nas_edge.hardware import ProfileError, load_profile, profile_from_dict
from nas_edge.hardware.schema import MAX_COUNT, MAX_FIGURE


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(("field", "message"), [
    ("clock_ghz: .inf", "clock_ghz: Input should be a finite number"),
    ("clock_ghz: .nan", "clock_ghz: Input should be a finite number"),
    ("array: {read_energy_per_cell_fj: .inf}", "array.read_energy_per_cell_fj: Input should be a finite number"),
    ("buffer: {bandwidth_gb_per_s: -.inf}", "buffer.bandwidth_gb_per_s"),
    (f"array: {{rows: {10**30}, cols: {10**30}}}", "array.rows: Input should be less than or equal to 1048576"),
    (f"chip: {{tiles: {2**63}}}", "chip.tiles"),
    ("clock_ghz: 1.0e+300", "clock_ghz: Input should be less than or equal to 1000000000000"),
])
def test_profiles_that_validated_but_costed_wrong_are_refused(tmp_path: Path, field: str, message: str) -> None:
    """Issue 12.9: .inf energies or clock validated and cost as inf/null with exit 0; huge integers validated
    and then divided by zero in the cost model."""
    path = _write(tmp_path / "p.yaml", f"base: neurosim-rram-22nm\nname: p\n{field}\n")
    with pytest.raises(ProfileError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_profile(path)


@given(st.sampled_from(["clock_ghz", "technology_nm"]),
       st.one_of(st.just(float("inf")), st.just(float("nan")), st.floats(MAX_FIGURE * 1.0001, 1e308)))
def test_no_non_finite_or_absurd_figure_validates(field: str, value: float) -> None:
    data = {"base": "neurosim-rram-22nm", "name": "p", field: value}
    with pytest.raises(ProfileError, match=field):
        profile_from_dict(data)


def test_the_largest_counts_still_cost_finitely() -> None:
    """At the bounds, the cost model's arithmetic stays exact and finite: the bounds are the whole fix."""
    from nas_edge.cost import estimate
    from nas_edge.workload import Workload

    p = profile_from_dict({"base": "neurosim-rram-22nm", "name": "big", "array": {
        "rows": MAX_COUNT, "cols": MAX_COUNT, "rows_parallel": MAX_COUNT, "cols_per_adc": 8}})
    w = Workload.from_layers([{"type": "linear", "in_features": 4096, "out_features": 4096, "tokens": 2**20}])
    totals = estimate(w, p).totals
    assert all(v == v and abs(v) < float("inf") for v in totals.values()), totals


def test_a_relative_base_is_resolved_against_the_files_own_folder(tmp_path: Path, monkeypatch) -> None:
    """Issue 12.9: ``base: base.yaml`` was looked up in the working directory before the file's own folder."""
    _write(tmp_path / "chips" / "base.yaml", "base: neurosim-rram-22nm\nname: right\nadc: {bits: 5}\n")
    _write(tmp_path / "base.yaml", "base: neurosim-rram-22nm\nname: wrong\nadc: {bits: 7}\n")
    child = _write(tmp_path / "chips" / "child.yaml", "base: base.yaml\nname: child\n")
    monkeypatch.chdir(tmp_path)
    assert load_profile(child).adc.bits == 5
    assert load_profile("chips/child.yaml").adc.bits == 5  # the top-level path itself is relative to the cwd
    (tmp_path / "chips" / "base.yaml").unlink()
    with pytest.raises(ProfileError, match=r"unknown base profile 'base\.yaml'"):  # no fallback to the cwd's file
        load_profile(child)


@pytest.mark.parametrize("target", ["/etc/shadow", "secret.txt", "link.yaml"])
def test_a_base_that_is_not_a_profile_file_is_never_read(tmp_path: Path, target: str) -> None:
    """Issue 12.16: ``base: /etc/shadow`` echoed the file's first line in the error (a field's quoted value)."""
    secret = _write(tmp_path / "secret.txt", "technology_nm: root:$6$SECRETHASH:19000:0:99999:7:::\n")
    (tmp_path / "link.yaml").symlink_to(secret)  # a .yaml name in front of another file
    path = _write(tmp_path / "p.yaml", f"base: {target}\nname: x\n")
    with pytest.raises(ProfileError, match=r"a base is a built-in name or a profile file ending in \.yaml") as info:
        load_profile(path)
    assert "SECRETHASH" not in str(info.value)

"""Hostile profile files: random YAML documents and mutated valid profiles always give a profile or one clear
ProfileError, quickly, never a traceback, a hang or unbounded memory; nothing in a file executes code."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nas_edge.hardware import ProfileError, builtin_names, load_profile, profile_to_dict

_settings = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats() | st.text(max_size=12)
documents = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c,
                                                                                         max_size=5), max_leaves=20)


def _paths(d, prefix=()):
    if isinstance(d, dict):
        for k, v in d.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))


@st.composite
def mutated_profiles(draw):
    d = profile_to_dict(load_profile(draw(st.sampled_from(builtin_names()))))
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(d))
        path = draw(st.sampled_from(paths))
        node = d
        for k in path[:-1]:
            node = node[k]
        action = draw(st.sampled_from(["delete", "replace", "rename"]))
        if action == "delete":
            del node[path[-1]]
        elif action == "rename":
            node[path[-1] + draw(st.text(min_size=1, max_size=3))] = node.pop(path[-1])
        else:
            node[path[-1]] = draw(documents)
        if not isinstance(d, dict):
            break
    return yaml.safe_dump(d)


raw_texts = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    documents.map(lambda d: yaml.safe_dump(d)),
)


def _load_one(tmp_path, text: str) -> None:
    f = tmp_path / "fuzz.yaml"
    f.write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        p = load_profile(f)
    except ProfileError as exc:
        msg = str(exc)
        assert msg.startswith(str(f)) and "\n" not in msg and len(msg) < 2000, msg
    else:
        assert p.name and p.kind in ("imc", "digital")


@settings(max_examples=150, **_settings)
@given(text=st.one_of(raw_texts, mutated_profiles()))
def test_fuzz_profile_loader_quick(tmp_path, text):
    _load_one(tmp_path, text)


@pytest.mark.slow
@settings(max_examples=1000, **_settings)
@given(text=raw_texts)
def test_fuzz_profile_loader_random_documents(tmp_path, text):
    _load_one(tmp_path, text)


@pytest.mark.slow
@settings(max_examples=1000, **_settings)
@given(text=mutated_profiles())
def test_fuzz_profile_loader_mutated_profiles(tmp_path, text):
    _load_one(tmp_path, text)


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
              for i in range(1, 9)]
    lines.append("name: *a8")
    f = tmp_path / "bomb.yaml"
    f.write_text("\n".join(lines) + "\n")
    # refused by counting the expansion before building it (a timed assert would be flaky on a loaded machine)
    with pytest.raises(ProfileError, match="expands to more than"):
        load_profile(f)


@pytest.mark.parametrize("payload", [
    "name: !!python/object/apply:os.system ['touch {marker}']\n",
    "!!python/object/new:os.system ['touch {marker}']\n",
    "name: !!python/name:os.system\n",
])
def test_no_code_executes_from_a_profile(tmp_path, payload):
    marker = tmp_path / "pwned"
    f = tmp_path / "evil.yaml"
    f.write_text(payload.format(marker=marker))
    with pytest.raises(ProfileError):
        load_profile(f)
    assert not marker.exists()


def test_odd_field_names_stay_on_one_line(tmp_path):
    f = tmp_path / "odd.yaml"
    d = profile_to_dict(load_profile("isaac-reram-32nm"))
    d["precision"]["\n\n"] = None
    f.write_text(yaml.safe_dump(d))
    with pytest.raises(ProfileError) as info:
        load_profile(f)
    assert "\n" not in str(info.value) and "precision" in str(info.value)

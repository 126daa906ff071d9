"""The sampler's encoding of Optuna distributions: valid decodes, round trips, identity keys, ordinal features."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from nas_edge.samplers._encoding import SpaceEncoder


@st.composite
def distributions(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(["float", "float_step", "float_log", "int", "int_step", "int_log", "cat"]))
    if kind == "cat":
        pool = draw(st.sampled_from([(1, 2, 3), ("a", "b"), (True, False), (8, 16, 32, 64), (1, "a", None)]))
        return CategoricalDistribution(pool)
    if kind.startswith("float"):
        low = draw(st.floats(1e-4, 10))
        high = low + draw(st.floats(1e-3, 100))
        if kind == "float_step":
            step = draw(st.sampled_from([0.25, 0.5, 1.0]))  # exact in binary: no rounding of the range
            start = step * draw(st.integers(0, 40))
            return FloatDistribution(start, start + step * draw(st.integers(1, 40)), step=step)
        return FloatDistribution(low, high, log=kind == "float_log")
    low = draw(st.integers(1, 20))
    if kind == "int_step":
        step = draw(st.integers(1, 4))
        return IntDistribution(low, low + step * draw(st.integers(1, 10)), step=step)
    return IntDistribution(low, low + draw(st.integers(1, 200)), log=kind == "int_log")


@settings(max_examples=150, deadline=None)
@given(dists=st.lists(distributions(), min_size=1, max_size=5), seed=st.integers(0, 2**31 - 1))
def test_random_rows_decode_to_valid_params_and_round_trip(dists: list, seed: int) -> None:
    enc = SpaceEncoder({f"p{i}": d for i, d in enumerate(dists)})
    x = enc.random(np.random.RandomState(seed), 20)
    params = enc.decode_many(x)
    for row, p in zip(x, params, strict=True):
        assert p == enc.decode_params(row)
        for name, dist in zip(enc.names, enc.dists, strict=True):
            value = p[name]
            assert dist._contains(dist.to_internal_repr(value))
            assert type(value) in (int, float, str, bool, type(None))
            if isinstance(dist, IntDistribution):
                assert isinstance(value, int)
        back = enc.encode_params(p)
        assert back is not None
        assert np.allclose(back, enc.snap(row[None, :])[0], atol=1e-9)
        again = enc.decode_params(back)  # continuous floats may move by an ulp; everything else is exact
        for name, dist in zip(enc.names, enc.dists, strict=True):
            if isinstance(dist, FloatDistribution) and dist.step is None:
                assert again[name] == pytest.approx(p[name], rel=1e-12)
            else:
                assert again[name] == p[name]
    keys = enc.keys(x)
    for i in range(len(x)):
        for j in range(len(x)):
            assert (keys[i] == keys[j]) == (params[i] == params[j])


def test_missing_or_foreign_values_do_not_encode() -> None:
    enc = SpaceEncoder({"a": IntDistribution(0, 3), "b": CategoricalDistribution(("u", "v"))})
    assert enc.encode_params({"a": 1}) is None
    assert enc.encode_params({"a": 1, "b": "w"}) is None
    assert enc.encode_params({"a": 9, "b": "u"}) is not None  # out of range: clipped (a study's old range)


def test_numeric_choices_are_ordinal_for_the_surrogate() -> None:
    enc = SpaceEncoder({
        "width": CategoricalDistribution((32, 64, 128, 256)),
        "flag": CategoricalDistribution((True, False, None)),
        "name": CategoricalDistribution(("a", "b", "c")),
        "pair": CategoricalDistribution((1, 2)),
    })
    j = enc.names.index("width")
    x = np.zeros((4, len(enc)))
    x[:, j] = [0, 1, 2, 3]
    assert np.allclose(enc.kernel_inputs(x)[:, j], [0, 1 / 3, 2 / 3, 1])  # log2 spacing, scaled to [0, 1]
    assert enc.names == ["flag", "name", "pair", "width"]
    assert enc.kernel_is_cat.tolist() == [True, True, True, False]  # two numbers: nothing to order

"""nas_edge.testing.check_space: every registered space keeps the contract, and the check catches a space
that breaks it."""

from __future__ import annotations

from typing import Any

import pytest

from nas_edge.spaces import CNNSpace, HardwareSpace, TransformerSpace, create_space, list_spaces
from nas_edge.testing import check_space

EXTRA = {"transformer-tokens": ("transformer", {"input_shape": (12,), "num_classes": 3, "vocab_size": 50}),
         "cnn-rgb": ("cnn", {"input_shape": (3, 16, 16), "num_classes": 7, "stages": 2})}


@pytest.mark.parametrize("name", list_spaces())
def test_every_registered_space_keeps_the_contract(name: str) -> None:
    check_space(create_space(name), samples=2)


@pytest.mark.parametrize("config", list(EXTRA))
def test_other_configurations_keep_the_contract(config: str) -> None:
    name, kw = EXTRA[config]
    check_space(create_space(name, **kw), samples=2)


class _ForgetsALayer(TransformerSpace):
    """layers() drops the classifier: the analytic cost no longer describes the built network."""

    def layers(self, arch: Any, input_shape: tuple[int, ...] | None = None) -> Any:
        w = super().layers(arch, input_shape)
        from nas_edge.workload import Workload

        return Workload(**{c: getattr(w, c)[:-1] for c in ("kind", "k", "n", "m", "groups", "kernel", "macs",
                                                             "params", "in_elems", "out_elems")},
                        names=w.names[:-1])


class _LosesAParameter(CNNSpace):
    """to_params() forgets the resolution: a trial could not be replayed."""

    def to_params(self, arch: Any) -> dict[str, Any]:
        params = super().to_params(arch)
        params.pop("cnn_resolution")
        return params


class _GrowsChoices(HardwareSpace):
    """Each call widens a choice: a study could not be extended."""

    calls = 0

    def distributions(self) -> dict[str, Any]:
        from optuna.distributions import CategoricalDistribution

        type(self).calls += 1
        return {**super().distributions(), "hw_extra": CategoricalDistribution(tuple(range(type(self).calls)))}


class _Unseeded(CNNSpace):
    """sample() ignores its seed."""

    def sample(self, rng: Any = None) -> Any:
        import random

        return super().sample(random.randrange(1 << 30))


@pytest.mark.parametrize(("space", "rule"), [
    (lambda: _ForgetsALayer(), "layers() equals the built module's workload"),
    (lambda: _LosesAParameter(), "to_params()"),
    (lambda: _GrowsChoices(), "parameters are stable"),
    (lambda: _Unseeded(), "sample(seed) is deterministic"),
])
def test_the_check_catches_a_broken_space(space: Any, rule: str) -> None:
    pytest.importorskip("torch")
    with pytest.raises(AssertionError, match=rule.replace("(", r"\(").replace(")", r"\)")):
        check_space(space(), samples=2)


def test_without_torch_only_the_analytic_rules_are_checked() -> None:
    check_space(_ForgetsALayer(), samples=1, torch=False)  # the torch comparison is what catches this one
    with pytest.raises(AssertionError, match="to_params"):
        check_space(_LosesAParameter(), samples=1, torch=False)

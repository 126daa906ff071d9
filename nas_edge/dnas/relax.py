"""A search space seen as independent categorical choices (*factors*) and its workload as a sum of *terms*.

Every parameter of a network space becomes a factor: its choices are the parameter's choices (an integer
range is enumerated; a float cannot be relaxed). A factor can be fixed to one value. The relaxed network
draws each factor independently from its own softmax, so the architecture distribution is the product of
the factors' distributions.

A space's adapter (one :class:`Relaxation` subclass per space, :func:`register_relaxation`) says which
workload rows belong to which term and which factors each term's rows depend on: a convolution stage depends
on its own choices, on the previous stage's width (its input channels) and on the input resolution. These
are the pairwise (and higher) interactions that make the expected cost exact: a term's cost is tabulated
over the joint choices of its factors, and its expectation under independent factors is the table
contracted with each factor's probabilities (multilinear in the probabilities, so the gradient is exact
too). The adapter also supplies the torch super-network (:meth:`Relaxation.supernet`).

Nothing here imports torch.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
from optuna.distributions import CategoricalDistribution, IntDistribution

from nas_edge.dnas.config import DNASError
from nas_edge.spaces import Architecture, NetworkSpace
from nas_edge.workload.table import Workload


@dataclass(frozen=True)
class Factor:
    """One relaxed choice: a parameter of the space and its candidate values (one value: fixed)."""

    name: str
    choices: tuple[Any, ...]

    @property
    def fixed(self) -> bool:
        return len(self.choices) == 1


@dataclass(frozen=True)
class Term:
    """A part of the workload (its rows) and the factors those rows depend on."""

    name: str
    factors: tuple[str, ...]


class Relaxation(ABC):
    """The relaxation of one space. Subclasses give :meth:`terms`, :meth:`row_term` and :meth:`supernet`."""

    space_name: ClassVar[str] = ""

    def __init__(self, space: NetworkSpace, fixed: Mapping[str, Any] | None = None) -> None:
        self.space = space
        dists = space.distributions()
        unknown = sorted(set(fixed or {}) - set(dists))
        if unknown:
            raise DNASError(f"cannot fix {', '.join(unknown)}: not parameters of the {space.name!r} space "
                            f"(its parameters: {', '.join(dists)})")
        factors = []
        for name, dist in dists.items():
            if isinstance(dist, CategoricalDistribution):
                choices = tuple(dist.choices)
            elif isinstance(dist, IntDistribution):
                choices = tuple(range(dist.low, dist.high + 1, dist.step))
            else:
                raise DNASError(f"{space.name} parameter {name} is continuous ({dist!r}); DNAS relaxes discrete "
                                "choices only: fix it (fixed={...}) or search it with a sampler")
            if fixed and name in fixed:
                if fixed[name] not in choices:
                    raise DNASError(f"cannot fix {name}={fixed[name]!r}: not one of its choices {list(choices)}")
                choices = (fixed[name],)
            factors.append(Factor(name, choices))
        self.factors: tuple[Factor, ...] = tuple(factors)
        self.by_name = {f.name: f for f in self.factors}
        self._terms = self.terms()
        self._row_terms: dict[str, str] = {}
        names = [t.name for t in self._terms]
        if len(set(names)) != len(names):  # pragma: no cover - an adapter bug
            raise DNASError(f"{type(self).__name__}: term names repeat: {names}")
        for t in self._terms:
            missing = [f for f in t.factors if f not in self.by_name]
            if missing:  # pragma: no cover - an adapter bug
                raise DNASError(f"{type(self).__name__}: term {t.name} names unknown factors {missing}")

    # -- what an adapter provides ---------------------------------------------------------------------------

    @abstractmethod
    def terms(self) -> tuple[Term, ...]:
        """The terms whose rows make up the workload, each with the factors its rows depend on."""

    @abstractmethod
    def row_term(self, row_name: str) -> str:
        """The term a workload row (by name) belongs to."""

    @abstractmethod
    def supernet(self) -> Any:
        """A fresh torch super-network: ``forward(x, choice)``, a choice index per factor (see ``train``)."""

    def canonical(self, term: Term, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` with choices that cannot change ``term``'s rows replaced by one representative (a
        shortcut for tabulating; the exactness tests hold it to the full workload)."""
        return values

    # -- generic ------------------------------------------------------------------------------------------

    @property
    def term_list(self) -> tuple[Term, ...]:
        return self._terms

    def relaxed(self) -> tuple[Factor, ...]:
        """The factors with more than one choice."""
        return tuple(f for f in self.factors if not f.fixed)

    def params(self, indices: Mapping[str, int]) -> dict[str, Any]:
        """Parameter values of the architecture that picks choice ``indices[f]`` of each factor (the first
        choice where a factor is not given)."""
        return {f.name: f.choices[int(indices.get(f.name, 0))] for f in self.factors}

    def architecture(self, indices: Mapping[str, int]) -> Architecture:
        """The ordinary architecture of the space that ``indices`` pick."""
        return self.space.from_params(self.params(indices))

    def indices(self, arch: Architecture) -> dict[str, int]:
        """The choice index of each factor for ``arch`` (which must respect the fixed factors)."""
        params = self.space.to_params(arch)
        out = {}
        for f in self.factors:
            if params[f.name] not in f.choices:
                raise DNASError(f"{f.name}={params[f.name]!r} is not among the relaxed choices {list(f.choices)}")
            out[f.name] = f.choices.index(params[f.name])
        return out

    def cards(self, term: Term) -> tuple[int, ...]:
        return tuple(len(self.by_name[f].choices) for f in term.factors)

    def combos(self, term: Term) -> Iterator[tuple[int, ...]]:
        """Every joint choice (indices, row-major) of ``term``'s factors."""
        return itertools.product(*(range(c) for c in self.cards(term)))

    def term_values(self, term: Term, combo: tuple[int, ...]) -> dict[str, Any]:
        """Parameter values of an architecture whose ``term`` rows are those of ``combo`` (choices of the
        term's factors; the other factors at their first choice, then :meth:`canonical`)."""
        return self.canonical(term, self.params(dict(zip(term.factors, combo, strict=True))))

    def term_mask(self, term: Term, names: Sequence[str]) -> np.ndarray:
        """Which rows (by name) belong to ``term``."""
        if len(self._terms) == 1:
            return np.ones(len(names), dtype=bool)
        lookup = self._row_terms
        for n in names:
            if n not in lookup:
                lookup[n] = self.row_term(n)
        return np.fromiter((lookup[n] == term.name for n in names), dtype=bool, count=len(names))

    def term_rows(self, term: Term, combo: tuple[int, ...]) -> Workload:
        """The rows of ``term`` when its factors take choices ``combo`` (the other factors do not matter)."""
        full = self.space.layers(self.space.from_params(self.term_values(term, combo)))
        return select_rows(full, self.term_mask(term, full.names))

    def check_rows(self, workload: Workload) -> None:
        """Every row of ``workload`` belongs to a known term (an adapter out of step with its space fails here)."""
        known = {t.name for t in self._terms}
        stray = [n for n in workload.names if self.row_term(n) not in known]
        if stray:
            raise DNASError(f"{type(self).__name__}: rows {stray[:3]} belong to no term; the adapter is out of step "
                            f"with the {self.space.name!r} space")


def select_rows(w: Workload, mask: np.ndarray) -> Workload:
    """The rows of ``w`` where ``mask`` is true (same meta)."""
    cols = {c: getattr(w, c)[mask] for c in ("kind", "k", "n", "m", "groups", "kernel", "macs", "params",
                                             "in_elems", "out_elems")}
    names = tuple(n for n, keep in zip(w.names, mask, strict=True) if keep)
    return Workload(**cols, names=names, meta=dict(w.meta))


# -- registry ---------------------------------------------------------------------------------------------

_ADAPTERS: dict[str, type[Relaxation]] = {}
R = TypeVar("R", bound=type[Relaxation])


def register_relaxation(cls: R) -> R:
    """Class decorator: the relaxation of the space named ``cls.space_name``."""
    _ADAPTERS[cls.space_name] = cls
    return cls


def list_relaxations() -> list[str]:
    _load_builtin()
    return sorted(_ADAPTERS)


def relax(space: NetworkSpace, fixed: Mapping[str, Any] | None = None) -> Relaxation:
    """The relaxation of ``space`` (a :class:`DNASError` naming the relaxable spaces when there is none)."""
    _load_builtin()
    cls = _ADAPTERS.get(space.name)
    if cls is None:
        raise DNASError(f"DNAS cannot relax the {space.name!r} space (no adapter); relaxable spaces: "
                        f"{', '.join(sorted(_ADAPTERS))}; search it with a sampler instead")
    return cls(space, fixed)


def _load_builtin() -> None:
    import nas_edge.dnas.cnn
    import nas_edge.dnas.nb201  # noqa: F401  (register the cnn and nb201 adapters)

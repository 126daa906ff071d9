"""The nb201 space: encodings, analytic workload = from_torch(build), parameter count, cut paths."""

from __future__ import annotations

import itertools

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nas_edge.spaces import NB201Architecture, SpaceError, create_space, has_equivalents, list_spaces
from nas_edge.spaces.nb201 import (
    EDGES,
    N_CELLS,
    OPS,
    arch_string,
    cell_index,
    live_inputs,
    live_ops,
    network_key,
    network_representatives,
    ops_of_index,
)

cells = st.integers(0, N_CELLS - 1)


def brute_force_has_path(ops: tuple[str, ...]) -> bool:
    """Enumerate the four input-to-output paths of the cell."""
    on = {e for e, op in zip(EDGES, ops, strict=True) if op != "none"}
    paths = [[(3, 0)], [(1, 0), (3, 1)], [(2, 0), (3, 2)], [(1, 0), (2, 1), (3, 2)]]
    return any(all(e in on for e in p) for p in paths)


def test_registered_and_static() -> None:
    assert "nb201" in list_spaces("network")
    space = create_space("nb201", num_classes=100)
    study = optuna.create_study()
    arch = space.suggest(study.ask())
    assert isinstance(arch, NB201Architecture)
    assert space.from_params(space.to_params(arch)) == arch
    assert NB201Architecture.from_dict(arch.to_dict()) == arch
    with pytest.raises(SpaceError, match="token sequences"):
        create_space("nb201", vocab_size=10)


@given(index=cells)
def test_index_and_string_round_trip(index: int) -> None:
    ops = ops_of_index(index)
    assert cell_index(ops) == index
    assert NB201Architecture.from_string(arch_string(ops)).index == index


def test_known_strings() -> None:
    resnet = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    arch = NB201Architecture.from_string(resnet)
    assert arch.ops == ("nor_conv_3x3", "none", "nor_conv_3x3", "skip_connect", "none", "nor_conv_3x3")
    assert arch.index == int("303103", 5) and arch.summary() == resnet
    for bad in ("|none~0|+|none~0|", "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
                "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"):
        with pytest.raises(SpaceError):
            NB201Architecture.from_string(bad)


def test_live_edges_match_path_enumeration() -> None:
    for ops in itertools.product(("none", "skip_connect"), repeat=6):
        plan = dict(live_inputs(ops))
        assert (3 in plan) == brute_force_has_path(ops)
        for j, ins in plan.items():  # a live edge lies on some input-to-output path
            for i in ins:
                assert ops[EDGES.index((j, i))] != "none"


def swap_inner_nodes(ops: tuple[str, ...]) -> tuple[str, ...]:
    """Nodes 1 and 2 renamed (valid when edge 2 <- 1 is none): e10 <-> e20, e31 <-> e32."""
    by = dict(zip(EDGES, ops, strict=True))
    swapped = {(1, 0): by[(2, 0)], (2, 0): by[(1, 0)], (2, 1): "none", (3, 0): by[(3, 0)], (3, 1): by[(3, 2)],
               (3, 2): by[(3, 1)]}
    return tuple(swapped[e] for e in EDGES)


def rows_as_multiset(space, index: int) -> list[tuple[float, ...]]:
    w = space.layers(NB201Architecture.from_index(index))
    return sorted(map(tuple, np.stack(w.columns(), axis=1).tolist()))


def test_network_classes() -> None:
    """7,055 distinct networks; the no-path cells (by enumeration) are exactly the zero class."""
    rep = network_representatives()
    assert len(np.unique(rep)) == 7055 and np.all(rep <= np.arange(N_CELLS))
    zero = [i for i in range(N_CELLS) if not brute_force_has_path(ops_of_index(i))]
    assert len(zero) == 341 and set(np.flatnonzero(rep == rep[zero[0]])) == set(zero)
    space = create_space("nb201")
    resnet = NB201Architecture.from_string("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|"
                                           "nor_conv_3x3~2|")
    canon = space.canonical(resnet)
    assert canon.index == rep[resnet.index] and space.canonical(canon) == canon and has_equivalents(space)
    assert not has_equivalents(create_space("cnn"))


@settings(max_examples=40, deadline=None)
@given(index=cells)
def test_network_key_is_what_the_cell_computes(index: int) -> None:
    """Cells with one key give the same rows (as a multiset: names and order aside); dead edges and swapped
    inner nodes do not change the key."""
    ops = ops_of_index(index)
    assert network_key(live_ops(ops)) == network_key(ops)
    if ops[EDGES.index((2, 1))] == "none":
        assert network_key(swap_inner_nodes(ops)) == network_key(ops)
    space = create_space("nb201")
    rep = int(network_representatives()[index])
    assert rows_as_multiset(space, index) == rows_as_multiset(space, rep)
    assert space.layers(NB201Architecture(live_ops(ops))).names == space.layers(NB201Architecture(ops)).names


def test_different_keys_are_different_networks() -> None:
    """The key keeps a shared tensor apart from two copies: conv(x) + pool(conv(x)) with one convolution or two."""
    shared = ("nor_conv_3x3", "none", "skip_connect", "none", "skip_connect", "avg_pool_3x3")
    copies = ("nor_conv_3x3", "nor_conv_3x3", "none", "none", "skip_connect", "avg_pool_3x3")
    assert network_key(shared) != network_key(copies)
    space = create_space("nb201")
    assert (space.layers(NB201Architecture(shared)).total_params
            < space.layers(NB201Architecture(copies)).total_params)


torch = pytest.importorskip("torch")
from nas_edge.workload import Workload  # noqa: E402
from nas_edge.workload.table import COLUMNS  # noqa: E402

# stratified: cut cells, cells with dead convolutions, pooling-only, every op on every edge, then random ones
SAMPLE = ["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
          "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|none~2|",
          "|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|",
          "|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|",
          *(arch_string((op,) * 6) for op in OPS[1:4])]


def check_against_torch(space, arch: NB201Architecture) -> None:
    analytic = space.layers(arch)
    module = space.build(arch)
    traced = Workload.from_torch(module, space.example_input())
    assert len(analytic) == len(traced), (arch.summary(), analytic.names, traced.names)
    for col in COLUMNS:
        np.testing.assert_array_equal(getattr(analytic, col), getattr(traced, col), err_msg=f"{col} {arch.summary()}")
    assert space.param_count(arch) == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("text", SAMPLE)
def test_layers_equal_from_torch_stratified(text: str) -> None:
    check_against_torch(create_space("nb201"), NB201Architecture.from_string(text))


@settings(max_examples=6, deadline=None)
@given(index=cells, imagenet=st.booleans())
def test_layers_equal_from_torch_random(index: int, imagenet: bool) -> None:
    kw = {"input_shape": (3, 16, 16), "num_classes": 120} if imagenet else {}
    check_against_torch(create_space("nb201", **kw), NB201Architecture.from_index(index))


def nas_bench_201_forward(cell, x):
    """NAS-Bench-201's own cell forward: every edge computed, ``none`` gives ``x * 0``, nodes are sums."""
    nodes = [x]
    for j in (1, 2, 3):
        total = 0
        for i in range(j):
            key = f"e{j}{i}"
            total = total + (cell.layers[key](nodes[i]) if key in cell.layers else nodes[i].mul(0.0))
        nodes.append(total)
    return nodes[3]


@pytest.mark.parametrize("text", SAMPLE[:4])
def test_pruned_forward_equals_the_full_cell(text: str) -> None:
    """Running only the live edges changes nothing: the dead ones add exactly zero to the output."""
    from nas_edge.spaces._nn_nb201 import Cell

    torch.manual_seed(0)
    cell = Cell(NB201Architecture.from_string(text).ops, 4).eval()
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(cell(x), nas_bench_201_forward(cell, x))

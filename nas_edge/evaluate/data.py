"""Datasets for evaluation: the built-in ``digits`` and ``listops``, a user ``.npz`` file, or
``package.module:function``.

Everything becomes a :class:`Data` of NumPy arrays (small data, short training: it fits in memory).
Images are ``(N, C, H, W)`` floats (``(N, H, W)`` gains a channel axis); token sequences are ``(N, L)``
integers (``vocab_size`` = largest id + 1). Labels are integer classes ``0..num_classes-1``; labels that leave
most class ids unused (one label of 5·10⁷ among ten classes) are refused rather than made into a layer of
that many outputs. Loading ``digits`` or a file needs no torch; a function returning torch datasets does.

``package.module:function`` imports and runs code: only a spec the user gave runs it. A spec read back from a
study file is data, not an instruction (``load_data(spec, run_code=False)``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas_edge.errors import NasEdgeError

ARRAYS = ("x_train", "y_train", "x_val", "y_val")
_FUNC_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
MAX_UNUSED_CLASSES = 100  # unused class ids tolerated beyond half of them (labels 0..C-1 need not all appear)


class DataError(NasEdgeError, ValueError):
    """A dataset that cannot be used, with the reason."""


@dataclass(frozen=True, eq=False)
class Data:
    """Train and validation arrays plus what a search space needs to know about them."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int
    vocab_size: int | None = None

    @property
    def kind(self) -> str:
        return "tokens" if self.vocab_size is not None else "images"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.x_train.shape[1:])

    def space_kwargs(self) -> dict[str, Any]:
        """Constructor options that fit a network space to this data."""
        kw: dict[str, Any] = {"input_shape": self.input_shape, "num_classes": self.num_classes}
        if self.vocab_size is not None:
            kw["vocab_size"] = self.vocab_size
        return kw

    def __repr__(self) -> str:
        vocab = f", vocab_size={self.vocab_size}" if self.vocab_size is not None else ""
        return (f"Data({self.name!r}: {len(self.y_train)} train / {len(self.y_val)} val {self.kind}, input_shape="
                f"{self.input_shape}, num_classes={self.num_classes}{vocab})")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "input_shape": list(self.input_shape),
                "num_classes": self.num_classes, "vocab_size": self.vocab_size,
                "train": len(self.y_train), "val": len(self.y_val)}

    @functools.cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the four arrays (dtype, shape, values): the same data gives the same fingerprint,
        whatever it is called."""
        h = hashlib.sha256()
        for key in ARRAYS:
            a = np.ascontiguousarray(getattr(self, key))
            h.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
            h.update(a.tobytes())
        return h.hexdigest()


def input_stats(x_train: np.ndarray, limit: int | None = None) -> tuple[float, float]:
    """Mean and std of the (first ``limit``) training inputs: images are standardised with these, in training
    (:func:`nas_edge.evaluate.train.tensors`), in the analog simulation and in the exported ONNX file."""
    xt = x_train[:limit]
    # in float64: float32 sums overflow for large inputs (digits x 3e38 gave NaN tensors and 10 % accuracy)
    return float(xt.mean(dtype=np.float64)), float(xt.std(dtype=np.float64)) or 1.0


def from_arrays(name: str, x_train: Any, y_train: Any, x_val: Any, y_val: Any) -> Data:
    """Check and normalise four arrays (shapes, dtypes, labels) into :class:`Data`."""
    xs = {"x_train": np.asarray(x_train), "x_val": np.asarray(x_val)}
    ys = {"y_train": np.asarray(y_train), "y_val": np.asarray(y_val)}
    for key, y in ys.items():
        if y.ndim != 1:
            raise DataError(f"{name}: {key} must be a 1-D array of class labels, got shape {y.shape}")
        if y.size == 0:
            raise DataError(f"{name}: {key} is empty")
        if not (np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating)
                                                       and np.all(np.mod(y, 1) == 0))):
            raise DataError(f"{name}: {key} must hold integer class labels, got dtype {y.dtype}")
        if y.min() < 0:
            raise DataError(f"{name}: {key} has negative labels")
    for split in ("train", "val"):
        x, y = xs[f"x_{split}"], ys[f"y_{split}"]
        if x.ndim == 0 or len(x) != len(y):
            raise DataError(f"{name}: x_{split} has {len(x) if x.ndim else 0} samples but y_{split} has {len(y)}")
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise DataError(f"{name}: x_{split} must be numeric, got dtype {x.dtype}")
    xt, xv = xs["x_train"], xs["x_val"]
    if xt.shape[1:] != xv.shape[1:]:
        raise DataError(f"{name}: x_train samples have shape {xt.shape[1:]} but x_val samples {xv.shape[1:]}")
    vocab: int | None = None
    if xt.ndim == 2 and np.issubdtype(xt.dtype, np.integer):
        if min(xt.min(), xv.min()) < 0:
            raise DataError(f"{name}: token ids must be >= 0")
        vocab = int(max(xt.max(), xv.max())) + 1
        xt, xv = xt.astype(np.int64), xv.astype(np.int64)
    elif xt.ndim in (3, 4):
        if xt.ndim == 3:
            xt, xv = xt[:, None], xv[:, None]
        xt, xv = xt.astype(np.float32), xv.astype(np.float32)
        if not (np.all(np.isfinite(xt)) and np.all(np.isfinite(xv))):
            raise DataError(f"{name}: images contain NaN or infinite values")
    else:
        raise DataError(f"{name}: x_train has shape {xt.shape} ({xt.dtype}); expected images (N, C, H, W) or "
                        "(N, H, W), or integer token sequences (N, L)")
    num_classes = int(max(int(ys["y_train"].max()), int(ys["y_val"].max()))) + 1
    if num_classes < 2:
        raise DataError(f"{name}: need at least 2 classes, the labels have {num_classes}")
    seen = len(np.union1d(np.unique(ys["y_train"]), np.unique(ys["y_val"])))
    if num_classes > 2 * seen and num_classes > seen + MAX_UNUSED_CLASSES:
        raise DataError(f"{name}: labels run up to {num_classes - 1} but only {seen} distinct classes appear; "
                        f"expected labels 0..C-1 (renumber them), not a {num_classes}-class output layer")
    return Data(name=name, x_train=np.ascontiguousarray(xt), y_train=ys["y_train"].astype(np.int64),
                x_val=np.ascontiguousarray(xv), y_val=ys["y_val"].astype(np.int64), num_classes=num_classes,
                vocab_size=vocab)


def digits(*, val_fraction: float = 0.2, seed: int = 0) -> Data:
    """scikit-learn's 8x8 handwritten digits (1797 images, 10 classes), a stratified seeded split, in [0, 1]."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:  # pragma: no cover - scikit-learn is in the torch extra
        raise DataError("the 'digits' dataset needs scikit-learn (pip install 'nas-edge[torch]')") from None
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)
    xt, xv, yt, yv = train_test_split(x, bunch.target, test_size=val_fraction, random_state=seed,
                                      stratify=bunch.target)
    return from_arrays("digits", xt, yt, xv, yv)


LISTOPS_TOKENS = ("<pad>", *"0123456789", "[MAX", "[MIN", "[MED", "[SM", "]")
"""ListOps vocabulary: id 0 pads, 1-10 are the digits 0-9, 11-14 open an operator, 15 closes it."""


@functools.lru_cache(maxsize=4)
def listops(*, n_train: int = 4000, n_val: int = 1000, length: int = 64, max_depth: int = 3, max_args: int = 5,
            seed: int = 0) -> Data:
    """ListOps (Nangia & Bowman 2018), generated here: nested ``[MAX`` / ``[MIN`` / ``[MED`` (median, rounded
    down) / ``[SM`` (sum modulo 10) expressions over the digits 0-9, e.g. ``[MAX 2 9 [MIN 4 7 ] 0 ]`` = 9; the
    label is the value (10 classes). Token sequences of ``length`` ids (:data:`LISTOPS_TOKENS`, padded with 0
    at the end; longer expressions are drawn again), operators nested up to ``max_depth`` deep with 2 to
    ``max_args`` arguments, an argument a digit with probability 0.25 below the top level. The defaults give
    4000 training and 1000 validation sequences of 64 tokens, the same ones on every call (``seed``).
    """
    rng = np.random.default_rng(seed)
    n = n_train + n_val
    x = np.zeros((n, length), dtype=np.int64)
    y = np.zeros(n, dtype=np.int64)
    i = 0
    while i < n:
        tokens: list[int] = []
        value = _listops_tree(rng, tokens, 0, max_depth, max_args)
        if len(tokens) <= length:
            x[i, :len(tokens)], y[i] = tokens, value
            i += 1
    return from_arrays("listops", x[:n_train], y[:n_train], x[n_train:], y[n_train:])


def _listops_tree(rng: np.random.Generator, out: list[int], depth: int, max_depth: int, max_args: int) -> int:
    """Append one (sub)expression's token ids to ``out``; return its value."""
    if depth > 0 and (depth >= max_depth or rng.random() < 0.25):
        digit = int(rng.integers(10))
        out.append(1 + digit)
        return digit
    op = int(rng.integers(4))
    out.append(11 + op)
    args = [_listops_tree(rng, out, depth + 1, max_depth, max_args) for _ in range(int(rng.integers(2, max_args + 1)))]
    out.append(15)
    if op == 0:
        return max(args)
    if op == 1:
        return min(args)
    if op == 2:
        return int(np.median(args))
    return sum(args) % 10


def from_npz(path: str | Path) -> Data:
    """A ``.npz`` file with ``x_train, y_train, x_val, y_val``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such dataset file")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ARRAYS if k not in f.files]
            if missing:
                raise DataError(f"{path}: missing arrays {', '.join(missing)} (found: "
                                f"{', '.join(f.files) or 'none'}); expected {', '.join(ARRAYS)}")
            arrays = {k: f[k] for k in ARRAYS}
    except DataError:
        raise
    except Exception as exc:  # zip / format errors: not an npz file
        raise DataError(f"{path}: cannot read as .npz ({exc})") from None
    return from_arrays(str(path), *(arrays[k] for k in ARRAYS))


def from_function(spec: str) -> Data:
    """``package.module:function``: a function of no arguments returning ``(train_dataset, val_dataset)``,
    map-style torch datasets whose items are ``(x, label)``."""
    module_name, _, func_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:
        raise DataError(f"{spec}: cannot import module {module_name!r} ({type(exc).__name__}: {exc})") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise DataError(f"{spec}: module {module_name!r} has no function {func_name!r}")
    result = _user_call(spec, "the function", func)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise DataError(f"{spec}: returned {type(result).__name__}; expected a pair (train_dataset, val_dataset)")
    arrays: list[np.ndarray] = []
    for split, ds in zip(("train", "val"), result, strict=True):
        arrays.extend(_dataset_arrays(spec, split, ds))
    return from_arrays(spec, *arrays)


def _user_call(spec: str, what: str, func: Any, *args: Any) -> Any:
    """Call into the user's dataset code: whatever it raises — ``SystemExit`` too, which would otherwise end a
    search silently with status 0 — is one :class:`DataError` line (Ctrl-C still stops)."""
    try:
        return func(*args)
    except (Exception, SystemExit) as exc:
        detail = f": {exc}" if str(exc) else ""
        raise DataError(f"{spec}: {what} raised {type(exc).__name__}{detail}") from None


def _plain_item(x: Any, y: Any) -> tuple[np.ndarray, Any]:
    """An item's input as an array and its label as a Python scalar (tensors converted)."""
    return (x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)), (y.item() if hasattr(y, "item")
                                                                                   else y)


def _dataset_arrays(spec: str, split: str, ds: Any) -> tuple[np.ndarray, np.ndarray]:
    if not (hasattr(ds, "__len__") and hasattr(ds, "__getitem__")):
        raise DataError(f"{spec}: the {split} dataset is a {type(ds).__name__}; expected a map-style torch "
                        "Dataset (with __len__ and __getitem__)")
    n = _user_call(spec, f"len() of the {split} dataset", len, ds)
    if n == 0:
        raise DataError(f"{spec}: the {split} dataset is empty")
    xs: list[Any] = []
    ys: list[Any] = []
    for i in range(n):
        item = _user_call(spec, f"{split} item {i}", ds.__getitem__, i)
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise DataError(f"{spec}: {split} item {i} is {type(item).__name__}; expected (x, label)")
        x, y = _user_call(spec, f"{split} item {i}", _plain_item, *item)
        if not isinstance(y, (int, np.integer)) or isinstance(y, bool):
            raise DataError(f"{spec}: {split} item {i} has label {y!r}; expected an integer class")
        if xs and x.shape != xs[0].shape:
            raise DataError(f"{spec}: {split} item {i} has shape {x.shape}, item 0 has {xs[0].shape}")
        xs.append(x)
        ys.append(int(y))
    return np.stack(xs), np.asarray(ys)  # the labels' range is checked by from_arrays


def load_data(spec: str | Data, *, seed: int = 0, run_code: bool = True) -> Data:
    """``"digits"``, ``"listops"`` (fixed, whatever ``seed``), a path to a ``.npz`` file, or
    ``"package.module:function"``; a :class:`Data` passes.

    ``run_code=False`` for a spec that did not come from the user (a study file's record of its dataset): a
    ``module:function`` there is refused instead of imported and called."""
    if isinstance(spec, Data):
        return spec
    spec = str(spec)
    if spec == "digits":
        return digits(seed=seed)
    if spec == "listops":
        return listops()
    if spec.endswith(".npz") or Path(spec).is_file():
        return from_npz(spec)
    if _FUNC_RE.match(spec):
        if not run_code:
            raise DataError(f"the dataset {spec!r} is a function to import and run; a study file cannot make "
                            "nas-edge run code: give it yourself with --data")
        return from_function(spec)
    raise DataError(f"unknown dataset {spec!r}; expected 'digits', 'listops', a .npz file with "
                    f"{', '.join(ARRAYS)}, or package.module:function")

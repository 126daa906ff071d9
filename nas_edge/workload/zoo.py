"""Reference networks as hand-written layer lists (no torch): VGG-8 (NeuroSim's benchmark) and ResNet-18."""

from __future__ import annotations

from typing import Any

from nas_edge.workload.table import Workload


def _conv(name: str, cin: int, cout: int, size: int, kernel: int = 3, stride: int = 1) -> dict[str, Any]:
    return {"type": "conv", "name": name, "in_channels": cin, "out_channels": cout, "kernel": kernel,
            "in_size": size, "stride": stride, "padding": kernel // 2}


def vgg8(*, input_size: int = 32, classes: int = 10, with_digital: bool = True) -> Workload:
    """VGG-8 as in NeuroSim's CIFAR-10 benchmark: six 3x3 convs (three 2x2 max-pools), two FC layers.

    616 M MACs (1.2318 GOP at 2 ops per MAC) at 32x32 input.
    """
    layers: list[dict[str, Any]] = []
    plan = [(3, 128, False), (128, 128, True), (128, 256, False), (256, 256, True), (256, 512, False),
            (512, 512, True)]
    size = input_size
    for i, (cin, cout, pool) in enumerate(plan, start=1):
        layers.append(_conv(f"conv{i}", cin, cout, size))
        if with_digital:
            layers.append({"type": "elementwise", "name": f"relu{i}", "elements": cout * size * size})
        if pool:
            if with_digital:
                layers.append({"type": "pool", "name": f"pool{i}", "elements": cout * (size // 2) ** 2,
                               "ops_per_element": 4, "in_elements": cout * size * size})
            size //= 2
    layers.append({"type": "linear", "name": "fc1", "in_features": 512 * size * size, "out_features": 1024})
    if with_digital:
        layers.append({"type": "elementwise", "name": "relu7", "elements": 1024})
    layers.append({"type": "linear", "name": "fc2", "in_features": 1024, "out_features": classes})
    return Workload.from_layers(layers, meta={"network": "vgg8", "input_size": input_size})


def resnet18(*, input_size: int = 224, classes: int = 1000, with_digital: bool = True) -> Workload:
    """ResNet-18 (He et al. 2016): 1.82 G MACs and 11.7 M parameters at 224x224."""
    layers: list[dict[str, Any]] = [_conv("conv1", 3, 64, input_size, kernel=7, stride=2)]
    size = (input_size + 1) // 2
    if with_digital:
        layers.append({"type": "norm", "name": "bn1", "elements": 64 * size * size, "ops_per_element": 2})
        layers.append({"type": "elementwise", "name": "relu1", "elements": 64 * size * size})
    pooled = (size + 1) // 2
    if with_digital:
        layers.append({"type": "pool", "name": "maxpool", "elements": 64 * pooled * pooled, "ops_per_element": 9,
                       "in_elements": 64 * size * size})
    size, cin = pooled, 64
    for stage, cout in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            prefix = f"layer{stage}.{block}"
            out = (size - 1) // stride + 1
            layers.append(_conv(f"{prefix}.conv1", cin, cout, size, stride=stride))
            layers.append(_conv(f"{prefix}.conv2", cout, cout, out))
            if stride != 1 or cin != cout:
                layers.append(_conv(f"{prefix}.downsample", cin, cout, size, kernel=1, stride=stride))
            if with_digital:
                e = cout * out * out
                layers += [{"type": "norm", "name": f"{prefix}.bn", "elements": 2 * e, "ops_per_element": 2},
                           {"type": "elementwise", "name": f"{prefix}.add_relu", "elements": e,
                            "ops_per_element": 3}]
            size, cin = out, cout
    if with_digital:
        layers.append({"type": "pool", "name": "avgpool", "elements": 512, "in_elements": 512 * size * size,
                       "ops_per_element": size * size})
    layers.append({"type": "linear", "name": "fc", "in_features": 512, "out_features": classes})
    return Workload.from_layers(layers, meta={"network": "resnet18", "input_size": input_size})

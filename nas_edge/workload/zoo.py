"""Reference networks as hand-written layer lists (no torch): VGG-8 (NeuroSim's benchmark), ResNet-18 and
MobileNetV2.

Each follows the fusion convention of :mod:`nas_edge.workload._fuse`, so that it equals, row for row and
column for column, ``Workload.from_torch`` and ``Workload.from_onnx`` of the same network built by
:mod:`nas_edge.models` (``tests/test_workload_sources.py``): batch norms, biases and ReLU-type activations
after a convolution or linear layer have no row, a pooling that directly follows one joins it (the layer
writes the pooled outputs), residual adds and the ReLU after them are element-wise rows. Row names are the
module paths of the PyTorch builders, so that the three sources can be read side by side.
"""

from __future__ import annotations

from typing import Any

from nas_edge.workload.table import Workload, conv_out_size

Layer = dict[str, Any]


def _conv(name: str, cin: int, cout: int, size: int, kernel: int = 3, stride: int = 1, groups: int = 1,
          pooled: int | None = None) -> Layer:
    layer: Layer = {"type": "conv", "name": name, "in_channels": cin, "out_channels": cout, "kernel": kernel,
                    "in_size": size, "stride": stride, "padding": kernel // 2, "groups": groups}
    if pooled is not None:
        layer["pooled_size"] = pooled
    return layer


def _out(size: int, kernel: int, stride: int) -> int:
    return conv_out_size(size, kernel, stride, kernel // 2, 1)


def _add_relu(name: str, elements: int, relu: bool = True) -> list[Layer]:
    """A residual add of two activations (and the ReLU after it): element-wise rows."""
    rows: list[Layer] = [{"type": "elementwise", "name": name, "elements": elements, "in_elements": 2 * elements}]
    if relu:
        rows.append({"type": "elementwise", "name": f"{name}.relu", "elements": elements})
    return rows


def vgg8(*, input_size: int = 32, classes: int = 10) -> Workload:
    """VGG-8 as in NeuroSim's CIFAR-10 benchmark: six 3x3 convs (three 2x2 max-pools), two FC layers.

    616 M MACs (1.2318 GOP at 2 ops per MAC) at 32x32 input; 8 rows, NeuroSim's ``NetWork_VGG8.csv``
    layer for layer (a max-pool joins the conv before it).
    """
    layers: list[Layer] = []
    plan = [(3, 128, False), (128, 128, True), (128, 256, False), (256, 256, True), (256, 512, False),
            (512, 512, True)]
    size, index = input_size, 0
    for cin, cout, pool in plan:
        layers.append(_conv(f"features.{index}", cin, cout, size, pooled=size // 2 if pool else None))
        index += 3 if pool else 2
        size = size // 2 if pool else size
    layers.append({"type": "linear", "name": "classifier.0", "in_features": 512 * size * size, "out_features": 1024})
    layers.append({"type": "linear", "name": "classifier.2", "in_features": 1024, "out_features": classes})
    return Workload.from_layers(layers, meta={"network": "vgg8", "input_size": input_size})


def resnet18(*, input_size: int = 224, classes: int = 1000) -> Workload:
    """ResNet-18 (He et al. 2016): 1.82 G MACs and 11.7 M parameters at 224x224."""
    size = _out(input_size, 7, 2)
    pooled = (size + 2 - 3) // 2 + 1  # 3x3 max-pool, stride 2, padding 1
    layers: list[Layer] = [_conv("conv1", 3, 64, input_size, kernel=7, stride=2, pooled=pooled)]
    size, cin = pooled, 64
    for stage, cout in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            prefix = f"layer{stage}.{block}"
            out = _out(size, 3, stride)
            layers.append(_conv(f"{prefix}.conv1", cin, cout, size, stride=stride))
            layers.append(_conv(f"{prefix}.conv2", cout, cout, out))
            if stride != 1 or cin != cout:
                layers.append(_conv(f"{prefix}.downsample.0", cin, cout, size, kernel=1, stride=stride))
            layers += _add_relu(prefix, cout * out * out)
            size, cin = out, cout
    layers.append({"type": "pool", "name": "avgpool", "elements": 512, "in_elements": 512 * size * size,
                   "ops_per_element": size * size})
    layers.append({"type": "linear", "name": "fc", "in_features": 512, "out_features": classes})
    return Workload.from_layers(layers, meta={"network": "resnet18", "input_size": input_size})


#: MobileNetV2's stages: expansion t, output channels c, repeats n, first stride s (Sandler et al., Table 2)
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))


def mobilenet_v2(*, input_size: int = 224, classes: int = 1000) -> Workload:
    """MobileNetV2 at width 1.0 (Sandler et al. 2018): 300 M MACs and 3.5 M parameters at 224x224."""
    layers: list[Layer] = [_conv("features.0.0", 3, 32, input_size, stride=2)]
    size, cin, index = _out(input_size, 3, 2), 32, 1
    for t, c, n, s in MOBILENET_V2:
        for i in range(n):
            stride, hidden, prefix = s if i == 0 else 1, cin * t, f"features.{index}.conv"
            j = 0
            if t != 1:
                layers.append(_conv(f"{prefix}.0.0", cin, hidden, size, kernel=1))
                j = 1
            out = _out(size, 3, stride)
            layers.append(_conv(f"{prefix}.{j}.0", hidden, hidden, size, stride=stride, groups=hidden))
            layers.append(_conv(f"{prefix}.{j + 1}.0", hidden, c, out, kernel=1))
            if stride == 1 and cin == c:
                layers += _add_relu(f"features.{index}", c * out * out, relu=False)
            size, cin, index = out, c, index + 1
    layers.append(_conv(f"features.{index}.0", cin, 1280, size, kernel=1, pooled=1))  # global average pool
    layers.append({"type": "linear", "name": "classifier.1", "in_features": 1280, "out_features": classes})
    return Workload.from_layers(layers, meta={"network": "mobilenet_v2", "input_size": input_size})

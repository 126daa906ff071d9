"""VGG-8 for CIFAR-10 as in DNN+NeuroSim's benchmark: six 3x3 convs, three 2x2 max-pools, two FC layers."""

from __future__ import annotations

import torch
from torch import nn


class VGG8(nn.Module):
    def __init__(self, num_classes: int = 10, input_size: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for cout, pool in ((128, False), (128, True), (256, False), (256, True), (512, False), (512, True)):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]
            if pool:
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.features = nn.Sequential(*layers)
        side = input_size // 8
        self.classifier = nn.Sequential(nn.Linear(512 * side * side, 1024), nn.ReLU(inplace=True),
                                        nn.Linear(1024, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def vgg8(num_classes: int = 10, input_size: int = 32) -> VGG8:
    return VGG8(num_classes, input_size)

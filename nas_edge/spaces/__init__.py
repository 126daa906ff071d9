"""Search spaces behind one interface and a registry: ``create_space("cnn", ...)``, ``list_spaces()``.

Network spaces (``cnn``, ``transformer``, ``nb201``) map an Optuna trial to an :class:`Architecture`, an architecture
to a :class:`~nas_edge.workload.Workload` (analytic, no torch) and to a ``torch.nn.Module``; the
``hardware`` space proposes the knobs of an IMC profile in the same trial. Importing this package does not
import torch.
"""

from nas_edge.spaces.base import (
    Architecture,
    NetworkSpace,
    SearchSpace,
    SpaceError,
    create_space,
    get_space_class,
    has_equivalents,
    json_safe,
    list_spaces,
    register_space,
)
from nas_edge.spaces.cnn import CNNArchitecture, CNNSpace, Stage
from nas_edge.spaces.hardware import HardwareChoice, HardwareSpace
from nas_edge.spaces.nb201 import NB201Architecture, NB201Space
from nas_edge.spaces.transformer import TransformerArchitecture, TransformerSpace

__all__ = [
    "Architecture", "CNNArchitecture", "CNNSpace", "HardwareChoice", "HardwareSpace", "NB201Architecture",
    "NB201Space", "NetworkSpace",
    "SearchSpace", "SpaceError", "Stage", "TransformerArchitecture", "TransformerSpace", "create_space",
    "get_space_class", "has_equivalents", "json_safe", "list_spaces", "register_space",
]

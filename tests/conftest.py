import sys
from pathlib import Path

# tests import their helpers (reference_cost, strategies) as top-level modules
sys.path.insert(0, str(Path(__file__).parent))


import pytest


@pytest.fixture(scope="module")
def torch_one_thread():
    """Small tensors on a shared 2-core machine: one torch thread is fastest (and deterministic)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)

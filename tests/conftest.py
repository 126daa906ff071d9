import os
import sys
from pathlib import Path

from hypothesis import settings

# tests import their helpers (reference_cost, strategies) as top-level modules
sys.path.insert(0, str(Path(__file__).parent))

# "repeatable" (make test, CI): the same examples on every run, no timing deadlines on a shared 2-core machine.
# "fuzz" (make fuzz): fresh random examples (1000 where a test does not fix its count) to hunt for broken rules.
settings.register_profile("repeatable", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("fuzz", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def torch_one_thread():
    """Small tensors on a shared 2-core machine: one torch thread is fastest (and deterministic)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)

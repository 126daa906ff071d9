"""OptunaHub package ``samplers/hw_screening``: :class:`HWScreeningSampler`.

The implementation lives in ``nas_edge.samplers`` (it needs only NumPy, SciPy and Optuna), so the sampler is
importable from an installed nas-edge (``from nas_edge.samplers import HWScreeningSampler``) and from this
package alike. Loaded from a checkout where nas-edge is not installed, the checkout's own ``nas_edge`` is used.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from nas_edge.samplers import HWScreeningSampler
except ModuleNotFoundError as exc:  # a checkout without `pip install`: plugins/samplers/hw_screening -> root
    if exc.name not in ("nas_edge", "nas_edge.samplers"):
        raise
    _root = Path(__file__).resolve().parents[3]
    if not (_root / "nas_edge" / "samplers" / "__init__.py").is_file():
        raise ImportError("samplers/hw_screening needs nas-edge: `pip install nas-edge` (or load it from a "
                          "nas-edge checkout)") from None
    sys.path.insert(0, str(_root))
    from nas_edge.samplers import HWScreeningSampler

__all__ = ["HWScreeningSampler"]

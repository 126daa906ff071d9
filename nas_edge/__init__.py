"""nas-edge: hardware-aware neural architecture search for in-memory-computing and edge devices."""

__version__ = "0.1.0"

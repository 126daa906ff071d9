"""Built-in hardware profiles (YAML), installed as package data of ``nas_edge.hardware_profiles``."""

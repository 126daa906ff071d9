"""Hardware profiles: schema, loading (built-in names or files, with ``base`` inheritance), JSON Schema."""

from nas_edge.hardware.adc import ADCFigures, adc_figures, lossless_adc_bits
from nas_edge.hardware.loader import (
    Profile,
    ProfileError,
    builtin_names,
    json_schema,
    load_profile,
    profile_from_dict,
    profile_to_dict,
)
from nas_edge.hardware.schema import DigitalProfile, IMCProfile

__all__ = [
    "ADCFigures",
    "DigitalProfile",
    "IMCProfile",
    "Profile",
    "ProfileError",
    "adc_figures",
    "builtin_names",
    "json_schema",
    "load_profile",
    "lossless_adc_bits",
    "profile_from_dict",
    "profile_to_dict",
]

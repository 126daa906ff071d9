"""What the ONNX adapter's modules share: op-type sets, attribute and shape readers, the conv output shape.

Kept free of the walker and of shape inference so that both can import it (one direction:
``onnx_adapter`` -> ``_onnx_walk`` / ``_onnx_shapes`` -> this module).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

STD_DOMAINS = ("", "ai.onnx")
MS = "com.microsoft"
KEEP_VALUE_ELEMS = 4096  # integer initializers up to this size keep their values for data propagation

FREE_OPS = frozenset(("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Optional",
                      "OptionalGetElement", "OptionalHasElement"))
SHAPE_OPS = frozenset(("Shape", "Size"))
RANDOM_OPS = frozenset(("RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                        "Bernoulli", "Multinomial"))
CONTROL_OPS = frozenset(("If", "Loop", "Scan"))


def attr(node: Any, name: str, default: Any = None) -> Any:
    """An attribute's value (bytes decoded to str), or ``default``."""
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            v = helper.get_attribute_value(a)
            return v.decode() if isinstance(v, bytes) else v
    return default


def value_dims(value_info: Any) -> list[int | str | None] | None:
    """A value info's dimensions: ints, symbol names, or ``None`` for unknown; ``None`` without a shape."""
    t = value_info.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    out: list[int | str | None] = []
    for d in t.tensor_type.shape.dim:
        if d.HasField("dim_value") and d.dim_value >= 0:
            out.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            out.append(d.dim_param)
        else:
            out.append(None)
    return out


def conv_attrs(node: Any) -> dict[str, Any]:
    """A Conv / ConvTranspose node's attributes as :func:`conv_output_shape` keywords."""
    return {"strides": attr(node, "strides"), "pads": attr(node, "pads"), "dilations": attr(node, "dilations"),
            "auto_pad": str(attr(node, "auto_pad", "NOTSET")), "output_padding": attr(node, "output_padding"),
            "output_shape": attr(node, "output_shape"), "kernel_shape": attr(node, "kernel_shape")}


def conv_output_shape(x: Sequence[int], w: Sequence[int], groups: int = 1, *, transposed: bool = False,
                      strides: Sequence[int] | None = None, pads: Sequence[int] | None = None,
                      dilations: Sequence[int] | None = None, auto_pad: str = "NOTSET",
                      output_padding: Sequence[int] | None = None, output_shape: Sequence[int] | None = None,
                      kernel_shape: Sequence[int] | None = None) -> tuple[int, ...]:
    """Output shape of ONNX ``Conv`` / ``ConvTranspose`` from the input and weight shapes and attributes."""
    nd = len(x) - 2
    ks = list(kernel_shape or w[2:])
    s = list(strides or [1] * nd)
    d = list(dilations or [1] * nd)
    p = list(pads or [0] * (2 * nd))
    op = list(output_padding or [0] * nd)
    cout = w[1] * groups if transposed else w[0]
    spatial = []
    for i in range(nd):
        eff = (ks[i] - 1) * d[i] + 1
        if transposed:
            if output_shape:
                spatial.append(int(output_shape[-nd + i]))
            elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
                spatial.append(x[2 + i] * s[i])
            else:
                spatial.append(s[i] * (x[2 + i] - 1) + op[i] + eff - p[i] - p[i + nd])
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            spatial.append(-(-x[2 + i] // s[i]))
        elif auto_pad == "VALID":
            spatial.append((x[2 + i] - eff) // s[i] + 1)
        else:
            spatial.append((x[2 + i] + p[i] + p[i + nd] - eff) // s[i] + 1)
    if min(spatial, default=1) < 1:
        raise ValueError(f"convolution output would be empty ({spatial})")
    return (x[0], cout, *spatial)

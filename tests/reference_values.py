"""Plain-Python reference of the value-aware energy factors (nas_edge.cost.values), used only by tests.

Written element by element from the rules in the module docstring: every value quantised on its own, its bit
pattern written out as a string, the levels read off that string.
"""

from __future__ import annotations

from nas_edge.cost.values import LayerValues


def _signed_code(v: float, scale: float, bits: int) -> int:
    top = 2 ** (bits - 1) - 1 if bits > 1 else 0
    low = -top - 1 if bits > 1 else -1
    return max(low, min(top, round(v / scale * top)))


def input_code(v: float, x_max: float, signed: bool, bits: int) -> int:
    scale = x_max if x_max > 0 else 1.0
    if not signed:
        top = 2**bits - 1
        return max(0, min(top, round(v / scale * top)))
    q = _signed_code(v, scale, bits)
    return q + 2**bits if q < 0 else q  # two's complement pattern


def levels(code: int, bits: int, chunk: int) -> list[int]:
    """Levels of ``code`` read ``chunk`` bits at a time from the least significant end (``bits`` in all)."""
    lsb_first = format(code, f"0{bits}b")[::-1]
    return [int(lsb_first[i:i + chunk][::-1], 2) for i in range(0, bits, chunk)]


def cell_levels(w: float, w_max: float, weight_bits: int, cell_bits: int, mapping: str) -> list[int]:
    """Levels of every cell one weight occupies (both columns of a differential pair)."""
    scale = w_max if w_max > 0 else 1.0
    q = max(-1, min(1, round(w / scale))) if weight_bits == 1 else _signed_code(w, scale, weight_bits)
    if mapping == "offset":
        code = max(0, min(2**weight_bits - 1, q + 2 ** (weight_bits - 1)))
        return levels(code, weight_bits, cell_bits)
    mag_bits = max(1, weight_bits - 1)
    mag = min(abs(q), 2**mag_bits - 1)
    cells = levels(mag, mag_bits, cell_bits)
    return cells + [0] * len(cells) if mapping == "differential" else cells


def layer_factors(v: LayerValues, input_bits: int, dac_bits: int, weight_bits: int, cell_bits: int,
                  mapping: str) -> tuple[float, float]:
    samples, channels = len(v.inputs), len(v.inputs[0])
    rho_channel = []
    for c in range(channels):
        lv = [lev for s in range(samples)
              for lev in levels(input_code(float(v.inputs[s][c]), v.input_max, v.input_signed, input_bits),
                                input_bits, dac_bits)]
        rho_channel.append(sum(lv) / len(lv) / (2**dac_bits - 1))
    groups, outputs, rows = v.weight.shape
    w_max = max(abs(float(x)) for x in v.weight.flat)
    per_group = channels // groups
    dac_sum = cell_sum = 0.0
    for g in range(groups):
        for r in range(rows):
            rho_in = rho_channel[g * per_group + r // v.rows_per_channel]
            cells = [lev for o in range(outputs)
                     for lev in cell_levels(float(v.weight[g, o, r]), w_max, weight_bits, cell_bits, mapping)]
            rho_w = sum(cells) / len(cells) / (2**cell_bits - 1)
            dac_sum += rho_in
            cell_sum += rho_in * rho_w
    n = groups * rows
    random_w = 0.25 if mapping == "differential" else 0.5
    return dac_sum / n / 0.5, cell_sum / n / (0.5 * random_w)

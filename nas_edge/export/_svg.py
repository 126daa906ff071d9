"""Tiny inline-SVG charts for the self-contained HTML report (no plotting library, no network resources)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering ``[lo, hi]`` (1, 2, 2.5, 5 x 10^k steps)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi < lo:
        lo, hi = hi, lo
    scale = max(abs(lo), abs(hi))
    if hi - lo <= max(scale * 1e-9, 1e-300):  # one value, or a span too thin to label (or to divide)
        pad = scale * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, count)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * mag >= raw)
    first, last = math.floor(lo / step), math.ceil(hi / step)
    return [float(f"{k * step:.12g}") for k in range(first, last + 1)]


def fmt_num(v: float) -> str:
    """Compact number for axis labels and tables."""
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.2e}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.3g}"
    return f"{v:.3g}"


class _Frame:
    """Maps data to pixels inside a plot area with margins for axes."""

    def __init__(self, xs: Sequence[float], ys: Sequence[float], width: int, height: int) -> None:
        self.w, self.h = width, height
        self.left, self.right, self.top, self.bottom = 64, 16, 42, 46  # title, then legend, above the plot
        self.xt = nice_ticks(min(xs), max(xs)) if xs else [0.0, 1.0]
        self.yt = nice_ticks(min(ys), max(ys)) if ys else [0.0, 1.0]

    def x(self, v: float) -> float:
        lo, hi = self.xt[0], self.xt[-1]
        return self.left + (v - lo) / ((hi - lo) or 1.0) * (self.w - self.left - self.right)

    def y(self, v: float) -> float:
        lo, hi = self.yt[0], self.yt[-1]
        return self.h - self.bottom - (v - lo) / ((hi - lo) or 1.0) * (self.h - self.top - self.bottom)

    def axes(self, x_label: str, y_label: str, title: str) -> list[str]:
        out = [f'<rect x="{self.left}" y="{self.top}" width="{self.w - self.left - self.right}" '
               f'height="{self.h - self.top - self.bottom}" fill="#fafafa" stroke="#999"/>']
        for t in self.xt:
            px = self.x(t)
            out.append(f'<line x1="{px:.1f}" y1="{self.top}" x2="{px:.1f}" y2="{self.h - self.bottom}" '
                       'stroke="#e4e4e4"/>')
            out.append(f'<text x="{px:.1f}" y="{self.h - self.bottom + 14}" text-anchor="middle">{fmt_num(t)}</text>')
        for t in self.yt:
            py = self.y(t)
            out.append(f'<line x1="{self.left}" y1="{py:.1f}" x2="{self.w - self.right}" y2="{py:.1f}" '
                       'stroke="#e4e4e4"/>')
            out.append(f'<text x="{self.left - 4}" y="{py + 4:.1f}" text-anchor="end">{fmt_num(t)}</text>')
        out.append(f'<text x="{(self.left + self.w - self.right) / 2:.1f}" y="{self.h - 8}" '
                   f'text-anchor="middle">{escape(x_label)}</text>')
        out.append(f'<text x="12" y="{(self.top + self.h - self.bottom) / 2:.1f}" text-anchor="middle" '
                   f'transform="rotate(-90 12 {(self.top + self.h - self.bottom) / 2:.1f})">{escape(y_label)}</text>')
        out.append(f'<text x="4" y="16" font-weight="bold">{escape(title)}</text>')
        return out


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (f'<svg role="img" aria-label="{escape(label)}" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">'
            + "".join(body) + "</svg>")


def front_2d(points: Sequence[tuple[float, float, str]], *, x_min: bool = True, y_min: bool = True) -> list[str]:
    """Labels of the points no other point dominates in this 2-D projection (``x_min`` / ``y_min``: whether
    smaller is better on that axis); a duplicate point keeps its first label."""
    sx, sy = (1.0 if x_min else -1.0), (1.0 if y_min else -1.0)
    pts = sorted(((sx * x, sy * y, i) for i, (x, y, _) in enumerate(points)
                  if math.isfinite(x) and math.isfinite(y)))
    out, best_y = [], math.inf
    for _x, y, i in pts:  # by x ascending: a point is on the front when it beats every y seen so far
        if y < best_y:
            out.append(points[i][2])
            best_y = y
    return out


def _staircase(fr: _Frame, pts: Sequence[tuple[float, float]]) -> str:
    """SVG path of the attainment surface through front points sorted by x (horizontal, then vertical)."""
    d = [f"M{fr.x(pts[0][0]):.1f},{fr.y(pts[0][1]):.1f}"]
    for x, y in pts[1:]:
        d.append(f"H{fr.x(x):.1f} V{fr.y(y):.1f}")
    return " ".join(d)


def _legend(body: list[str], items: Sequence[tuple[str, str]], right: float) -> None:
    x = right
    for name, color in reversed(items):  # right-aligned, in order
        x -= 16 + 6.2 * len(name)
        body.append(f'<rect x="{x:.0f}" y="23" width="9" height="9" fill="{color}"/>'
                    f'<text x="{x + 13:.0f}" y="31">{escape(name)}</text>')


def scatter_svg(
    points: Sequence[tuple[float, float, str]],
    *,
    x_label: str,
    y_label: str,
    title: str = "",
    highlight: Sequence[str] = (),
    front: Sequence[str] = (),
    line: Sequence[str] = (),
    front_label: str = "Pareto front",
    line_label: str = "front of this projection",
    width: int = 560,
    height: int = 360,
) -> str:
    """Scatter of ``(x, y, label)``: labels in ``front`` drawn as front markers, those in ``line`` joined by a
    staircase (the attainment surface; give it the projection's own front, :func:`front_2d`, so that no line
    runs through points dominated in this view), those in ``highlight`` as large red marks with their label."""
    pts = [(float(x), float(y), str(lab)) for x, y, lab in points if math.isfinite(x) and math.isfinite(y)]
    fr = _Frame([p[0] for p in pts], [p[1] for p in pts], width, height)
    body = fr.axes(x_label, y_label, title)
    front_set, hi_set, line_set = set(front), set(highlight), set(line)
    lpts = sorted((p[:2] for p in pts if p[2] in line_set), key=lambda p: (p[0], p[1]))
    if len(lpts) > 1:
        body.append(f'<path class="front-line" d="{_staircase(fr, lpts)}" fill="none" stroke="{PALETTE[1]}" '
                    'stroke-width="1.5" stroke-dasharray="4 3"/>')
    for x, y, lab in pts:
        if lab in hi_set:
            continue
        on_front = lab in front_set
        color = PALETTE[1] if on_front else PALETTE[0]
        cls = ' class="front"' if on_front else ""
        body.append(f'<circle cx="{fr.x(x):.1f}" cy="{fr.y(y):.1f}" r="{4.5 if on_front else 3.5}" fill="{color}" '
                    f'fill-opacity="0.8"{cls}>'
                    f'<title>{escape(lab)}: ({fmt_num(x)}, {fmt_num(y)})</title></circle>')
    for x, y, lab in pts:
        if lab in hi_set:
            px, py = fr.x(x), fr.y(y)
            body.append(f'<path class="chosen" d="M{px - 7:.1f},{py:.1f} L{px:.1f},{py - 7:.1f} L{px + 7:.1f},'
                        f'{py:.1f} L{px:.1f},{py + 7:.1f} Z" fill="{PALETTE[2]}" stroke="#000" stroke-width="0.8">'
                        f'<title>{escape(lab)} (chosen): ({fmt_num(x)}, {fmt_num(y)})</title></path>')
            body.append(f'<text x="{px + 9:.1f}" y="{py - 6:.1f}" fill="{PALETTE[2]}">{escape(lab)}</text>')
    legend = [("trial", PALETTE[0]), (front_label, PALETTE[1])]
    if line and set(line) != front_set:
        legend.append((f"- - {line_label}", PALETTE[1]))
    if hi_set:
        legend.append(("chosen", PALETTE[2]))
    _legend(body, legend, width - fr.right)
    return _svg(width, height, body, title or f"{y_label} vs {x_label}")


def line_svg(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    x_label: str,
    y_label: str,
    title: str = "",
    step: bool = False,
    markers: bool = True,
    bands: Mapping[str, Sequence[tuple[float, float, float]]] | None = None,
    width: int = 560,
    height: int = 300,
) -> str:
    """One line per named series of ``(x, y)`` points (sorted by x); ``step``: a step line (the value holds
    until the next point: best-so-far curves); ``bands``: per series, ``(x, low, high)`` drawn as a shaded band.
    Non-finite points are left out (a plain line has a gap there). The one line chart of the reports (study
    history, benchmark curves)."""
    given = {name: sorted((float(x), float(y)) for x, y in pts if math.isfinite(x)) for name, pts in series.items()}
    clean = {name: [(x, y) for x, y in pts if math.isfinite(y)] for name, pts in given.items()}
    shade = {name: sorted((float(x), float(lo), float(hi)) for x, lo, hi in pts
                          if math.isfinite(x) and math.isfinite(lo) and math.isfinite(hi))
             for name, pts in (bands or {}).items()}
    xs = [x for pts in clean.values() for x, _ in pts]
    ys = [y for pts in clean.values() for _, y in pts] + [v for pts in shade.values() for _, lo, hi in pts
                                                          for v in (lo, hi)]
    fr = _Frame(xs, ys, width, height)
    body = fr.axes(x_label, y_label, title)
    for j, (name, pts) in enumerate(clean.items()):
        if not pts:
            continue
        color = PALETTE[j % len(PALETTE)]
        band = shade.get(name)
        if band:
            outline = [f"{fr.x(x):.1f},{fr.y(hi):.1f}" for x, _, hi in band]
            outline += [f"{fr.x(x):.1f},{fr.y(lo):.1f}" for x, lo, _ in reversed(band)]
            body.append(f'<polygon points="{" ".join(outline)}" fill="{color}" fill-opacity="0.15" stroke="none"/>')
        if step:
            d = _staircase(fr, pts)
        else:  # a missing value leaves a gap
            moves, gap = [], True
            for x, y in given[name]:
                if not math.isfinite(y):
                    gap = True
                    continue
                moves.append(f"{'M' if gap else 'L'}{fr.x(x):.1f},{fr.y(y):.1f}")
                gap = False
            d = " ".join(moves)
        body.append(f'<path class="series" d="{d}" fill="none" stroke="{color}" stroke-width="1.8"/>')
        if markers:
            body += [f'<circle cx="{fr.x(x):.1f}" cy="{fr.y(y):.1f}" r="2.5" fill="{color}">'
                     f'<title>{escape(name)}: ({fmt_num(x)}, {fmt_num(y)})</title></circle>' for x, y in pts]
    if len(clean) > 1:
        _legend(body, [(n, PALETTE[j % len(PALETTE)]) for j, n in enumerate(clean)], width - fr.right)
    return _svg(width, height, body, title or f"{y_label} vs {x_label}")


def bars_svg(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    unit: str = "",
    stacked: bool = False,
    width: int = 640,
    bar_height: int = 14,
) -> str:
    """Horizontal bars, one row per label: grouped (one bar per series) or stacked."""
    names = list(series)
    rows = len(labels)
    per_row = bar_height if stacked else bar_height * max(1, len(names))
    label_w = min(220, 8 + 6 * max((len(s) for s in labels), default=4))
    top, bottom = 26, 30 + 16 * ((len(names) + 3) // 4)
    height = top + bottom + rows * (per_row + 6)
    totals = [sum(max(0.0, float(series[n][i])) for n in names) if stacked
              else max((max(0.0, float(series[n][i])) for n in names), default=0.0) for i in range(rows)]
    vmax = max(totals, default=0.0) or 1.0
    ticks = nice_ticks(0.0, vmax, 4)
    scale = (width - label_w - 20) / (ticks[-1] or 1.0)
    body = [f'<text x="4" y="16" font-weight="bold">{escape(title)}{f" ({escape(unit)})" if unit else ""}</text>']
    for t in ticks:
        px = label_w + t * scale
        body.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{height - bottom + 4}" stroke="#e4e4e4"/>'
                    f'<text x="{px:.1f}" y="{height - bottom + 16}" text-anchor="middle">{fmt_num(t)}</text>')
    for i, lab in enumerate(labels):
        y0 = top + i * (per_row + 6)
        body.append(f'<text x="{label_w - 4}" y="{y0 + per_row / 2 + 4:.1f}" text-anchor="end">{escape(lab)}</text>')
        acc = 0.0
        for j, n in enumerate(names):
            v = max(0.0, float(series[n][i]))
            x = label_w + (acc if stacked else 0.0) * scale
            y = y0 if stacked else y0 + j * bar_height
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{max(0.0, v * scale):.1f}" height="{bar_height - 2}" '
                        f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(lab)} / {escape(n)}: {fmt_num(v)}'
                        f'{" " + escape(unit) if unit else ""}</title></rect>')
            if stacked:
                acc += v
    ly = height - bottom + 28
    for j, n in enumerate(names):
        lx = label_w + (j % 4) * 140
        yy = ly + 16 * (j // 4)
        body.append(f'<rect x="{lx}" y="{yy - 9}" width="9" height="9" fill="{PALETTE[j % len(PALETTE)]}"/>'
                    f'<text x="{lx + 13}" y="{yy}">{escape(n)}</text>')
    return _svg(width, height, body, title or "bar chart")


def lines_svg(
    series: Mapping[str, Sequence[Sequence[float]]],
    *,
    x_label: str,
    y_label: str,
    title: str = "",
    width: int = 640,
    height: int = 380,
) -> str:
    """One line per series ``name -> (xs, ys)`` or ``(xs, ys, low, high)`` (with a shaded band from ``low`` to
    ``high``): :func:`line_svg` without markers; non-finite values are left out."""
    return line_svg({n: list(zip(s[0], s[1], strict=True)) for n, s in series.items()},
                    bands={n: list(zip(s[0], s[2], s[3], strict=True)) for n, s in series.items() if len(s) == 4},
                    x_label=x_label, y_label=y_label, title=title, markers=False, width=width, height=height)

"""A small SVG toolkit for the report: number formats, primitives and the few layouts the charts share.

Everything returns strings (SVG fragments) so a chart is a plain function of its data and can be tested without a
browser. Every text and attribute is escaped here, so text that comes from the database cannot break the markup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#e4e7eb"
AXIS = "#9aa5b1"
FALLBACK_COLOR = "#9aa3ae"

# Average advance of one character, in px, per text class: enough to reserve room for labels without a browser.
CHAR_PX = {"value": 6.6, "tick": 6.2, "legend": 6.6, "total": 5.8, "label": 7.0}

# --------------------------------------------------------------------------------------------------------------
# Numbers and labels
# --------------------------------------------------------------------------------------------------------------


def num(value: float) -> str:
    """A coordinate for an SVG attribute: short, no trailing zeros."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def integer(value: Any) -> str:
    """A count with thousands separators; ``None`` counts as zero."""
    return f"{int(value or 0):,}"


def pct(value: Any, digits: int = 1) -> str:
    """A 0-1 share as a percentage; ``None`` as a dash."""
    return "–" if value is None else f"{float(value) * 100:.{digits}f}%"


def compact(value: float) -> str:
    """1234567 -> 1.23M, 83456 -> 83.5k, 950 -> 950."""
    v = abs(value)
    sign = "-" if value < 0 else ""
    if v >= 1e6:
        return f"{sign}{v / 1e6:.3g}M"
    if v >= 1e3:
        return f"{sign}{v / 1e3:.3g}k"
    return f"{sign}{v:.0f}"


def money(value: Any, currency: str | None, *, short: bool = True, digits: int = 0) -> str:
    """An amount with its currency in front ("USD 1.23M"); without a currency, the bare number.

    ``short`` gives the compact form for chart labels, otherwise ``digits`` decimals with separators
    ("USD 800,000"). ``None`` is a dash: an unknown amount has no unit to show.
    """
    if value is None:
        return "–"
    amount = compact(float(value)) if short else f"{float(value):,.{digits}f}"
    return f"{currency} {amount}" if currency else amount


def with_unit(label: str, currency: str | None) -> str:
    """An axis or panel title with its currency: "net revenue, USD"."""
    return f"{label}, {currency}" if currency else label


def signed(value: Any, digits: int = 1) -> str:
    """A number with its sign (+12.5, -3.0, 0.0); ``None`` as a dash."""
    if value is None:
        return "–"
    text = f"{float(value):+.{digits}f}"
    return text[1:] if float(text) == 0 else text


def month_label(value: Any) -> str:
    """Jan 26 for a date; anything else as text."""
    return value.strftime("%b %y") if isinstance(value, date) else str(value)


def ordered(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    """The distinct ``values``, those in ``preferred`` first in that order, the others sorted after them."""
    seen = list(dict.fromkeys(values))
    first = [v for v in dict.fromkeys(preferred) if v in seen]
    return first + sorted(v for v in seen if v not in first)


def text_width(content: str, cls: str = "value") -> float:
    """Estimated width of a text in px, for layout decisions made before any browser sees the page."""
    return len(content) * CHAR_PX.get(cls, 6.6)


def ticks(vmax: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``vmax``."""
    vmax = vmax if vmax > 0 else 1
    raw = vmax / count
    exponent = 10 ** math.floor(math.log10(raw))
    step = 10 * exponent
    for mult in (1, 2, 2.5, 5, 10):
        if raw / exponent <= mult + 1e-9:
            step = mult * exponent
            break
    n = math.ceil(vmax / step - 1e-9)
    return [i * step for i in range(n + 1)]


def blend(c1: str, c2: str, t: float) -> str:
    """The colour a share ``t`` (clamped to 0-1) of the way from ``c1`` to ``c2``."""
    a = [int(c1[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(c2[i : i + 2], 16) for i in (1, 3, 5)]
    t = min(max(t, 0.0), 1.0)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def ramp(stops: Sequence[str], t: float) -> str:
    """The colour at ``t`` (clamped to 0-1) along evenly spaced colour ``stops``."""
    t = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    return blend(stops[i], stops[i + 1], t - i)


def is_dark(color: str) -> bool:
    """Whether white text reads better than ink on this fill (relative luminance below one half)."""
    r, g, b = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5


# --------------------------------------------------------------------------------------------------------------
# Primitives
# --------------------------------------------------------------------------------------------------------------


def attrs(values: dict[str, Any]) -> str:
    """SVG attributes from keyword-style names (``text_anchor`` -> ``text-anchor``, ``class_`` -> ``class``)."""
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        rendered = num(value) if isinstance(value, float) else str(value)
        parts.append(f'{name}="{escape(rendered)}"')
    return " ".join(parts)


def text(x: float, y: float, content: str, *, anchor: str = "start", cls: str = "", **extra: Any) -> str:
    return (
        f"<text {attrs({'x': float(x), 'y': float(y), 'text_anchor': anchor, 'class': cls or None, **extra})}>"
        f"{escape(content)}</text>"
    )


def rect(x: float, y: float, w: float, h: float, fill: str, *, title: str | None = None, **extra: Any) -> str:
    """A rectangle; ``title`` becomes its tooltip."""
    a = attrs(
        {
            "x": float(x),
            "y": float(y),
            "width": float(max(w, 0)),
            "height": float(max(h, 0)),
            "fill": fill,
            **extra,
        }
    )
    if title:
        return f"<rect {a}><title>{escape(title)}</title></rect>"
    return f"<rect {a}/>"


def line(x1: float, y1: float, x2: float, y2: float, stroke: str = GRID, **extra: Any) -> str:
    coords = {"x1": float(x1), "y1": float(y1), "x2": float(x2), "y2": float(y2)}
    return f"<line {attrs({**coords, 'stroke': stroke, **extra})}/>"


def svg(width: float, height: float, label: str, body: Iterable[str]) -> str:
    """The outer element: a fixed viewBox that the page scales to the figure's width."""
    w, h = num(float(width)), num(float(height))
    return (
        f'<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{escape(label)}">'
        + "".join(body)
        + "</svg>"
    )


def legend(x: float, y: float, items: Sequence[tuple[str, str]]) -> list[str]:
    """A horizontal legend of colour swatches."""
    out: list[str] = []
    for name, color in items:
        out.append(rect(x, y - 9, 11, 11, color, rx=2))
        out.append(text(x + 16, y, name, cls="legend"))
        x += 30 + text_width(name, "legend")
    return out


def placeholder(width: float, height: float, message: str, *, x: float = 0, y: float = 0) -> list[str]:
    """A dashed box with a centred message: drawn instead of a chart that has no data."""
    return [
        rect(x + 1, y + 1, width - 2, height - 2, "#f8f9fa", rx=6, stroke=AXIS, stroke_dasharray="5 4"),
        text(x + width / 2, y + height / 2 + 4, message, anchor="middle", cls="empty"),
    ]


def empty_chart(width: float, height: float, message: str) -> str:
    """A whole chart that only says why it has nothing to show."""
    return svg(width, height, message, placeholder(width, height, message))


# --------------------------------------------------------------------------------------------------------------
# Shared layouts
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Bar:
    """One horizontal bar: ``value`` None draws ``label_text`` as a note instead of a bar."""

    label: str
    value: float | None
    color: str
    label_text: str
    title: str
    label_cls: str = "value"


def hbar_panel(
    bars: Sequence[Bar],
    *,
    x0: float,
    width: float,
    top: float,
    row_h: float,
    domain: tuple[float, float],
    tick_values: Sequence[float],
    tick_fmt: Callable[[float], str],
    axis_label: str,
    bar_h: float = 18,
) -> list[str]:
    """Horizontal bars in one panel, with grid, tick labels, value labels and an axis label below."""
    lo, hi = domain
    span = hi - lo or 1.0

    def sx(v: float) -> float:
        return x0 + (v - lo) / span * width

    bottom = top + row_h * len(bars)
    out = []
    for t in tick_values:
        out.append(line(sx(t), top - 4, sx(t), bottom, GRID))
        out.append(text(sx(t), bottom + 14, tick_fmt(t), anchor="middle", cls="tick"))
    zero = sx(max(lo, 0.0))
    out.append(line(zero, top - 4, zero, bottom, AXIS))
    out.append(text(x0 + width / 2, bottom + 32, axis_label, anchor="middle", cls="axis"))
    for i, bar in enumerate(bars):
        y = top + i * row_h + (row_h - bar_h) / 2
        mid = y + bar_h / 2 + 4
        if bar.value is None:
            out.append(text(zero + 6, mid, bar.label_text, cls="note"))
            continue
        end = sx(bar.value)
        left, right = min(zero, end), max(zero, end)
        out.append(rect(left, y, right - left, bar_h, bar.color, title=bar.title, rx=2))
        if bar.value < 0:
            out.append(text(left - 5, mid, bar.label_text, anchor="end", cls=bar.label_cls))
        else:
            out.append(text(right + 5, mid, bar.label_text, cls=bar.label_cls))
    return out


def row_labels(
    labels: Sequence[str], *, x: float, top: float, row_h: float, subs: Sequence[str] = ()
) -> list[str]:
    """Right-aligned row labels, each with an optional smaller line below."""
    out = []
    for i, label in enumerate(labels):
        mid = top + i * row_h + row_h / 2
        if subs and subs[i]:
            out.append(text(x, mid - 1, label, anchor="end", cls="label"))
            out.append(text(x, mid + 11, subs[i], anchor="end", cls="sub"))
        else:
            out.append(text(x, mid + 4, label, anchor="end", cls="label"))
    return out


@dataclass
class Plot:
    """A plot area with a vertical value axis from zero to the last tick: maps values to y and draws the axis."""

    left: float
    top: float
    width: float
    height: float
    tick_values: Sequence[float]

    @property
    def base(self) -> float:
        """The y of the zero line."""
        return self.top + self.height

    def y(self, value: float) -> float:
        return self.base - value / (self.tick_values[-1] or 1.0) * self.height

    def axis(self, fmt: Callable[[float], str], title: str) -> list[str]:
        """Grid lines and tick labels, the zero line, and the rotated axis title at the left edge."""
        out = []
        for t in self.tick_values:
            out.append(line(self.left, self.y(t), self.left + self.width, self.y(t), GRID))
            out.append(text(self.left - 8, self.y(t) + 4, fmt(t), anchor="end", cls="tick"))
        out.append(line(self.left, self.base, self.left + self.width, self.base, AXIS))
        mid = self.top + self.height / 2
        out.append(text(16, mid, title, anchor="middle", cls="axis", transform=f"rotate(-90 16 {num(mid)})"))
        return out

"""Small inline-SVG time charts for the HTML load-test report: no libraries, no scripts.

:func:`render_chart` draws one :class:`Chart` (several :class:`Line` series over a shared
time axis, as lines or as bars) with axes, "nice" tick labels (1, 2 or 5 times a power of
ten), a legend, shaded :class:`Band` intervals and vertical :class:`Marker` lines; bands and
markers carry a ``<title>`` tooltip. A ``None`` value leaves a gap in its line (a point
alone between gaps is drawn as a dot). The y axis starts at 0 and ends at the first tick
above the highest value (or at ``Chart.y_max``); values outside are clamped.

The SVG uses CSS classes (``axis``, ``gridline``, ``tick``, ``series``, ``band``,
``marker``) styled by :data:`CHART_CSS`, which the page must include. Example::

    chart = Chart(title="Throughput", y_unit="turns/s",
                  lines=(Line(label="turns/s", values=(40.0, None, 48.5), colour="#0969da"),))
    svg = render_chart(chart, t=(1.0, 2.0, 3.0), markers=(Marker(t=2.0, tip="abort"),))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from agentrt.loadtest._units import format_value

__all__ = ["CHART_CSS", "Band", "Chart", "Line", "Marker", "nice_step", "render_chart"]

CHART_CSS = """
svg{width:100%;height:auto;font:11px system-ui,sans-serif}
svg .axis{stroke:#57606a}svg .gridline{stroke:#eaeef2}svg .tick{fill:#57606a}
svg .series{fill:none;stroke-width:1.8;stroke-linejoin:round}
svg .band{fill:#cf222e;fill-opacity:.12}
svg .marker{stroke:#8250df;stroke-width:1.5;stroke-dasharray:4 3}
"""
"""The style rules for the classes :func:`render_chart` emits."""

_W, _H = 720, 230
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 14, 26, 34


@dataclass(frozen=True, kw_only=True)
class Line:
    """One series: ``values[i]`` is the value at ``t[i]`` in the chart's y unit, or ``None``."""

    label: str
    values: tuple[float | None, ...]
    colour: str = "#0969da"


@dataclass(frozen=True, kw_only=True)
class Chart:
    """A chart: its title (also the SVG's accessible label), y unit and series.

    ``bars=True`` draws each value as a bar over the interval that ends at its time
    (the first from 0); ``y_max`` fixes the top of the y axis (default: the first tick
    above the highest value plus 4 % headroom); ``whole=True`` keeps y ticks on whole
    numbers (for counts); ``x_label`` names the x axis (default ``"time (s)"``: a chart
    of anything else passes its own x values as ``t``).
    """

    title: str
    y_unit: str = ""
    x_label: str = "time (s)"
    lines: tuple[Line, ...] = ()
    bars: bool = False
    y_max: float | None = None
    whole: bool = False


@dataclass(frozen=True, kw_only=True)
class Band:
    """A shaded time interval ``[start, end]`` (seconds) with a tooltip."""

    start: float
    end: float
    tip: str = ""


@dataclass(frozen=True, kw_only=True)
class Marker:
    """A vertical line at time ``t`` (seconds) with a tooltip."""

    t: float
    tip: str = ""


@dataclass(frozen=True)
class _Frame:
    """Maps data coordinates (seconds, y units) to SVG pixels, clamping to the plot."""

    t_end: float
    y_top: float
    y_step: float

    def x(self, t: float) -> float:
        return _LEFT + (_W - _LEFT - _RIGHT) * min(max(t / self.t_end, 0.0), 1.0)

    def y(self, v: float) -> float:
        return _H - _BOTTOM - (_H - _TOP - _BOTTOM) * min(max(v / self.y_top, 0.0), 1.0)


def nice_step(span: float, ticks: int = 5) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about ``ticks`` ticks over
    ``span`` (``nice_step(87) == 20``); ``span`` must be positive."""
    raw = span / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1.0, 2.0, 5.0, 10.0) if m * magnitude >= raw * 0.999)


def _frame(chart: Chart, t: Sequence[float | None]) -> _Frame:
    t_end = max((x for x in t if x is not None), default=0.0)
    highest = chart.y_max
    if highest is None:
        values = (v for line in chart.lines for v in line.values if v is not None)
        highest = max(values, default=0.0) * 1.04
    highest = highest if highest > 0 else 1.0
    step = max(nice_step(highest), 1.0) if chart.whole else nice_step(highest)
    top = step * math.ceil(highest / step - 1e-9)
    return _Frame(t_end=t_end if t_end > 0 else 1.0, y_top=top, y_step=step)


def _ticks(top: float, step: float) -> list[float]:
    return [i * step for i in range(int(top / step + 1e-9) + 1)]


def _f(x: float) -> str:
    return f"{x:.1f}"


def _e(text: str) -> str:
    return escape(text, quote=True)


def _axes(frame: _Frame, y_unit: str, x_label: str = "time (s)") -> list[str]:
    x0, x1, y0 = _LEFT, _W - _RIGHT, _H - _BOTTOM
    parts = []
    for v in _ticks(frame.y_top, frame.y_step):
        y, label = _f(frame.y(v)), _e(format_value(v, None))
        parts.append(f'<line class="gridline" x1="{x0}" x2="{x1}" y1="{y}" y2="{y}"/>')
        parts.append(
            f'<text class="tick" x="{x0 - 6}" y="{y}" dy="4" text-anchor="end">{label}</text>'
        )
    for t in _ticks(frame.t_end, nice_step(frame.t_end, 8)):
        x, label = _f(frame.x(t)), _e(format_value(t, None))
        parts.append(f'<line class="axis" x1="{x}" x2="{x}" y1="{y0}" y2="{y0 + 4}"/>')
        parts.append(
            f'<text class="tick" x="{x}" y="{y0 + 16}" text-anchor="middle">{label}</text>'
        )
    parts.append(f'<line class="axis" x1="{x0}" x2="{x1}" y1="{y0}" y2="{y0}"/>')
    parts.append(f'<line class="axis" x1="{x0}" x2="{x0}" y1="{_TOP}" y2="{y0}"/>')
    parts.append(f'<text class="tick" x="4" y="{_TOP - 10}">{_e(y_unit)}</text>')
    parts.append(f'<text class="tick" x="{x1}" y="{_H - 3}" text-anchor="end">{_e(x_label)}</text>')
    return parts


def _path(frame: _Frame, t: Sequence[float | None], line: Line) -> list[str]:
    """The line as one path, broken where a value is missing; lone points as dots."""
    segments: list[list[tuple[float, float]]] = [[]]
    for ti, v in zip(t, line.values, strict=False):
        if ti is None or v is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append((frame.x(ti), frame.y(v)))
    colour = _e(line.colour)
    commands = [
        "M" + "L".join(f"{_f(x)},{_f(y)}" for x, y in seg) for seg in segments if len(seg) > 1
    ]
    parts = (
        [f'<path class="series" stroke="{colour}" d="{" ".join(commands)}"/>'] if commands else []
    )
    parts += [
        f'<circle cx="{_f(seg[0][0])}" cy="{_f(seg[0][1])}" r="2" fill="{colour}"/>'
        for seg in segments
        if len(seg) == 1
    ]
    return parts


def _bars(frame: _Frame, t: Sequence[float | None], line: Line) -> list[str]:
    """One bar per non-zero value, over the interval that ends at its sample time."""
    parts, previous = [], 0.0
    for ti, v in zip(t, line.values, strict=False):
        if ti is None:
            continue
        start, previous = previous, ti
        if not v:
            continue
        x0, x1 = frame.x(start + (ti - start) * 0.1), frame.x(ti - (ti - start) * 0.1)
        top, base = frame.y(v), frame.y(0.0)
        tip = f"{format_value(v, None)} {line.label} at {format_value(ti, None)} s"
        parts.append(
            f'<rect x="{_f(x0)}" y="{_f(top)}" width="{_f(max(x1 - x0, 1.0))}" '
            f'height="{_f(base - top)}" fill="{_e(line.colour)}"><title>{_e(tip)}</title></rect>'
        )
    return parts


def _legend(chart: Chart) -> list[str]:
    """Legend entries side by side in the top margin, right-aligned."""
    widths = [len(line.label) * 7 + 26 for line in chart.lines]
    x = _W - _RIGHT - sum(widths)
    parts = []
    for line, width in zip(chart.lines, widths, strict=True):
        parts.append(
            f'<rect x="{x}" y="{_TOP - 17}" width="14" height="4" fill="{_e(line.colour)}"/>'
        )
        parts.append(f'<text x="{x + 18}" y="{_TOP - 11}">{_e(line.label)}</text>')
        x += width
    return parts


def _bands(frame: _Frame, bands: Sequence[Band]) -> list[str]:
    return [
        f'<rect class="band" x="{_f(frame.x(b.start))}" y="{_TOP}" '
        f'width="{_f(max(frame.x(b.end) - frame.x(b.start), 1.0))}" '
        f'height="{_H - _TOP - _BOTTOM}"><title>{_e(b.tip)}</title></rect>'
        for b in bands
    ]


def _markers(frame: _Frame, markers: Sequence[Marker]) -> list[str]:
    return [
        f'<line class="marker" x1="{_f(frame.x(m.t))}" x2="{_f(frame.x(m.t))}" y1="{_TOP}" '
        f'y2="{_H - _BOTTOM}"><title>{_e(m.tip)}</title></line>'
        for m in markers
    ]


def render_chart(
    chart: Chart,
    t: Sequence[float | None],
    *,
    bands: Sequence[Band] = (),
    markers: Sequence[Marker] = (),
) -> str:
    """``chart`` as one inline ``<svg>`` element (a string), over sample times ``t``.

    The x axis runs from 0 to the last time in ``t`` (1 s when there is none). Samples
    whose time is ``None`` are skipped; lines shorter or longer than ``t`` are cut to the
    shorter. A chart without any value shows "no data" over its empty axes. Every text
    (title, labels, tooltips) is HTML-escaped. Never raises for finite inputs.
    """
    frame = _frame(chart, t)
    parts = [
        f'<svg viewBox="0 0 {_W} {_H}" role="img" aria-label="{_e(chart.title)}">',
        *_bands(frame, bands),
        *_axes(frame, chart.y_unit, chart.x_label),
    ]
    draw = _bars if chart.bars else _path
    for line in chart.lines:
        parts += draw(frame, t, line)
    if not any(v is not None for line in chart.lines for v in line.values):
        middle = f'x="{_W // 2}" y="{_H // 2}" text-anchor="middle"'
        parts.append(f'<text class="tick" {middle}>no data</text>')
    parts += _markers(frame, markers)
    parts += _legend(chart)
    parts.append("</svg>")
    return "\n".join(parts)

"""The HTML report of ``agentrt capacity``: the latency-versus-load curve with the knee
marked, the fits beside the measured points, the steps and the model; self-contained
(inline SVG from :mod:`agentrt.loadtest._svgchart`, no scripts, nothing fetched).

:func:`render_capacity_html` takes the JSON result (``agentrt.capacity/1``) and never
raises on a missing or malformed section (it renders a dash or an empty chart).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from agentrt.loadtest._svgchart import CHART_CSS, Chart, Line, Marker, render_chart
from agentrt.loadtest._units import format_value, number
from agentrt.redact import redacted

__all__ = ["render_capacity_html"]

_CSS = """
body{font:14px system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:980px;margin:auto;padding:16px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px;margin:12px 0}
table{border-collapse:collapse;width:100%}td,th{padding:3px 8px;border-bottom:1px solid #eaeef2;
text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37}.fail{color:#cf222e}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _steps(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    steps = result.get("steps")
    return [s for s in steps if isinstance(s, Mapping)] if isinstance(steps, list) else []


def _fig(step: Mapping[str, Any], name: str) -> float | None:
    figures = step.get("figures")
    return number(figures.get(name)) if isinstance(figures, Mapping) else None


def _curve(
    steps: Sequence[Mapping[str, Any]], x: str, y: str, scale: float = 1.0
) -> tuple[list[float], list[float | None]]:
    pts = sorted(
        (vx, vy * scale)
        for s in steps
        if (vx := _fig(s, x)) is not None and (vy := _fig(s, y)) is not None
    )
    return [p[0] for p in pts], [p[1] for p in pts]


def _fitted(fit: Any, xs: list[float], scale: float = 1.0) -> list[float | None]:
    if not isinstance(fit, Mapping):
        return [None] * len(xs)
    slope, intercept = number(fit.get("slope")), number(fit.get("intercept"))
    if slope is None or intercept is None:
        return [None] * len(xs)
    return [(intercept + slope * x) * scale for x in xs]


def _fit_chart(
    steps: Sequence[Mapping[str, Any]],
    data: tuple[str, str, Any],
    labels: tuple[str, str, str, str, str],
    *,
    scale: float = 1.0,
    markers: Sequence[Marker] = (),
) -> str:
    """One chart of figure ``y`` against figure ``x`` over the steps, beside the fitted
    line: ``data`` is ``(x, y, fit)``, ``labels`` ``(title, y unit, x label, measured
    label, fit label)``."""
    x, y, fit = data
    title, y_unit, x_label, measured, fitted = labels
    xs, ys = _curve(steps, x, y, scale)
    lines = (
        Line(label=measured, values=tuple(ys)),
        Line(label=fitted, values=tuple(_fitted(fit, xs, scale)), colour="#8250df"),
    )
    chart = Chart(title=title, y_unit=y_unit, x_label=x_label, lines=lines)
    return render_chart(chart, xs, markers=markers)


def _charts(result: Mapping[str, Any]) -> str:
    steps = _steps(result)
    model = result.get("model") if isinstance(result.get("model"), Mapping) else {}
    assert isinstance(model, Mapping)
    fits = model.get("fits") if isinstance(model.get("fits"), Mapping) else {}
    assert isinstance(fits, Mapping)
    knee = model.get("knee") if isinstance(model.get("knee"), Mapping) else None
    limit = number(result.get("p95_limit_s"))
    xs, p95 = _curve(steps, "turns_per_s", "response_p95")
    lines = [Line(label="response p95 (each step)", values=tuple(p95))]
    if limit is not None:
        lines.append(Line(label="p95 limit", values=tuple(limit for _ in xs), colour="#cf222e"))
    markers = []
    if knee is not None and (kx := number(knee.get("turns_per_s"))) is not None:
        agents = format_value(number(knee.get("agents")), "count")
        markers.append(Marker(t=kx, tip=f"knee: {format_value(kx, None)} turns/s, {agents} agents"))
    parts = [
        render_chart(
            Chart(title="Latency vs load", y_unit="s", x_label="turns/s", lines=tuple(lines)),
            xs,
            markers=markers,
        )
    ]
    parts.append(
        _fit_chart(
            steps,
            ("turns_per_s", "cpu_cores", fits.get("cpu_cores_vs_turns_per_s")),
            ("CPU vs load", "cores", "turns/s", "measured", "fit (CPU per turn)"),
            markers=markers,
        )
    )
    parts.append(
        _fit_chart(
            steps,
            ("agents", "rss_above_base", fits.get("rss_vs_agents")),
            (
                "Memory vs live agents",
                "MiB",
                "live agents",
                "RSS above base",
                "fit (bytes per live agent)",
            ),
            scale=1 / 1024**2,
        )
    )
    return "<section><h2>Curves</h2>" + "\n".join(parts) + "</section>"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{c}</td>' for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def _steps_section(result: Mapping[str, Any]) -> str:
    rows = []
    for s in _steps(result):
        ok = bool(s.get("passed"))
        rows.append(
            [
                _e(format_value(number(s.get("load")), None)),
                _e(format_value(_fig(s, "agents"), "count")),
                _e(format_value(_fig(s, "turns_per_s"), "1/s")),
                _e(format_value(_fig(s, "response_p95"), "s")),
                _e(format_value(_fig(s, "cpu_cores"), "cores")),
                _e(format_value(_fig(s, "rss_above_base"), "B")),
                _e("yes" if s.get("stable") else "no"),
                f'<span class="{"pass" if ok else "fail"}">{"pass" if ok else "fail"}</span>',
            ]
        )
    head = ["load", "agents", "turns/s", "p95", "CPU", "RSS above base", "stable", "thresholds"]
    return f"<section><h2>Steps (in the order run)</h2>{_table(head, rows)}</section>"


def _model_section(result: Mapping[str, Any]) -> str:
    model = result.get("model")
    if not isinstance(model, Mapping):
        return ""
    knee = model.get("knee") if isinstance(model.get("knee"), Mapping) else {}
    assert isinstance(knee, Mapping)
    rows = [
        ("knee: turns/s", format_value(number(knee.get("turns_per_s")), "1/s")),
        ("knee: live agents", format_value(number(knee.get("agents")), "count")),
        ("knee: response p95", format_value(number(knee.get("response_p95")), "s")),
        ("limiting resource", str(model.get("limiting_resource", "-"))),
        ("CPU per turn", format_value(number(model.get("cpu_per_turn_s")), "s")),
        ("bytes per live agent", format_value(number(model.get("bytes_per_live_agent")), "B")),
        (
            "bytes per passivated agent",
            format_value(number(model.get("bytes_per_passivated_agent")), "B"),
        ),
        ("LLM calls per turn", format_value(number(model.get("llm_calls_per_turn")), None)),
    ]
    body = _table(["figure", "value"], [[_e(a), _e(b)] for a, b in rows])
    return f"<section><h2>Model</h2>{body}</section>"


def render_capacity_html(result: Mapping[str, Any]) -> str:
    """The capacity result as one self-contained HTML page (see the module docs)."""
    result = redacted(result)
    name = _e((result.get("scenario") or {}).get("name", "capacity"))
    data = json.dumps(result, ensure_ascii=False, default=str)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{name} · capacity · agentrt</title>",
            f"<style>{_CSS}{CHART_CSS}</style></head><body><main>",
            f"<h1>Capacity of {name}</h1>",
            _model_section(result),
            _charts(result),
            _steps_section(result),
            f'<script type="application/json" id="agentrt-capacity">{data}</script>',
            "</main></body></html>",
            "",
        ]
    )

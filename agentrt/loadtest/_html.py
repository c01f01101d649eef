"""A load-test report as one self-contained HTML page: verdict, tables and charts.

:func:`render_html` turns a report (the dict the engine writes as ``report.json``) into an
HTML document with no external references: no scripts, fonts or styles are fetched, the
charts are inline SVG and the CSS is inline. The page shows, in order:

- the scenario, a PASSED/FAILED badge (and why the run was aborted), start time,
  duration and environment;
- the thresholds with ✓/✗, value and limit in their units;
- the key figures and the turn accounting (sent = answered + failed + lost);
- when the LLM response cache was used, its savings ("LLM cache saved $X (N tokens),
  hit ratio H") and a table of them per model;
- six charts over time: response percentiles (ms), throughput, active agents, RSS (MiB),
  errors per interval and cache hit ratio. Intervals between a ``redis_down`` and the
  next ``redis_up`` event are shaded (until the end when Redis never came back); other
  events are vertical lines whose tooltip names them;
- the events, and the whole report as JSON in
  ``<script type="application/json" id="agentrt-report">`` for tools to read back.

Every string taken from the report is HTML-escaped. Missing sections, empty series and
``None`` figures render as a dash or an empty chart rather than failing. The output depends
only on the report, so the same report always gives the same page. Example::

    write_html(report, Path("runs/smoke/report.html"))
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from agentrt.loadtest._svgchart import CHART_CSS, Band, Chart, Line, Marker, render_chart
from agentrt.loadtest._units import MISSING, format_value, llm_cache_line, number, unit_of
from agentrt.redact import redacted

__all__ = ["REPORT_SCRIPT_ID", "render_html", "write_html"]

REPORT_SCRIPT_ID = "agentrt-report"
"""The ``id`` of the ``<script type="application/json">`` element holding the report."""

_MIB = 1024.0**2
_OUTAGE_START, _OUTAGE_END = "redis_down", "redis_up"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
background:#f6f8fa;margin:0}
main{max-width:1500px;margin:0 auto;padding:20px 24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 8px}
section,header{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 18px;
margin-bottom:16px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-size:14px;
vertical-align:middle;margin-left:8px}
.pass{background:#1a7f37}.fail{background:#cf222e}
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
.muted{color:#57606a}.abort{color:#cf222e;font-weight:600}
table{border-collapse:collapse}td,th{padding:3px 12px 3px 0;text-align:left;
vertical-align:top}th{color:#57606a;font-weight:600;border-bottom:1px solid #d0d7de}
td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:13px}
.grid{display:flex;flex-wrap:wrap;gap:16px}.grid>section{flex:1 1 380px}
.charts{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;flex:1 1 640px;max-width:760px}figcaption{font-weight:600;margin-bottom:2px}
"""

_BLUE, _ORANGE, _RED, _GREEN, _PURPLE = "#0969da", "#d4a72c", "#cf222e", "#1a7f37", "#8250df"


@dataclass(frozen=True)
class _Event:
    t: float
    kind: str
    detail: str


def _verdict(report: Mapping[str, Any]) -> str:
    """PASSED when ``report["passed"]`` is ``True``; FAILED otherwise (also when missing)."""
    return "PASSED" if report.get("passed") is True else "FAILED"


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _section(report: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = report.get(key)
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# -- charts ---------------------------------------------------------------------------------


def _finite(value: Any) -> float | None:
    x = number(value)
    return x if x is not None and math.isfinite(x) else None


def _values(series: Mapping[str, Any], key: str, n: int, scale: float) -> tuple[float | None, ...]:
    """The first ``n`` values of ``series[key]`` times ``scale``; missing ones ``None``."""
    raw = _list(series.get(key))[:n]
    scaled = [None if (v := _finite(x)) is None else v * scale for x in raw]
    return (*scaled, *[None] * (n - len(scaled)))


def _line(series: Mapping[str, Any], n: int, spec: tuple[str, str, str, float]) -> Line:
    key, label, colour, scale = spec
    return Line(label=label, values=_values(series, key, n, scale), colour=colour)


def _charts(series: Mapping[str, Any], n: int) -> list[Chart]:
    """The seven charts of the page, from the report's ``series`` (``n`` samples)."""
    ms, mib, pct = 1000.0, 1.0 / _MIB, 100.0
    return [
        Chart(
            title="Response time percentiles",
            y_unit="ms",
            lines=tuple(
                _line(series, n, (f"response_{p}", p, colour, ms))
                for p, colour in (("p50", _BLUE), ("p95", _ORANGE), ("p99", _RED))
            ),
        ),
        Chart(
            title="Throughput",
            y_unit="turns/s",
            lines=(_line(series, n, ("turns_per_s", "turns/s", _BLUE, 1.0)),),
        ),
        Chart(
            title="Active agents",
            y_unit="agents",
            lines=(_line(series, n, ("active_agents", "agents", _GREEN, 1.0)),),
            whole=True,
        ),
        Chart(
            title="Memory (RSS)",
            y_unit="MiB",
            lines=(_line(series, n, ("rss_bytes", "RSS", _PURPLE, mib)),),
        ),
        Chart(
            title="Errors per interval",
            y_unit="turns",
            lines=(_line(series, n, ("errors", "failed turns", _RED, 1.0)),),
            bars=True,
            whole=True,
        ),
        Chart(
            title="Restarts per second",
            y_unit="restarts/s",
            lines=(_line(series, n, ("restarts_per_s", "agents' supervisor", _ORANGE, 1.0)),),
        ),
        Chart(
            title="Cache hit ratio",
            y_unit="%",
            lines=(_line(series, n, ("cache_hit_ratio", "hit ratio", _GREEN, pct)),),
            y_max=100.0,
        ),
    ]


def _events(report: Mapping[str, Any]) -> list[_Event]:
    """The well-formed events (finite numeric ``t``), sorted by time (stable)."""
    out = [
        _Event(t, str(entry.get("kind", "")), str(entry.get("detail") or ""))
        for entry in _list(report.get("events"))
        if isinstance(entry, Mapping) and (t := _finite(entry.get("t"))) is not None
    ]
    return sorted(out, key=lambda event: event.t)


def _outages(events: Sequence[_Event], end: float) -> list[Band]:
    """``redis_down`` to the next ``redis_up``; an outage never ended lasts to ``end``."""
    spans, down = [], None
    for event in events:
        if event.kind == _OUTAGE_START and down is None:
            down = event.t
        elif event.kind == _OUTAGE_END and down is not None:
            spans.append((down, event.t))
            down = None
    if down is not None:
        spans.append((down, max(end, down)))
    return [
        Band(
            start=a, end=b, tip=f"Redis down from {format_value(a, 's')} to {format_value(b, 's')}"
        )
        for a, b in spans
    ]


def _marker(event: _Event) -> Marker:
    tip = f"{format_value(event.t, 's')} · {event.kind}"
    return Marker(t=event.t, tip=f"{tip}: {event.detail}" if event.detail else tip)


def _charts_section(report: Mapping[str, Any]) -> str:
    series = _section(report, "series")
    t = [_finite(x) for x in _list(series.get("t"))]
    events = _events(report)
    bands = _outages(events, max([x for x in t if x is not None] + [e.t for e in events] + [0.0]))
    markers = [_marker(e) for e in events if e.kind not in (_OUTAGE_START, _OUTAGE_END)]
    figures = "\n".join(
        f"<figure><figcaption>{_e(c.title)}</figcaption>\n"
        f"{render_chart(c, t, bands=bands, markers=markers)}</figure>"
        for c in _charts(series, len(t))
    )
    return f'<section><h2>Over time</h2><div class="charts">\n{figures}</div></section>'


# -- tables -----------------------------------------------------------------------------------


def _header(report: Mapping[str, Any]) -> str:
    scenario = _section(report, "scenario")
    passed = report.get("passed") is True
    badge = f'<span class="badge {"pass" if passed else "fail"}">{_verdict(report)}</span>'
    parts = [f"<header><h1>{_e(scenario.get('name') or 'load test')} {badge}</h1>"]
    if scenario.get("description"):
        parts.append(f'<p class="muted">{_e(scenario["description"])}</p>')
    if report.get("aborted"):
        parts.append(f'<p class="abort">Aborted: {_e(report["aborted"])}</p>')
    environment = " · ".join(f"{k} {v}" for k, v in _section(report, "environment").items())
    facts = [
        ("Started", report.get("started_at") or MISSING),
        ("Elapsed", format_value(report.get("elapsed_s"), "s")),
        ("Scenario file", scenario.get("path") or MISSING),
        ("Environment", environment or MISSING),
    ]
    parts.append("<p>" + " · ".join(f'<span class="muted">{k}</span> {_e(v)}' for k, v in facts))
    return "\n".join(parts) + "</p></header>"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """An HTML table; cells are HTML already (escape before), ``numeric`` columns align right."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>\n"
        for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>\n{body}</tbody></table>"


def _thresholds(report: Mapping[str, Any]) -> str:
    rows = []
    for entry in _list(report.get("thresholds")):
        if not isinstance(entry, Mapping):
            continue
        unit = unit_of(report, str(entry.get("metric", "")))
        ok = entry.get("ok") is True
        mark = '<span class="ok">✓</span>' if ok else '<span class="bad">✗</span>'
        rows.append(
            [
                mark,
                f"<code>{_e(entry.get('expr', MISSING))}</code>",
                _e(format_value(entry.get("value"), unit)),
                f"{_e(entry.get('op', ''))} {_e(format_value(entry.get('limit'), unit))}",
                "aborts the run" if entry.get("abort_on_fail") else "",
            ]
        )
    if not rows:
        return '<section><h2>Thresholds</h2><p class="muted">No thresholds.</p></section>'
    table = _table(["", "threshold", "value", "limit", "on failure"], rows, numeric=(2,))
    return f"<section><h2>Thresholds</h2>{table}</section>"


def _figures(report: Mapping[str, Any]) -> str:
    rows = [
        [f"<code>{_e(name)}</code>", _e(format_value(value, unit_of(report, str(name))))]
        for name, value in _section(report, "figures").items()
    ]
    body = (
        _table(["figure", "value"], rows, numeric=(1,))
        if rows
        else '<p class="muted">No figures.</p>'
    )
    return f"<section><h2>Key figures</h2>{body}</section>"


def _adds_up(acc: Mapping[str, Any]) -> str:
    """A mark after the equation: ✗ when the four counts are known and do not add up."""
    counts = [number(acc.get(k)) for k in ("sent", "answered", "failed", "lost")]
    if any(c is None for c in counts):
        return ""
    sent, *parts = (c or 0.0 for c in counts)
    return " ✓" if sent == sum(parts) else ' <span class="bad">✗ does not add up</span>'


def _accounting(report: Mapping[str, Any]) -> str:
    acc = _section(report, "accounting")

    def count(source: Mapping[str, Any], key: str) -> str:
        return _e(format_value(source.get(key), "count"))

    flag = acc.get("reconciled")
    reconciled = (
        '<span class="ok">yes</span>'
        if flag is True
        else ('<span class="bad">no</span>' if flag is False else MISSING)
    )
    parts = [
        "<section><h2>Accounting</h2>",
        f"<p>sent {count(acc, 'sent')} = answered {count(acc, 'answered')} + failed "
        f"{count(acc, 'failed')} + lost {count(acc, 'lost')}{_adds_up(acc)}</p>",
        f"<p>reconciled with the runtime: {reconciled}</p>",
    ]
    runtime = _section(acc, "runtime")
    if runtime:
        parts.append(
            "<p>runtime: " + ", ".join(f"{_e(k)} {count(runtime, k)}" for k in runtime) + "</p>"
        )
    failures = _section(acc, "failures")
    rows = [[f"<code>{_e(kind)}</code>", count(failures, kind)] for kind in failures]
    parts.append(
        _table(["failure", "turns"], rows, numeric=(1,))
        if rows
        else '<p class="muted">No failures.</p>'
    )
    return "\n".join(parts) + "</section>"


def _llm_cache(report: Mapping[str, Any]) -> str:
    """The LLM response cache: its one line, and what it saved per model."""
    cache = _section(report, "llm_cache")
    line = llm_cache_line(cache)
    if line is None:
        return ""
    rows = [
        [
            f"<code>{_e(model)}</code>",
            _e(format_value(saved.get("hits"), "count")),
            _e(format_value(saved.get("tokens_saved"), "count")),
            _e(format_value(saved.get("cost_saved"), "$")),
        ]
        for model, saved in _section(cache, "by_model").items()
        if isinstance(saved, Mapping)
    ]
    table = _table(["model", "hits", "tokens saved", "cost saved"], rows, numeric=(1, 2, 3))
    return f"<section><h2>LLM response cache</h2><p>{_e(line)}</p>{table}</section>"


def _events_section(report: Mapping[str, Any]) -> str:
    rows = [[_e(format_value(e.t, "s")), _e(e.kind), _e(e.detail)] for e in _events(report)]
    if not rows:
        return ""
    return (
        f"<section><h2>Events</h2>{_table(['at', 'event', 'detail'], rows, numeric=(0,))}</section>"
    )


def _embedded(report: Mapping[str, Any]) -> str:
    """The report as JSON that cannot end the script element (``<``, ``>``, ``&`` escaped)."""
    text = json.dumps(report, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{REPORT_SCRIPT_ID}">{text}</script>'


def render_html(report: Mapping[str, Any]) -> str:
    """Render ``report`` as a self-contained HTML document (see the module docstring).

    Never fetches anything and never reads the clock: the result depends only on
    ``report``. Raises ``TypeError`` when ``report`` holds a value JSON cannot encode (the
    report is embedded verbatim); any missing or malformed section renders as a dash, an
    empty table or an empty chart. URL passwords and secrets are masked first
    (:func:`agentrt.redact.redacted`), however the report was built.
    """
    report = redacted(report)
    name = _section(report, "scenario").get("name") or "load test"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(name)} · {_verdict(report)} · agentrt loadtest</title>",
            f"<style>{_CSS}{CHART_CSS}</style></head><body><main>",
            _header(report),
            _thresholds(report),
            f'<div class="grid">{_figures(report)}\n{_accounting(report)}</div>',
            _llm_cache(report),
            _charts_section(report),
            _events_section(report),
            _embedded(report),
            "</main></body></html>",
            "",
        ]
    )


def write_html(report: Mapping[str, Any], path: str | Path) -> Path:
    """Write :func:`render_html` of ``report`` to ``path`` (UTF-8) and return the path.

    Parent directories must exist; an existing file is replaced. Raises ``OSError`` when
    the file cannot be written.
    """
    path = Path(path)
    path.write_text(render_html(report), encoding="utf-8")
    return path

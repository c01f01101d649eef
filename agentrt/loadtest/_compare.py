"""Comparing two load-test reports: which figures got better, which got worse.

:func:`load_report` reads a ``report.json`` written by ``agentrt loadtest`` and checks it
is one; :func:`compare_rows` pairs the two reports' figures and threshold results into
:class:`CompareRow` values with a verdict; :func:`compare_table` renders them as a rich
table. Example::

    a, b = load_report("runs/before/report.json"), load_report("runs/after/report.json")
    for row in compare_rows(a, b):
        print(row.figure, row.verdict)
    rich.print(compare_table(a, b, names=("before", "after")))

Verdicts: a figure's direction is fixed by its name (:func:`direction`): lower is better
for latencies, memory, errors and losses; higher is better for throughput, cache hit
ratios, LLM cache savings and answered turns; everything else (agents, turns sent,
restarts, injected crashes, unknown figures) is neutral. A change within ±2 % of the
first report's value (:data:`SAME_BAND`) is ``"same"``; a neutral figure that changed
more is ``"n/a"``, as is any figure missing (or ``None``) in either report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.table import Table
from rich.text import Text

from agentrt.errors import ConfigError
from agentrt.loadtest._report import SCHEMA
from agentrt.loadtest._units import (
    MISSING,
    format_change,
    format_delta,
    format_value,
    number,
    unit_of,
)

__all__ = [
    "SAME_BAND",
    "SCHEMAS",
    "CompareRow",
    "Direction",
    "Verdict",
    "compare_rows",
    "compare_table",
    "differences",
    "direction",
    "load_report",
    "read_json",
    "regressions",
]

Verdict = Literal["better", "worse", "same", "n/a"]
Direction = Literal["lower", "higher", "neutral"]

SAME_BAND = 0.02
"""Relative change (of the first report's value) within which a figure counts as same."""

SCHEMAS = (SCHEMA,)
"""The report schemas :func:`load_report` accepts."""

_LOWER_PREFIXES = ("response_", "overhead_", "memory_op_")
_LOWER = frozenset(
    {
        "bytes_per_agent",
        "memory_growth_per_agent",
        "rss_peak",
        "error_rate",
        "lost",
        "turns_failed",
        "llm_errors",
        "cpu_per_turn",
    }
)
_HIGHER = frozenset(
    {
        "turns_per_s",
        "cache_hit_ratio",
        "turns_answered",
        "llm_cache_hit_ratio",
        "llm_cache_tokens_saved",
        "llm_cache_cost_saved",
    }
)
GATES: dict[str, Direction] = {
    "response_p95": "lower",
    "turns_per_s": "higher",
    "bytes_per_agent": "lower",
    "cpu_per_turn": "lower",
}
"""Figures ``agentrt loadtest compare --fail-on PCT`` gates, with the direction that is
better: a change of more than PCT percent the other way is a regression."""

ELAPSED_BAND = 0.10
"""Relative difference of two runs' lengths beyond which :func:`differences` warns."""

_VERDICT_STYLES = {"better": "green", "worse": "red", "same": "dim", "n/a": ""}


@dataclass(frozen=True, kw_only=True)
class CompareRow:
    """One line of a comparison between report ``a`` (baseline) and report ``b``.

    ``kind`` is ``"figure"`` (``figure`` names an entry of ``figures``; ``a``/``b`` are
    numbers or ``None`` when missing) or ``"threshold"`` (``figure`` is the threshold's
    expression; ``a``/``b`` are ``True`` when it held, ``False`` when it failed, ``None``
    when the report did not check it). ``delta`` is ``b - a`` and ``change`` the relative
    change ``(b - a) / |a|``; both are ``None`` when not computable (threshold rows, a
    missing value, ``a == 0`` for ``change``).

    Example: ``CompareRow(figure="response_p95", unit="s", a=0.10, b=0.12, delta=0.02,
    change=0.2, verdict="worse")``.
    """

    figure: str
    unit: str = ""
    a: float | bool | None = None
    b: float | bool | None = None
    delta: float | None = None
    change: float | None = None
    verdict: Verdict = "n/a"
    kind: Literal["figure", "threshold"] = "figure"


def direction(figure: str) -> Direction:
    """Whether a lower or higher value of ``figure`` is better, or neither (``"neutral"``).

    Lower: ``response_*``, ``overhead_*``, ``memory_op_*``, ``bytes_per_agent``,
    ``memory_growth_per_agent``, ``rss_peak``, ``error_rate``, ``lost``, ``turns_failed``,
    ``llm_errors``. Higher: ``turns_per_s``, ``cache_hit_ratio``, ``turns_answered``,
    ``llm_cache_hit_ratio``, ``llm_cache_tokens_saved``, ``llm_cache_cost_saved``.
    Every other figure (``agents``, ``turns_sent``, ``restarts``, ...) is neutral.
    """
    if figure.startswith(_LOWER_PREFIXES) or figure in _LOWER:
        return "lower"
    if figure in _HIGHER:
        return "higher"
    return "neutral"


def _verdict(figure: str, a: float | None, b: float | None) -> Verdict:
    if a is None or b is None:
        return "n/a"
    if abs(b - a) <= SAME_BAND * abs(a):
        return "same"
    way = direction(figure)
    if way == "neutral":
        return "n/a"
    return "better" if (b < a) == (way == "lower") else "worse"


def _figure_row(figure: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> CompareRow:
    va = number(_table(a, "figures").get(figure))
    vb = number(_table(b, "figures").get(figure))
    delta = change = None
    if va is not None and vb is not None:
        delta = vb - va
        change = delta / abs(va) if va else None
    unit = unit_of(a, figure) if figure in _table(a, "figures") else unit_of(b, figure)
    return CompareRow(
        figure=figure,
        unit=unit,
        a=va,
        b=vb,
        delta=delta,
        change=change,
        verdict=_verdict(figure, va, vb),
    )


def _table(report: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = report.get(key)
    return value if isinstance(value, Mapping) else {}


def _threshold_results(report: Mapping[str, Any]) -> dict[str, bool]:
    """``expr -> ok`` for every well-formed entry of ``report["thresholds"]``, in order."""
    entries = report.get("thresholds")
    if not isinstance(entries, list):
        return {}
    return {
        str(entry["expr"]): bool(entry.get("ok"))
        for entry in entries
        if isinstance(entry, Mapping) and "expr" in entry
    }


def _threshold_row(expr: str, a: bool | None, b: bool | None) -> CompareRow:
    verdict: Verdict
    if a is None or b is None:
        verdict = "n/a"
    elif a == b:
        verdict = "same"
    else:
        verdict = "better" if b else "worse"
    return CompareRow(figure=expr, a=a, b=b, verdict=verdict, kind="threshold")


def _union(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[str]:
    return [*first, *(key for key in second if key not in first)]


def compare_rows(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[CompareRow]:
    """Compare report ``b`` against baseline ``a``, one :class:`CompareRow` per line.

    Figure rows come first, in ``a``'s ``figures`` order followed by figures only ``b``
    has; then one threshold row per expression, in ``a``'s order followed by ``b``'s
    extras. Missing ``figures`` or ``thresholds`` sections count as empty; non-numeric
    figure values count as missing. Never raises on a report-shaped mapping.
    """
    figures = _union(_table(a, "figures"), _table(b, "figures"))
    rows = [_figure_row(name, a, b) for name in figures]
    ta, tb = _threshold_results(a), _threshold_results(b)
    rows += [_threshold_row(expr, ta.get(expr), tb.get(expr)) for expr in _union(ta, tb)]
    return rows


def _cell(row: CompareRow, value: float | bool | None) -> str:
    if row.kind == "threshold":
        return MISSING if value is None else ("✓" if value else "✗")
    return format_value(value, row.unit)


def _change_text(row: CompareRow) -> str:
    if row.kind == "threshold":
        if row.verdict in ("better", "worse"):
            return "now passes" if row.verdict == "better" else "now fails"
        return ""
    if row.delta is None:
        return MISSING
    delta = format_delta(row.delta, row.unit)
    if row.change is None or row.delta == 0:
        return delta
    return f"{delta} ({format_change(row.change)})"


def compare_table(
    a: Mapping[str, Any], b: Mapping[str, Any], *, names: tuple[str, str] = ("a", "b")
) -> Table:
    """A rich table of :func:`compare_rows`: figure, ``a``, ``b``, change and verdict.

    Values are formatted in their units (:func:`~agentrt.loadtest._units.format_value`);
    the change reads ``"+4 ms (+12.3%)"``; better rows are green, worse rows red, same
    rows dim. Threshold rows follow the figures in a separate section, with ✓/✗.
    ``names`` label the two value columns (default ``("a", "b")``).
    """
    table = Table(title="Load test comparison", title_justify="left")
    table.add_column("figure", overflow="fold")
    # Run names are file stems with a timestamp: never truncate them (min_width).
    table.add_column(names[0], justify="right", min_width=len(names[0]))
    table.add_column(names[1], justify="right", min_width=len(names[1]))
    table.add_column("change", justify="right")
    table.add_column("verdict")
    previous_kind = "figure"
    for row in compare_rows(a, b):
        if row.kind != previous_kind:
            table.add_section()
            previous_kind = row.kind
        style = _VERDICT_STYLES[row.verdict]
        table.add_row(
            row.figure,
            _cell(row, row.a),
            _cell(row, row.b),
            Text(_change_text(row), style=style),
            Text(row.verdict, style=style),
        )
    return table


def regressions(
    rows: list[CompareRow], fail_on_pct: float, gates: Mapping[str, Direction] = GATES
) -> list[CompareRow]:
    """The gated figures of ``rows`` that changed the worse way by more than
    ``fail_on_pct`` percent of the baseline (see :data:`GATES`)."""
    out = []
    for row in rows:
        way = gates.get(row.figure)
        if row.kind != "figure" or way is None or row.change is None:
            continue
        worse = row.change if way == "lower" else -row.change
        if worse * 100 > fail_on_pct:
            out.append(row)
    return out


def _settings_diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two settings tables."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        keys = _union(a, b)
        return [d for k in keys for d in _settings_diff(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]


def differences(
    a: Mapping[str, Any], b: Mapping[str, Any], gates: Mapping[str, Direction] = GATES
) -> list[str]:
    """Warnings about what makes two reports hard to compare: different scenarios,
    different settings, lengths differing by more than :data:`ELAPSED_BAND`, and gated
    figures measured in only one of them."""
    out = []
    sa, sb = _table(a, "scenario"), _table(b, "scenario")
    if sa.get("name") != sb.get("name"):
        out.append(f"different scenarios: {sa.get('name')!r} and {sb.get('name')!r}")
    changed = _settings_diff(_table(sa, "settings"), _table(sb, "settings"))
    if changed and sa.get("name") == sb.get("name"):
        more = f" (+{len(changed) - 5} more)" if len(changed) > 5 else ""
        out.append(f"different settings: {', '.join(changed[:5])}{more}")
    ea, eb = number(a.get("elapsed_s")), number(b.get("elapsed_s"))
    if ea is not None and eb is not None and abs(eb - ea) > ELAPSED_BAND * max(ea, eb):
        out.append(f"different durations: {ea:,.1f} s and {eb:,.1f} s")
    fa, fb = _table(a, "figures"), _table(b, "figures")
    out.extend(
        f"{figure} was measured in only one of the runs"
        for figure in gates
        if (number(fa.get(figure)) is None) != (number(fb.get(figure)) is None)
    )
    return out


def read_json(path: Path) -> Any:
    """The JSON in ``path``; ConfigError (``key`` is the path) when it is missing,
    unreadable or not JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(str(path), f"cannot read the file: {reason}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            str(path), f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a load-test report (``report.json``) from ``path`` and check its shape.

    Raises :class:`~agentrt.errors.ConfigError` (``key`` is the path) when the file is
    missing or unreadable, is not JSON, is not a JSON object, has no ``"schema"`` or one
    not in :data:`SCHEMAS`, or has no ``"figures"`` object. Other sections are not
    checked: :func:`compare_rows` treats missing ones as empty.
    """
    path = Path(path)
    data = read_json(path)
    not_report = "not an agentrt load-test report"
    if not isinstance(data, dict):
        raise ConfigError(str(path), f"{not_report}: the top level is not a JSON object")
    schema = data.get("schema")
    if schema is None:
        raise ConfigError(str(path), f'{not_report}: no "schema" key (expected {SCHEMAS[0]!r})')
    if schema not in SCHEMAS:
        known = ", ".join(repr(s) for s in SCHEMAS)
        raise ConfigError(
            str(path), f"unknown report schema {schema!r} (this agentrt reads {known})"
        )
    if not isinstance(data.get("figures"), dict):
        raise ConfigError(str(path), f'{not_report}: no "figures" object')
    return data

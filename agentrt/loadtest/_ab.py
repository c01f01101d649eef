"""A/B in one run: two configurations of a scenario in short interleaved rounds, each
run in its own process, compared figure by figure as ratios with bootstrap intervals.

:func:`round_order` gives the order of the runs (``A B``, then ``B A``, ... so that a
drift in machine load hits both sides alike); :func:`judge` turns the per-round figures
into :class:`FigureRatio` rows: ``B / A`` of the means, its 95 % interval (the wider of
the paired bootstrap's, :func:`~agentrt.loadtest._stats.bootstrap_ratio`, and the paired
t interval of the per-round log ratios,
:func:`~agentrt.loadtest._stats.log_ratio_interval`: with few rounds the bootstrap alone
is too narrow to trust), whether it is significant
(the interval excludes 1) and the verdict by the figure's direction
(:func:`~agentrt.loadtest._compare.direction`). With ``fail_on`` (a percentage) a gated
figure (:data:`~agentrt.loadtest._compare.GATES`) is a **regression** only when the
whole interval lies beyond the threshold on the worse side: noise widens the interval,
so a noisy machine makes the gate less sure, never falsely sure.

The result (``agentrt.ab/1``, :func:`ab_result`)::

    {"schema": "agentrt.ab/1", "scenario": "smoke", "a": "a.toml", "b": null,
     "rounds": 6, "order": ["a", "b", "b", "a", ...],
     "values": {"a": {"turns_per_s": [...], ...}, "b": {...}},
     "ratios": [{"figure": "response_p95", "ratio": 1.04, "low": 0.98, "high": 1.1,
                 "significant": false, "verdict": "same", "regression": false}, ...],
     "fail_on": 10.0, "load_average": [..]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from rich.table import Table
from rich.text import Text

from agentrt.errors import ConfigError
from agentrt.loadtest._compare import GATES, SAME_BAND, direction
from agentrt.loadtest._stats import bootstrap_ratio, log_ratio_interval
from agentrt.loadtest._units import format_value, guess_unit, number

__all__ = [
    "AB_FIGURES",
    "AB_SCHEMA",
    "MIN_ROUNDS",
    "FigureRatio",
    "ab_result",
    "ab_table",
    "figures_of_report",
    "judge",
    "load_ab",
    "round_order",
]

AB_SCHEMA = "agentrt.ab/1"
AB_FIGURES = (
    "response_p50",
    "response_p95",
    "turns_per_s",
    "cpu_per_turn",
    "bytes_per_agent",
    "overhead_p95",
)
"""The figures an A/B compares (the gated ones of ``GATES`` among them)."""

MIN_ROUNDS = 3
"""Fewest paired rounds whose interval :func:`judge` trusts: with fewer, no figure is
significant and none is a regression (two rounds have three distinct resamples)."""

Side = Literal["a", "b"]


def round_order(rounds: int) -> list[Side]:
    """``a b b a a b b a ...``: ``2 * rounds`` runs, each pair in alternating order."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    out: list[Side] = []
    for i in range(rounds):
        out += ["a", "b"] if i % 2 == 0 else ["b", "a"]
    return out


@dataclass(frozen=True)
class FigureRatio:
    """One figure of an A/B: the means, ``ratio = B / A`` with its 95 % interval
    [``low``, ``high``] (see the module docs), and verdicts."""

    figure: str
    a_mean: float
    b_mean: float
    ratio: float
    low: float
    high: float
    significant: bool
    verdict: Literal["better", "worse", "same", "n/a"]
    regression: bool = False


def _regressed(way: str, low: float, high: float, fail_on: float) -> bool:
    if way == "lower":
        return low > 1 + fail_on / 100
    if way == "higher":
        return high < 1 - fail_on / 100
    return False


def judge(
    a: Mapping[str, Sequence[float | None]],
    b: Mapping[str, Sequence[float | None]],
    *,
    fail_on: float | None = None,
    gates: Mapping[str, str] = GATES,
    seed: int = 0,
) -> list[FigureRatio]:
    """A :class:`FigureRatio` per figure present in both ``a`` and ``b`` (per-round values,
    paired by index; a round missing a value on either side is left out of that figure).

    ``significant``: the interval excludes 1 and at least :data:`MIN_ROUNDS` rounds were
    paired. The verdict is ``"same"`` unless the ratio is significant and differs from 1
    by more than ``SAME_BAND`` (2 %), then ``"better"`` or ``"worse"`` by the figure's
    direction (``"n/a"`` for a neutral one). ``regression``: see the module docs (only
    figures in ``gates``, only with ``fail_on``, only with :data:`MIN_ROUNDS` rounds)."""
    out = []
    for figure in [f for f in a if f in b]:
        pairs = [
            (float(x), float(y))
            for x, y in zip(a[figure], b[figure], strict=False)
            if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)
        ]
        if not pairs or math.fsum(p[0] for p in pairs) == 0:
            continue
        xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
        ci = bootstrap_ratio(xs, ys, seed=seed)
        low, high = ci.low, ci.high
        if all(v > 0 for v in (*xs, *ys)):
            t_low, t_high = log_ratio_interval(xs, ys)
            low, high = min(low, t_low), max(high, t_high)
        way = direction(figure)
        n = len(pairs)
        significant = (low > 1 or high < 1) and n >= MIN_ROUNDS
        verdict: Literal["better", "worse", "same", "n/a"] = "same"
        if significant and abs(ci.ratio - 1) > SAME_BAND:
            if way == "neutral":
                verdict = "n/a"
            else:
                verdict = "better" if (ci.ratio < 1) == (way == "lower") else "worse"
        gate = gates.get(figure)
        regression = (
            fail_on is not None
            and gate is not None
            and n >= MIN_ROUNDS
            and _regressed(gate, low, high, fail_on)
        )
        out.append(
            FigureRatio(
                figure=figure,
                a_mean=math.fsum(p[0] for p in pairs) / n,
                b_mean=math.fsum(p[1] for p in pairs) / n,
                ratio=ci.ratio,
                low=low,
                high=high,
                significant=significant,
                verdict=verdict,
                regression=regression,
            )
        )
    return out


def figures_of_report(report: Mapping[str, Any]) -> dict[str, float | None]:
    """The :data:`AB_FIGURES` of one run's report."""
    figures = report.get("figures") or {}
    return {name: number(figures.get(name)) for name in AB_FIGURES}


def ab_result(
    *,
    scenario: str,
    a: str | None,
    b: str | None,
    order: Sequence[Side],
    values: Mapping[Side, Mapping[str, Sequence[float | None]]],
    fail_on: float | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON result of an A/B (see the module docs)."""
    ratios = judge(values["a"], values["b"], fail_on=fail_on)
    return {
        "schema": AB_SCHEMA,
        "scenario": scenario,
        "a": a,
        "b": b,
        "rounds": len(order) // 2,
        "order": list(order),
        "values": {side: {k: list(v) for k, v in values[side].items()} for side in ("a", "b")},
        "ratios": [asdict(r) for r in ratios],
        "fail_on": fail_on,
        **(extra or {}),
    }


def load_ab(data: Any, source: str) -> dict[str, Any]:
    """Check that ``data`` (parsed JSON) is an A/B result; ConfigError names ``source``."""
    if not isinstance(data, dict) or data.get("schema") != AB_SCHEMA:
        raise ConfigError(source, f"not an agentrt A/B result (expected schema {AB_SCHEMA!r})")
    values = data.get("values")
    if not isinstance(values, dict) or not all(isinstance(values.get(s), dict) for s in "ab"):
        raise ConfigError(source, 'no "values" object with "a" and "b" tables')
    return data


def ab_table(ratios: Sequence[FigureRatio], names: tuple[str, str] = ("A", "B")) -> Table:
    """A rich table of :func:`judge`'s rows: means, ratio, interval, verdict."""
    table = Table(title=f"A/B: {names[1]} against {names[0]}", title_justify="left")
    for col in ("figure", names[0], names[1], "B/A", "95% CI", "verdict"):
        table.add_column(col, justify="right" if col != "figure" else "left")
    styles = {"better": "green", "worse": "red", "same": "dim", "n/a": ""}
    for r in ratios:
        unit = guess_unit(r.figure)
        verdict = r.verdict + (" · REGRESSION" if r.regression else "")
        style = "bold red" if r.regression else styles[r.verdict]
        table.add_row(
            r.figure,
            format_value(r.a_mean, unit),
            format_value(r.b_mean, unit),
            f"{r.ratio:.3f}",
            f"{r.low:.3f}-{r.high:.3f}",
            Text(verdict, style=style),
        )
    return table

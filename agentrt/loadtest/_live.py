"""What a person sees during and after a load run (rich).

:func:`live_panel` is the live view refreshed each sample: elapsed and remaining time,
active agents, turns/s, p95 so far, errors, restarts, cache hit ratio, LLM calls
waiting on their provider's concurrency limit (highlighted when any are) and each
threshold's current status. :func:`final_table` is the table printed at the end, with
✓/✗ per threshold, followed by :func:`figures_table`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from agentrt.loadtest._collect import percentile
from agentrt.loadtest._thresholds import METRICS, evaluate, run_thresholds
from agentrt.loadtest._units import MISSING, format_value, llm_cache_line

if TYPE_CHECKING:
    from agentrt.loadtest._engine import LoadRun

__all__ = ["figures_table", "final_table", "live_panel"]


def _mark(ok: bool) -> Text:
    return Text("✓", style="bold green") if ok else Text("✗", style="bold red")


def _progress(run: LoadRun) -> tuple[str, float | None]:
    scenario = run.scenario
    planned = scenario.planned_duration
    elapsed = run.elapsed
    if planned is not None:
        left = max(0.0, planned - elapsed)
        return f"{elapsed:,.0f} s elapsed, {left:,.0f} s remaining", min(1.0, elapsed / planned)
    turns = scenario.agents.turns or 0
    total = scenario.agents.count * turns
    done = run.ledger.ended
    fraction = done / total if total else None
    return f"{elapsed:,.0f} s elapsed, {done:,} / {total:,} turns", fraction


def live_panel(run: LoadRun) -> RenderableType:
    """The live view of ``run`` (see the module docs): one table, a row per figure and
    per threshold (its status now)."""
    ledger = run.ledger
    last = run.series.samples[-1] if run.series.samples else None
    text, fraction = _progress(run)
    t = Table(title=f"agentrt loadtest: {run.scenario.name}", show_header=False, min_width=60)
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_row("time", text)
    t.add_row("active agents", f"{run.active:,} (spawned {run.spawned:,})")
    t.add_row("turns/s (last interval)", f"{last.turns_per_s:,.0f}" if last else MISSING)
    t.add_row("response p95 so far", format_value(percentile(ledger.latency, 0.95), "s"))
    t.add_row("turns sent / answered", f"{ledger.sent:,} / {ledger.answered:,}")
    t.add_row("errors", f"{ledger.failed:,} {dict(ledger.failures) or ''}")
    t.add_row("restarts", f"{last.restarts:,}" if last else "0")
    hit = last.cache_hit_ratio if last else None
    t.add_row("cache hit ratio", format_value(hit, "ratio"))
    waiting = last.llm_waiting if last else 0
    t.add_row(
        "waiting on provider limit", Text(f"{waiting:,}", style="bold yellow" if waiting else "")
    )
    if fraction is not None:
        t.add_row("progress", ProgressBar(total=1.0, completed=fraction, width=30))
    _threshold_rows(t, run)
    return t


def _threshold_rows(table: Table, run: LoadRun) -> None:
    """One row per threshold: its status now and the figure so far."""
    from agentrt.loadtest._report import figures_of  # report imports the engine's types

    figures = figures_of(run, base_rss=None, elapsed=run.elapsed, final=False)
    for result in evaluate(run_thresholds(run.scenario.parsed_thresholds), figures):
        unit = METRICS[result.threshold.metric.partition("[")[0]].unit  # turns_failed[m]
        if result.value is None:  # not measured yet: neither passing nor failing
            status = Text("… pending", style="dim")
        else:
            status = _mark(result.ok)
            status.append(f" {format_value(result.value, unit)}", style="")
        table.add_row(Text(f"threshold {result.threshold.expr}"), status)  # [m] is no markup


def final_table(report: dict[str, Any]) -> Table:
    """✓/✗ per threshold with the measured value, and the verdict as the caption."""
    units = report.get("units", {})
    verdict = "[bold green]PASSED[/]" if report["passed"] else "[bold red]FAILED[/]"
    if report.get("aborted"):
        verdict += f" (aborted: {report['aborted']})"
    t = Table(title=f"agentrt loadtest: {report['scenario']['name']}", caption=verdict)
    t.add_column("", justify="center")
    t.add_column("threshold")
    t.add_column("measured", justify="right")
    for row in report["thresholds"]:
        unit = units.get(row["metric"], "")
        t.add_row(_mark(row["ok"]), Text(row["expr"]), format_value(row["value"], unit))
    return t


_SHOWN = (
    "agents",
    "turns_sent",
    "turns_answered",
    "turns_failed",
    "lost",
    "turns_per_s",
    "response_p50",
    "response_p95",
    "response_p99",
    "overhead_p95",
    "memory_op_p99",
    "bytes_per_agent",
    "memory_growth_per_agent",
    "cache_hit_ratio",
    "restarts",
    "crashes_injected",
    "llm_errors",
)
_CLUSTER_SHOWN = (  # [cluster] runs only
    "duplicated",
    "restarted_turns",
    "response_p95_outside_faults",
    "node_kills",
    "node_pauses",
    "redis_restarts",
    "drains",
    "joins",
    "rolling_restarts",
    "rebalance_balance",
    "rebalance_rounds",
)


def figures_table(report: dict[str, Any]) -> Table:
    """The run's main figures (their meanings: ``METRICS``) and its accounting."""
    figures = report["figures"]
    account = report["accounting"]
    t = Table(title="figures", show_header=False)
    t.add_column("figure")
    t.add_column("value", justify="right")
    for name in _SHOWN + tuple(n for n in _CLUSTER_SHOWN if n in figures):
        t.add_row(name, format_value(figures.get(name), METRICS[name].unit))
    models = account.get("by_model") or {}
    for model, m in models.items() if len(models) > 1 else ():
        t.add_row(
            Text(f"turns of {model}"),
            f"{m['sent']:,} sent, {m['answered']:,} answered, {m['failed']:,} failed "
            f"({m['failed_unexcused']:,} unexcused)",
        )
    line = llm_cache_line(report.get("llm_cache") or {})
    if line is not None:
        t.add_row("LLM cache", line.removeprefix("LLM cache "))
    t.add_row(
        "sent = answered + failed + lost",
        f"{account['sent']:,} = {account['answered']:,} + {account['failed']:,} "
        f"+ {account['lost']:,}" + ("" if account["reconciled"] else " (MISMATCH)"),
    )
    return t

"""The report of a load run: figures, accounting, thresholds, time series, events.

:func:`build_report` returns a JSON-ready dict (schema ``agentrt.loadtest/1``, documented
in ``docs/loadtest.md``); :func:`write_reports` writes it as JSON and as the HTML report.

Accounting: the runner's ledger counts each user turn sent, answered and failed; the
runtime counts the turns it accepted, answered and failed. ``lost`` is the turns sent
with no outcome, plus any disagreement between the two ledgers, so the ``lost == 0``
threshold fails unless every turn is reconciled exactly.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentrt._version import __version__
from agentrt.errors import ConfigError
from agentrt.loadtest._collect import percentile
from agentrt.loadtest._html import render_html
from agentrt.loadtest._thresholds import METRICS, evaluate, run_thresholds
from agentrt.loadtest._units import llm_cache_line
from agentrt.redact import redacted

if TYPE_CHECKING:
    from agentrt.loadtest._engine import LoadRun

__all__ = [
    "SCHEMA",
    "accounting_of",
    "build_report",
    "environment",
    "figures_of",
    "prepare_out",
    "write_reports",
]

SCHEMA = "agentrt.loadtest/1"


def _seconds_ms(summary: dict[str, Any], key: str) -> float | None:
    value = summary.get(key)
    return None if value is None or not summary.get("count") else float(value) / 1000.0


def accounting_of(run: LoadRun, *, final: bool = True) -> dict[str, Any]:
    """Both ledgers and whether they agree (see the module docs). During the run
    (``final=False``) turns in flight are not lost (yet)."""
    ledger = run.ledger
    stats = run.rt.turn_stats() if run.rt is not None else None
    runtime = {"accepted": 0, "answered": 0, "failed": 0, "cancelled": 0}
    if stats is not None:
        cancelled = stats.failures.get("CancelledError", 0)
        runtime = {
            "accepted": stats.accepted,
            "answered": stats.answered,
            "failed": stats.failed - cancelled,
            "cancelled": cancelled,
        }
    unanswered = ledger.open
    mismatch = (
        abs(runtime["accepted"] - ledger.sent)
        + abs(runtime["answered"] - ledger.answered)
        + abs(runtime["failed"] - ledger.failed)
    )
    return {
        "sent": ledger.sent,
        "answered": ledger.answered,
        "failed": ledger.failed,
        "lost": (unanswered if final else 0) + mismatch,
        "unanswered": unanswered,
        "failures": dict(ledger.failures),
        "by_model": {model: m.as_dict() for model, m in ledger.by_model.items()},
        "runtime": runtime,
        "reconciled": mismatch == 0 and unanswered == 0,
    }


def figures_of(
    run: LoadRun, *, base_rss: int | None, elapsed: float, final: bool = True
) -> dict[str, float | None]:
    """Every figure of :data:`~agentrt.loadtest._thresholds.METRICS` measured so far
    (``final=False`` while the run goes on: turns in flight are not counted lost)."""
    ledger, series = run.ledger, run.series
    account = accounting_of(run, final=final)
    lat = ledger.latency
    rss_peak = series.rss_peak()
    agents = max(1, run.spawned)
    memory: dict[str, Any] = {}
    cache: dict[str, Any] = {}
    llm_cache: dict[str, Any] = {}
    llm_requests = llm_errors = 0
    if run.rt is not None:
        memory = run.rt.telemetry.memory_ops.total.summary((0.5, 0.99), unit="ms")
        cache = run.rt.tools.stats().get("cache") or {}
        llm = run.rt.llm.stats()
        llm_cache = llm["response_cache"]
        for p in llm["providers"].values():
            llm_requests += p["requests"]
            llm_errors += sum(p["errors"].values())
    lookups = cache.get("hits", 0) + cache.get("misses", 0)
    growth = None
    if run.ramp_done_at is not None:
        steady = max(0.0, elapsed - run.ramp_done_at)
        warmup = run.scenario.warmup
        rise = series.rss_growth(
            run.ramp_done_at + (0.1 * steady if warmup is None else float(warmup))
        )
        growth = None if rise is None else rise / agents
    return {
        "agents": run.spawned,
        "turns_sent": ledger.sent,
        "turns_answered": ledger.answered,
        "turns_failed": ledger.failed,
        "lost": account["lost"],
        "error_rate": ledger.failed / ledger.sent if ledger.sent else None,
        "turns_per_s": ledger.ended / elapsed if elapsed > 0 else None,
        "response_p50": percentile(lat, 0.5),
        "response_p90": percentile(lat, 0.9),
        "response_p95": percentile(lat, 0.95),
        "response_p99": percentile(lat, 0.99),
        "response_max": lat.max if lat.count else None,
        "overhead_p95": percentile(ledger.overhead, 0.95),
        "memory_op_p50": _seconds_ms(memory, "p50_ms"),
        "memory_op_p99": _seconds_ms(memory, "p99_ms"),
        "bytes_per_agent": (
            max(0, rss_peak - base_rss) / agents
            if base_rss is not None and rss_peak is not None
            else None
        ),
        "memory_growth_per_agent": growth,
        "rss_peak": rss_peak,
        "cache_hit_ratio": cache.get("hits", 0) / lookups if lookups else None,
        "llm_cache_hit_ratio": llm_cache["hit_ratio"] if llm_cache.get("lookups") else None,
        "llm_cache_tokens_saved": llm_cache.get("tokens_saved", 0),
        "llm_cache_cost_saved": llm_cache.get("cost_saved", 0.0),
        "restarts": series.samples[-1].restarts if series.samples else 0,
        "supervisor_shutdowns": (
            run.rt.supervision.stats().shutdowns if run.rt is not None else None
        ),
        "crashes_injected": ledger.crashes_injected,
        "llm_requests": llm_requests,
        "llm_errors": llm_errors,
        "loop_lag_max": series.loop_lag_max(),
        "cpu_per_turn": (
            (time.process_time() - run.cpu_started) / ledger.ended
            if run.started and ledger.ended
            else None
        ),
        "turns_failed_unexcused": ledger.failed - sum(m.excused for m in ledger.by_model.values()),
        "alerts_fired": run.rt.telemetry.alerting.fired if run.rt is not None else None,
        "alerts_cleared": run.rt.telemetry.alerting.cleared if run.rt is not None else None,
        "alerts_active": len(run.rt.telemetry.alerting.active()) if run.rt is not None else None,
        **_per_model(run),
    }


def llm_cache_of(run: LoadRun) -> dict[str, Any]:
    """The LLM response cache over the run: the pool's counts (lookups, hits, misses,
    hit ratio, tokens and cost saved, per model), the agents whose requests it answered
    and, in one line, ``summary`` ("LLM cache saved $X (N tokens), hit ratio H"; None
    when nothing was looked up)."""
    if run.rt is None:
        return {"lookups": 0, "summary": None}
    out: dict[str, Any] = dict(run.rt.llm.stats()["response_cache"])
    out["agents_with_hits"] = sum(
        1 for view in run.rt.telemetry.agents() if view.get("llm_cache_hits")
    )
    out["summary"] = llm_cache_line(out)
    return out


def _per_model(run: LoadRun) -> dict[str, float | None]:
    """``turns_sent[<model>]`` ... for every model the run's agents talked to."""
    out: dict[str, float | None] = {}
    for model, m in run.ledger.by_model.items():
        out[f"turns_sent[{model}]"] = m.sent
        out[f"turns_answered[{model}]"] = m.answered
        out[f"turns_failed[{model}]"] = m.failed
        out[f"turns_failed_unexcused[{model}]"] = m.failed - m.excused
    return out


def environment() -> dict[str, Any]:
    """Python, platform, CPUs and agentrt version of this run."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "agentrt": __version__,
    }


def build_report(
    run: LoadRun, base_rss: int, elapsed: float, mock: dict[str, Any] | None
) -> dict[str, Any]:
    """The whole report of a finished run (see the module docs)."""
    scenario = run.scenario
    if run.rt is not None:  # a last sample, so that series end with the run
        run.series.add(run.take_sample(elapsed, 0.0))
    figures = figures_of(run, base_rss=base_rss, elapsed=elapsed)
    results = evaluate(run_thresholds(scenario.parsed_thresholds), figures)
    passed = run.aborted is None and all(r.ok for r in results)
    report = {
        "schema": SCHEMA,
        "scenario": {
            "name": scenario.name,
            "description": scenario.description,
            "path": scenario.source,
            "settings": scenario.as_dict(),
        },
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - elapsed)),
        "elapsed_s": round(elapsed, 3),
        "passed": passed,
        "aborted": run.aborted,
        "environment": environment(),
        "figures": figures,
        "units": {name: m.unit for name, m in METRICS.items()},
        "accounting": accounting_of(run),
        "thresholds": [r.as_dict() for r in results],
        "faults": {
            "crashes_injected": run.ledger.crashes_injected,
            "spawn_failures": run.spawn_failures,
            "slow_tool_calls": run.tools.slow,
            "tool_executions": dict(run.tools.executions),
            "llm_server": (mock or {}).get("counts"),
        },
        "llm_cache": llm_cache_of(run),
        "alerts": run.rt.telemetry.alerts() if run.rt is not None else None,
        "series": run.series.columns(),
        "events": list(run.env.events) if run.env is not None else [],
    }
    return redacted_report(report)


def redacted_report(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` with every URL password and secret masked (:mod:`agentrt.redact`):
    settings, events, error messages, abort reasons."""
    out: dict[str, Any] = redacted(report)
    return out


def prepare_out(out_dir: str | Path) -> Path:
    """The report folder ``out_dir``, created if missing and checked writable: called
    before a run so that a bad ``--out`` (``/etc/passwd``, a read-only folder) fails at
    once, not after the run. ConfigError names ``--out``."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError("--out", f"{str(out)!r} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ConfigError("--out", f"cannot write reports to {str(out)!r}: {exc}") from None
    return out


def write_reports(report: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``<name>-<time>.json`` and ``.html`` into ``out_dir``; returns both paths."""
    report = redacted_report(report)  # however the report was built
    out = prepare_out(out_dir)
    stamp = report["started_at"].replace(":", "").replace("-", "")
    stem = Path(f"{report['scenario']['name']}-{stamp}").name  # never a path outside ``out``
    json_path, html_path = out / f"{stem}.json", out / f"{stem}.html"
    json_path.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path

"""Prometheus scrape benchmark: what the runtime's gauges and counters add to a scrape.

One runtime with ``metrics = "prometheus"`` and ``--agents`` agents (the in-process mock
LLM, zero latency), each of which ran a turn with a tool call, so that the GenAI
histograms hold one attribute set per (agent class, model, tool) and the agents' table
is full. Each round times, alternately, a scrape's two halves for each collector:

- **on the loop** (``freeze``): the GenAI histograms' snapshot (``StoreCollector``, the
  peer) against the runtime's figures (``RuntimeCollector``: ``telemetry.snapshot()``
  plus a pass over the agents' table for the conversations' bytes). This is the part
  that stalls the event loop, once per scrape.
- **in the render thread** (``generate_latest`` of a registry holding only that
  collector).

Figures are medians over ``--rounds``; the ratios are runtime / GenAI histograms.
Then ``LogContextFilter`` on one record, against formatting that record (its peer: what
any handler does with it), inside an agent's turn context.

    python -m loadtest.bench.prometheus [--agents 2000] [--rounds 30] [--quick] [--json]
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from dataclasses import replace
from typing import Any

from loadtest.bench.measure import bench_parser, emit


async def _scrapes(agents: int, rounds: int) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry, generate_latest

    from agentrt.agent import Agent
    from agentrt.runtime import Runtime, RuntimeConfig, TelemetryConfig
    from agentrt.telemetry import OTelConfig
    from agentrt.telemetry._prometheus import RuntimeCollector, StoreCollector

    otel = OTelConfig(metrics="prometheus", prometheus_port=0)
    config = replace(RuntimeConfig(), telemetry=TelemetryConfig(otel=otel))

    class Bench(Agent):
        system_prompt = "You are a benchmark."

    async with Runtime(config) as rt:
        for i in range(agents):
            await rt.spawn(Bench, id=f"a{i}")
        await asyncio.gather(*(rt.ask(f"a{i}", "hello") for i in range(agents)))
        store = rt.otel.store
        assert store is not None
        genai, runtime = StoreCollector(store), RuntimeCollector(rt.telemetry)
        registries = {}
        for name, collector in (("genai", genai), ("runtime", runtime)):
            registry = CollectorRegistry(auto_describe=False)
            registry.register(collector)
            registries[name] = (collector, registry)
        times: dict[str, list[float]] = {
            f"{n}_{part}": [] for n in registries for part in ("freeze", "render")
        }
        size = {}
        for r in range(rounds):
            order = list(registries) if r % 2 == 0 else list(reversed(registries))
            for name in order:
                collector, registry = registries[name]
                start = time.perf_counter()
                collector.freeze()
                times[f"{name}_freeze"].append(time.perf_counter() - start)
                start = time.perf_counter()
                body = generate_latest(registry)
                times[f"{name}_render"].append(time.perf_counter() - start)
                size[name] = len(body)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    return {
        "agents": agents,
        "rounds": rounds,
        "genai_freeze_ms": round(med["genai_freeze"], 4),
        "runtime_freeze_ms": round(med["runtime_freeze"], 4),
        "genai_render_ms": round(med["genai_render"], 4),
        "runtime_render_ms": round(med["runtime_render"], 4),
        "genai_bytes": size["genai"],
        "runtime_bytes": size["runtime"],
        "freeze_ratio": round(med["runtime_freeze"] / med["genai_freeze"], 3),
        "render_ratio": round(med["runtime_render"] / med["genai_render"], 3),
    }


def _log_filter(records: int) -> dict[str, Any]:
    from agentrt.telemetry import LogContextFilter
    from agentrt.telemetry._logs import turn_context

    filt, formatter = LogContextFilter(), logging.Formatter("%(levelname)s %(name)s %(message)s")
    token = turn_context.set(("agent-1", "1f", "gpt-4o-mini"))
    try:
        batch = [
            logging.LogRecord("bench", logging.INFO, __file__, 1, "turn %s", ("x",), None)
            for _ in range(records)
        ]
        start = time.perf_counter()
        for record in batch:
            filt.filter(record)
        filtered = time.perf_counter() - start
        start = time.perf_counter()
        for record in batch:
            formatter.format(record)
        formatted = time.perf_counter() - start
    finally:
        turn_context.reset(token)
    return {
        "filter_ns": round(filtered / records * 1e9, 1),
        "format_ns": round(formatted / records * 1e9, 1),
        "filter_over_format": round(filtered / formatted, 3),
    }


def main() -> None:
    parser = bench_parser(__doc__ or "")
    parser.add_argument("--agents", type=int, default=None, help="agents (default 2000)")
    parser.add_argument("--rounds", type=int, default=None, help="scrapes per collector")
    args = parser.parse_args()
    agents = args.agents or (200 if args.quick else 2000)
    rounds = args.rounds or (5 if args.quick else 30)
    out = asyncio.run(_scrapes(agents, rounds))
    out["log"] = _log_filter(2_000 if args.quick else 50_000)
    rows = [
        (
            "on the loop (freeze), ms",
            out["genai_freeze_ms"],
            out["runtime_freeze_ms"],
            out["freeze_ratio"],
        ),
        (
            "render (thread), ms",
            out["genai_render_ms"],
            out["runtime_render_ms"],
            out["render_ratio"],
        ),
        ("body, bytes", out["genai_bytes"], out["runtime_bytes"], ""),
        (
            "log record: filter / format, ns",
            out["log"]["format_ns"],
            out["log"]["filter_ns"],
            out["log"]["filter_over_format"],
        ),
    ]
    emit(
        out,
        as_json=args.json,
        title=f"Prometheus scrape at {agents} agents (median of {rounds})",
        rows=rows,
        columns=("", "GenAI histograms (peer)", "runtime metrics", "ratio"),
    )


if __name__ == "__main__":
    main()

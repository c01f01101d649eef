"""The runtime's Prometheus gauges and counters, scraped over HTTP from a running
runtime, and the shipped Grafana dashboard: it parses, and every metric it queries is
in a real scrape."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from importlib import resources
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from support.agents import Helper, fast_config

from agentrt.runtime import Runtime, RuntimeConfig, TelemetryConfig
from agentrt.telemetry import OTelConfig
from agentrt.telemetry._genai import SECONDS_BUCKETS, TOKEN_BUCKETS
from agentrt.telemetry._prometheus import RUNTIME_METRICS

_SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


def _config() -> RuntimeConfig:
    otel = OTelConfig(metrics="prometheus", prometheus_port=0)
    return replace(fast_config(), telemetry=TelemetryConfig(otel=otel))


async def _scrape() -> tuple[str, dict[str, Any]]:
    async with Runtime(_config()) as rt:
        for i in range(3):
            await rt.spawn(Helper, id=f"helper-{i}")
            await rt.ask(f"helper-{i}", '[[tool:weather {"city": "Oslo"}]]')
        await rt.passivate("helper-2")
        endpoint = rt.otel.prometheus
        assert endpoint is not None
        async with aiohttp.ClientSession() as http, http.get(endpoint.url) as resp:
            assert resp.status == 200
            text = await resp.text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return text, families


def _value(families: dict[str, Any], name: str, **labels: str) -> float:
    family = families[name]
    for sample in family.samples:
        if all(sample.labels.get(k) == v for k, v in labels.items()) and not sample.name.endswith(
            "_created"
        ):
            return float(sample.value)
    raise AssertionError(f"no sample of {name} with {labels}")


async def test_runtime_gauges_and_counters_in_a_real_scrape() -> None:
    text, families = await _scrape()
    for name in RUNTIME_METRICS:
        assert name in families, f"{name} missing from the scrape"
    assert _value(families, "agentrt_agents", state="live") == 2
    assert _value(families, "agentrt_agents", state="passivated") == 1
    assert _value(families, "agentrt_turns", outcome="ok") == 3
    assert _value(families, "agentrt_turn_latency_seconds", quantile="0.95") > 0
    assert _value(families, "agentrt_llm_requests", provider="mock", model="mock") >= 3
    assert _value(families, "agentrt_llm_tokens", provider="mock", model="mock", type="input") > 0
    assert _value(families, "agentrt_conversation_memory_bytes", tier="recent") > 0
    assert _value(families, "agentrt_conversation_memory_bytes", tier="compressed") >= 0
    assert _value(families, "agentrt_conversation_memory_bytes", tier="summary") == 0
    assert _value(families, "agentrt_store_operations", backend="memory") > 0
    put = {"backend": "memory", "operation": "put_many", "quantile": "0.99"}
    assert _value(families, "agentrt_store_operation_seconds", **put) > 0
    assert _value(families, "agentrt_llm_breakers", provider="mock", state="open") == 0
    assert _value(families, "agentrt_cache_requests", cache="tool", level="all", result="hit") == 0
    assert _value(families, "agentrt_memory_bytes", tier="process_rss") > 0
    assert _value(families, "agentrt_target_ok", target="response_p95_s") == 1
    memory = families["agentrt_memory_operation_duration_seconds"]
    count = next(s for s in memory.samples if s.name.endswith("_count"))
    assert count.value > 0
    assert "helper-" not in text  # never an agent id in a label


async def test_genai_histograms_use_the_advised_14_boundaries() -> None:
    _, families = await _scrape()
    for name, bounds in (
        ("gen_ai_invoke_agent_duration_seconds", SECONDS_BUCKETS),
        ("gen_ai_client_token_usage", TOKEN_BUCKETS),
    ):
        series = [s for s in families[name].samples if s.name.endswith("_bucket")]
        les = sorted({float(s.labels["le"]) for s in series})
        assert les == [*bounds, float("inf")]
    assert len(SECONDS_BUCKETS) == len(TOKEN_BUCKETS) == 14
    assert SECONDS_BUCKETS[0] == 0.01
    assert SECONDS_BUCKETS[-1] == 81.92
    assert TOKEN_BUCKETS[-1] == 4**13


def _dashboard() -> dict[str, Any]:
    path = resources.files("agentrt.telemetry") / "grafana" / "agentrt.json"
    return json.loads(path.read_text())


def _queried(dashboard: dict[str, Any]) -> set[str]:
    names = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names.update(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", target["expr"]))
    return names


async def test_grafana_dashboard_parses_and_queries_only_scraped_metrics() -> None:
    dashboard = _dashboard()
    assert dashboard["panels"]
    assert dashboard["uid"]
    queried = _queried(dashboard)
    assert {"agentrt_agents", "agentrt_loop_lag_seconds", "agentrt_llm_queue_depth"} <= queried
    _, families = await _scrape()
    declared = set(families)
    sampled = {s.name for f in families.values() for s in f.samples}
    for name in queried:
        base = name
        for suffix in _SUFFIXES:
            if name.endswith(suffix) and name[: -len(suffix)] in declared:
                base = name[: -len(suffix)]
        assert base in declared, f"the dashboard queries {name}, not in the scrape"
        if name != base or families[base].type not in ("counter", "histogram"):
            continue
    # the suffixed series a dashboard asks for are real sample names (histograms, counters)
    for name in queried:
        if name.endswith(("_bucket", "_sum")):
            assert name in sampled, name
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))

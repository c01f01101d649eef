"""The LLM pool benchmark runs (quick mode) and reports every client with no errors, on
both event loops, for JSON and streamed answers, with agentrt beside raw aiohttp."""

from __future__ import annotations

import gc
from typing import Any

from support.bench import quick_json

from agentrt.actor import SERVER_GC_THRESHOLDS
from loadtest.bench.llm_pool import _run_on

KEYS = {
    "rps",
    "overhead_p50_ms",
    "overhead_p95_ms",
    "overhead_p99_ms",
    "cpu_ms_per_req",
    "peak_rss_mib",
    "errors",
}
VERSUS = {
    "rps_ratio",
    "rps_ratio_per_round",
    "overhead_p95_ratio",
    "agentrt_rps",
    "aiohttp_rps",
    "agentrt_overhead_p95_ms",
    "aiohttp_overhead_p95_ms",
}


def test_llm_pool_bench_quick_json() -> None:
    # the fault mix has its own quick test (test_llm_faults.py); a full run does both
    result = quick_json("llm_pool", "--no-fault-mix")
    assert set(result) == {"gc", "results", "vs_aiohttp", "embeddings", "bars"}
    assert result["gc"] == "python"  # the default: Python's collector thresholds
    assert result["bars"]["agentrt_over_aiohttp"] > 0
    assert result["bars"]["agentrt_over_openai"] > 0
    runs = {tuple(key.split("/")) for key in result["results"]}
    assert {(mode, loop) for mode, loop, _ in runs} == {
        (mode, loop) for mode in ("json", "stream") for loop in ("asyncio", "uvloop")
    }
    base = {client for mode, loop, client in runs if (mode, loop) == ("json", "asyncio")}
    assert {key.split("@")[0] for key in base} == {"agentrt", "httpx", "aiohttp", "openai"}
    assert len({key.split("@")[1] for key in base}) == 2
    for key, figures in result["results"].items():
        assert set(figures) == KEYS, key
        assert figures["errors"] == 0, key
        assert figures["rps"] > 0, key
        assert (
            figures["overhead_p50_ms"] <= figures["overhead_p95_ms"] <= figures["overhead_p99_ms"]
        )
    # agentrt beside aiohttp for each mode and loop, at each C both ran
    assert {key.split("@")[0] for key in result["vs_aiohttp"]} == {
        f"{mode}/{loop}" for mode in ("json", "stream") for loop in ("asyncio", "uvloop")
    }
    for key, versus in result["vs_aiohttp"].items():
        assert set(versus) == VERSUS, key
        assert versus["rps_ratio"] == round(versus["agentrt_rps"] / versus["aiohttp_rps"], 3)
        assert len(versus["rps_ratio_per_round"]) == 1
    bars = result["bars"]
    assert bars["min_rps_ratio"] == min(v["rps_ratio"] for v in result["vs_aiohttp"].values())
    embeddings = result["embeddings"]
    assert embeddings["errors"] == 0
    assert embeddings["batched_rps"] > 0
    assert embeddings["unbatched_rps"] > 0
    # batching: one HTTP call per text without it, far fewer with it
    assert embeddings["unbatched_http_calls"] == embeddings["texts"]
    assert embeddings["batched_http_calls"] < embeddings["texts"] / 4


def test_gc_server_runs_a_client_with_agentrt_runs_thresholds() -> None:
    """``--gc server`` gives every client process ``agentrt.run``'s collector thresholds
    (a worker applies them before its loop starts); ``python`` leaves Python's."""

    async def thresholds() -> dict[str, Any]:
        return {"thresholds": gc.get_threshold()}

    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's defaults, whatever ran before
    try:
        assert _run_on("asyncio", thresholds(), "python")["thresholds"] == (700, 10, 10)
        got = _run_on("asyncio", thresholds(), "server")["thresholds"]
        assert got == SERVER_GC_THRESHOLDS
    finally:
        gc.set_threshold(*before)

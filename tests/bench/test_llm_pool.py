"""The LLM pool benchmark runs (quick mode) and reports every client with no errors."""

from __future__ import annotations

from support.bench import quick_json

KEYS = {
    "rps",
    "overhead_p50_ms",
    "overhead_p95_ms",
    "overhead_p99_ms",
    "cpu_ms_per_req",
    "peak_rss_mib",
    "errors",
}


def test_llm_pool_bench_quick_json() -> None:
    # the fault mix has its own quick test (test_llm_faults.py); a full run does both
    result = quick_json("llm_pool", "--no-fault-mix")
    assert set(result) == {"results", "embeddings", "bars"}
    assert result["bars"]["agentrt_over_aiohttp"] > 0
    clients = {key.split("@")[0] for key in result["results"]}
    assert clients == {"agentrt", "httpx", "aiohttp", "openai"}
    assert len({key.split("@")[1] for key in result["results"]}) == 2
    for key, figures in result["results"].items():
        assert set(figures) == KEYS, key
        assert figures["errors"] == 0, key
        assert figures["rps"] > 0, key
        assert (
            figures["overhead_p50_ms"] <= figures["overhead_p95_ms"] <= figures["overhead_p99_ms"]
        )
    embeddings = result["embeddings"]
    assert embeddings["errors"] == 0
    assert embeddings["batched_rps"] > 0
    assert embeddings["unbatched_rps"] > 0
    # batching: one HTTP call per text without it, far fewer with it
    assert embeddings["unbatched_http_calls"] == embeddings["texts"]
    assert embeddings["batched_http_calls"] < embeddings["texts"] / 4

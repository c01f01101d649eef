"""The transport comparison benchmark runs (quick mode) with every transport error-free."""

from __future__ import annotations

from support.bench import quick_json


def test_llm_transport_bench_quick_json() -> None:
    result = quick_json("llm_transport")
    assert set(result) == {"transports", "mock_server"}
    names = {key.split("@")[0] for key in result["transports"]}
    assert names == {"httpx", "httpx+agentrt", "httpx+httpx_aiohttp", "aiohttp"}
    for key, figures in result["transports"].items():
        assert set(figures) == {"rps", "cpu_ms_per_req", "errors"}, key
        assert figures["errors"] == 0, key
        assert figures["rps"] > 0, key
    assert result["mock_server"]["rps"] > 0
    assert result["mock_server"]["requests"] == 300  # quick

"""The fault-mix scenario (issue 14 §6) passes in quick mode, over real HTTP."""

from __future__ import annotations

from support.bench import quick_json


def test_fault_mix_quick_json() -> None:
    mix = quick_json("llm_faults")
    # the healthy model's callers see no error; the rate-limited model's callers see only
    # RateLimited whose retry_after exceeds their deadline
    assert mix["passed"], mix
    assert mix["models"]["model-c"]["errors"] == {}
    assert mix["models"]["model-c"]["ok"] == mix["requests_per_model"]
    assert set(mix["models"]["model-b"]["errors"]) == {"RateLimited"}
    assert mix["models"]["model-b"]["rate_limited_beyond_deadline"] == mix["requests_per_model"]
    assert mix["models"]["model-a"]["ok"] == 0
    assert mix["proxy"]["dropped_connections"] > 0  # the proxy did drop connections
    assert mix["proxy"]["status_429"] < mix["requests_per_model"]  # the swarm paused
    assert mix["breakers"]["chat:model-c"] == "closed"

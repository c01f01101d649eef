"""The memory benchmarks run (quick) and print the JSON their issue names."""

from __future__ import annotations

from typing import Any

from support.bench import quick_json


def _run(module: str) -> dict[str, Any]:
    result: dict[str, Any] = quick_json(module.removeprefix("loadtest.bench."))
    return result


def test_memory_bench_prints_the_issue_keys() -> None:
    result = _run("loadtest.bench.memory")
    assert set(result) == {
        "ops",
        "bytes_per_agent",
        "ratio",
        "context_whole_over_plain",
        "memory_bytes_accuracy",
    }
    accuracy = result["memory_bytes_accuracy"]
    assert {"english_200", "mixed_20", "mixed_200", "mixed_2000"} <= set(accuracy)
    assert all(0.9 <= ratio <= 1.1 for ratio in accuracy.values()), accuracy
    assert set(result["ops"]) == {
        "append",
        "context",
        "context_whole",
        "context_whole_plain",
        "history",
        "snapshot_sqlite",
        "snapshot_redis",
    }
    for figures in result["ops"].values():
        assert set(figures) == {"p50_us", "p99_us"}
        assert 0 < figures["p50_us"] <= figures["p99_us"]
    assert set(result["bytes_per_agent"]) == {"200", "2000"}
    for held in result["bytes_per_agent"].values():
        assert set(held) == {"agentrt", "plain"}
        assert 0 < held["agentrt"] < held["plain"]
    assert result["bytes_per_agent"]["2000"]["plain"] > result["bytes_per_agent"]["200"]["plain"]
    assert result["context_whole_over_plain"] > 0
    assert result["ratio"] > 1.5  # sealed chunks are compressed (the figure itself is the bench's)


def test_memory_codec_bench_compares_the_encodings() -> None:
    result = _run("loadtest.bench.memory_codec")
    assert {"msgspec-msgpack", "msgspec-json", "orjson"} <= set(result["encodings"])
    assert {"1", "3", "6"} <= set(result["levels"])
    assert result["dictionary"]["samples"] == 2000
    for figures in result["encodings"].values():
        assert figures["stored_bytes_per_msg"] < figures["raw_bytes_per_msg"]


def test_memory_bench_real_text_mode_reports_short_and_long_beside_their_peers() -> None:
    result = quick_json("memory", "--real-text")
    assert set(result) == {
        "dictionary",
        "corpus",
        "short",
        "long",
        "resident_6_messages",
        "passivated_6_messages",
    }
    assert result["dictionary"]["trainings"] >= 1  # trained from short chats' sampled text
    assert result["dictionary"]["peer_samples"] == result["dictionary"]["samples_before_training"]
    assert result["short"]["median_messages"] <= 10
    assert result["long"]["median_messages"] == 2000
    for part in (result["short"], result["long"]):
        assert set(part["ratio"]) == {
            "agentrt_snapshot",
            "agentrt_at_rest",
            "zstd_l3",
            "zstd_dict_l3",
            "zstd_l6",
            "zstd_dict_l6",
        }
        assert all(1.0 < ratio < 50 for ratio in part["ratio"].values()), part
        assert part["bytes"]["agentrt_snapshot"] < part["bytes"]["json"]
    held = result["resident_6_messages"]
    names = (
        "plain",
        "plain_encoded",
        "messages",
        "encoded",
        "agentrt",
        "agentrt_encoded",
        "agentrt_stored",
    )
    assert all(held[k] > 0 for k in names)
    assert held["agentrt_stored_over_plain"] == round(held["agentrt_stored"] / held["plain"], 3)
    assert sum(held["breakdown"].values()) == held["agentrt"] - held["plain"]
    assert held["utf8_copies"] == held["encoded"] - held["messages"]
    passivated = result["passivated_6_messages"]
    assert passivated["agents"] > 0
    assert 0 < passivated["store_record_bytes"] < passivated["json_bytes"]
    assert passivated["resident_per_agent"] > passivated["store_record_bytes"]
    assert passivated["call_timers"] >= 0


def test_memory_codec_bench_real_text_mode() -> None:
    result = quick_json("memory_codec", "--real-text")
    assert result["dictionary"]["samples"] == 2000
    assert result["dictionary"]["ratio_none"] > 1.0
    assert result["dictionary"]["ratio_trained"] > 1.0
    for figures in result["encodings"].values():
        assert figures["stored_bytes_per_msg"] < figures["raw_bytes_per_msg"]

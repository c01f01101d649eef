from __future__ import annotations

from support.bench import quick_json


def test_semantic_cache_bench_quick_json() -> None:
    result = quick_json("semantic_cache")
    assert set(result) == {
        "dataset",
        "default_threshold",
        "curves",
        "recommended",
        "lookup",
        "peers",
    }
    assert result["dataset"]["same_pairs"] > 0
    assert result["dataset"]["different_pairs"] > 0
    lexical = result["curves"]["lexical"]
    assert [row["threshold"] for row in lexical] == sorted(row["threshold"] for row in lexical)
    for rows in result["curves"].values():
        if rows == "not installed":
            continue
        for row in rows:
            for rate in ("hit_rate", "false_hit_rate", "lookup_hit_rate", "wrong_answer_rate"):
                assert 0.0 <= row[rate] <= 1.0
        # a higher threshold never hits more
        hit_rates = [row["hit_rate"] for row in rows]
        assert hit_rates == sorted(hit_rates, reverse=True)
    assert [row["entries"] for row in result["lookup"]] == [1_000, 10_000]
    for row in result["lookup"]:
        assert row["search_p50_us"] > 0
        assert row["search_p99_us"] >= row["search_p50_us"]
    assert result["peers"]["embed_http_p50_us"] > 0

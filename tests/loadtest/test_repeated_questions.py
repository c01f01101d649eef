"""The repeated-questions scenario (issue 15 §2) end to end through the CLI, briefly: a
swarm asking the same questions over real HTTP to the mock LLM server in its own process,
with the LLM response cache on. Its verdict is the cache's hit ratio and the savings
the report shows, never a timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrt.cli import main
from agentrt.cli._loadtest import EXIT_THRESHOLDS


def test_repeated_questions_hit_the_cache_and_report_the_savings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["loadtest", "run", "repeated_questions", "--no-live", "--out", str(tmp_path)]
    code = main([*args, "--agents", "40", "--turns", "3"])
    out = capsys.readouterr().out
    [path] = tmp_path.glob("*.json")
    report = json.loads(path.read_text())
    untimed = [t for t in report["thresholds"] if report["units"][t["metric"]] not in {"s"}]
    assert all(t["ok"] for t in untimed), report["thresholds"]
    assert code == (0 if report["passed"] else EXIT_THRESHOLDS), out
    cache = report["llm_cache"]
    # 40 agents x 3 turns with equal histories: 3 distinct requests, the rest are hits
    assert cache["lookups"] == report["accounting"]["answered"] == 120
    assert (cache["misses"], cache["hits"]) == (3, 117)
    assert report["figures"]["llm_cache_hit_ratio"] == cache["hit_ratio"] >= 0.8
    assert report["faults"]["llm_server"]["chat"] == 3  # only the misses reached the server
    assert cache["tokens_saved"] == report["figures"]["llm_cache_tokens_saved"] > 0
    assert cache["by_model"]["mock"]["hits"] == 117
    assert cache["agents_with_hits"] >= 39
    assert cache["summary"].startswith("LLM cache saved $")
    assert "hit ratio 97.5%" in cache["summary"]
    assert "hit ratio 97.5%" in out  # the end table
    [html] = tmp_path.glob("*.html")
    assert "LLM response cache" in html.read_text()

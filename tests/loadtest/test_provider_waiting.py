"""Callers held at a provider's concurrency limit are counted (``LLMPool.waiting``) and
shown: in ``agentrt loadtest run``'s live view and in ``agentrt top``."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from rich.console import Console
from support.waiting import eventually

import agentrt
from agentrt.cli._loadtest import read_scenario
from agentrt.cli._top import Frame, render_summary
from agentrt.llm import MockServerConfig, RetryPolicy, serve_mock_llm
from agentrt.loadtest._collect import Sample
from agentrt.loadtest._engine import LoadRun
from agentrt.loadtest._live import live_panel


def _text(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=120)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


async def test_callers_over_the_provider_limit_are_counted_and_shown_by_top() -> None:
    async with serve_mock_llm(MockServerConfig(hang_rate=1.0)) as server:  # answers nothing
        llm = agentrt.OpenAI(
            base_url=server.url, model="m", max_concurrency=1, retry=RetryPolicy(max_retries=0)
        )
        async with agentrt.Runtime(llm=llm) as rt:
            await rt.spawn_swarm(agentrt.Agent, 3)
            asks = [asyncio.create_task(rt.ask(f"agent-{i}", "hi")) for i in range(3)]
            await eventually(lambda: rt.llm.waiting() == 2, what="two callers waiting")
            text = _text(render_summary(Frame(url="u", summary=rt.telemetry.summary())))
            for task in asks:
                task.cancel()
            await asyncio.gather(*asks, return_exceptions=True)
    assert "waiting on provider limit" in text
    assert "1 / 2 (limit 1)" in text


def test_the_live_view_says_how_many_wait_on_the_provider_limit(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[agents]\ncount = 1\nturns = 1\n")
    run = LoadRun(read_scenario(str(path)))
    assert "waiting on provider limit" in _text(live_panel(run))  # 0 before any sample
    sample = Sample(
        t=1.0, active_agents=1, turns_per_s=0.0, response_p50=None, response_p95=None,
        response_p99=None, errors=0, rss_bytes=0, restarts=0, cache_hit_ratio=None,
        loop_lag=0.0, llm_waiting=37,
    )  # fmt: skip
    run.series.add(sample)
    assert any(
        "waiting on provider limit" in line and "37" in line
        for line in _text(live_panel(run)).splitlines()
    )

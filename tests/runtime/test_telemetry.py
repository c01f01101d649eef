"""Telemetry wired through the runtime: per-agent stats, spans, sources, targets."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from support.agents import Helper, fast_config
from support.waiting import eventually

from agentrt.runtime import Runtime, TelemetryConfig
from agentrt.telemetry import Targets


async def test_agent_stats_and_snapshot() -> None:
    async with Runtime(fast_config()) as rt:
        await rt.spawn(Helper, id="h")
        await rt.ask("h", "hello")
        await rt.ask("h", '[[tool:weather {"city": "Oslo"}]]')
        await rt.ask("h", '[[tool:weather {"city": "Oslo"}]]')
        view = rt.telemetry.agent("h")
        assert view is not None
        assert view["turns"] == 3
        assert view["tool_calls"] == 2
        assert view["tokens_in"] > 0
        # the pool reported each LLM request into the same record: 1 + 2 + 2
        assert view["llm_requests"] == 5
        assert view["llm_s"] > 0
        assert view["bytes_held"] > 0
        assert view["state"] == "idle"
        assert view["mailbox"] == 0
        snap = rt.telemetry.snapshot()
        json.dumps(snap)
        assert {"summary", "node", "agents", "turns", "llm", "tools", "store"} <= set(snap)
        summary = snap["summary"]
        assert summary["turns"]["ok"] == 3
        assert summary["memory_op_ms"]["count"] >= 9  # appends and contexts, timed
        assert summary["agents"]["live"] == 1
        assert summary["llm"]["requests"] == 5
        assert summary["cache"] == {"hits": 0, "misses": 0, "hit_ratio": 0.0}  # no cached tool
        assert "loop_lag_ms" in summary
        assert snap["agents"]["live"] == 1
        assert snap["turns"]["lost"] == 0


async def test_turn_chat_and_tool_spans_nest() -> None:
    async with Runtime(fast_config()) as rt:
        seen: list[tuple[str, ...]] = []

        def on_event(name: Any, m: Any, meta: Any, state: Any) -> None:
            seen.append(name[1:])

        names = [
            (*prefix, phase)
            for prefix in [("agentrt", "agent", "turn"), ("agentrt", "llm", "chat"),
                           ("agentrt", "tool", "call")]
            for phase in ("start", "stop", "exception")
        ]  # fmt: skip
        rt.telemetry.events.attach("test", names, on_event)
        await rt.spawn(Helper, id="h")
        await rt.ask("h", '[[tool:weather {"city": "Rome"}]]')
        assert seen == [
            ("agent", "turn", "start"),
            ("llm", "chat", "start"),
            ("llm", "chat", "stop"),
            ("tool", "call", "start"),
            ("tool", "call", "stop"),
            ("llm", "chat", "start"),
            ("llm", "chat", "stop"),
            ("agent", "turn", "stop"),
        ]


async def test_a_breached_target_is_reported_by_the_tick() -> None:
    cfg = replace(
        fast_config(),
        telemetry=TelemetryConfig(targets=Targets(response_p95_s=0.0), window_s=0.1),
    )
    async with Runtime(cfg) as rt:
        breaches: list[str] = []
        rt.telemetry.events.attach(
            "b",
            ("agentrt", "target", "breach"),
            lambda n, m, meta, s: breaches.append(meta["target"]),
        )
        await rt.spawn(Helper, id="h")
        await rt.ask("h", "slow enough for a 0 s target")
        await eventually(lambda: breaches, what="a breach reported by the tick")
        assert set(breaches) == {"response_p95_s"}  # each tick may report it again
        statuses = rt.telemetry.snapshot()["summary"]["targets"]
        assert any(s["name"] == "response_p95_s" for s in statuses)


async def test_stats_off_gives_the_pool_no_recorder() -> None:
    on, off = fast_config(), replace(fast_config(), telemetry=TelemetryConfig(stats=False))
    async with Runtime(on) as rt:
        assert rt.llm.recorder is rt.telemetry
    async with Runtime(off) as rt:
        assert rt.llm.recorder is None
        await rt.spawn(Helper, id="h")
        await rt.ask("h", "hello")
        view = rt.telemetry.agent("h")
        assert view is not None
        assert (view["turns"], view["llm_requests"], view["tokens_in"]) == (0, 0, 0)


async def test_a_passivated_agent_keeps_its_stats_packed_and_no_actor_ref() -> None:
    async with Runtime(fast_config()) as rt:
        await rt.spawn(Helper, id="h")
        await rt.ask("h", "hello")
        await rt.ask("h", '[[tool:weather {"city": "Oslo"}]]')
        before = rt.telemetry.agent("h")
        assert before is not None
        assert await rt.passivate("h")
        slot = rt.directory.slot("h")
        assert slot is not None
        assert slot.passive
        assert slot.ref is None  # the dead incarnation's ref is not kept
        assert isinstance(rt.telemetry._agents["h"], bytes)  # parked
        after = rt.telemetry.agent("h")
        assert after == {**before, "state": "passivated", "mailbox_max": 0}
        assert [v["id"] for v in rt.telemetry.top(1, by="turns")] == ["h"]
        await rt.ask("h", "again")  # reactivated: the record goes on from where it was
        view = rt.telemetry.agent("h")
        assert view is not None
        assert view["turns"] == before["turns"] + 1
        assert view["llm_requests"] > before["llm_requests"]
        assert view["state"] == "idle"

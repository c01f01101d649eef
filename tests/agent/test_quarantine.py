"""An agent whose stored conversation is damaged: quarantined and fresh, or failing to
start with ``on_corrupt="fail"``; with real SQLite and a real Redis (issue 13 §7)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.agents import Chatty, fast_config

from agentrt.memory import QUARANTINE_EVENT, ConversationConfig, CorruptSnapshot
from agentrt.runtime import Runtime, RuntimeConfig, StoreConfig


@pytest.fixture(params=["sqlite", "redis"])
def config(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, redis_prefix: str
) -> RuntimeConfig:
    if request.param == "sqlite":
        store = StoreConfig(kind="sqlite", path=str(tmp_path / "a.db"))
    else:
        store = StoreConfig(kind="redis", url=redis_url, prefix=redis_prefix)
    return replace(fast_config(), store=store)


async def _history(rt: Runtime, agent_id: str) -> list[str]:
    return [m.content for m in await rt.call(agent_id, "history")]


async def test_a_damaged_conversation_is_quarantined_and_the_agent_starts_fresh(
    config: RuntimeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    async with Runtime(config) as rt:
        await rt.spawn(Chatty, id="c")
        for i in range(40):  # sealed chunks and a message log
            await rt.ask("c", f"turn {i}")
        assert await rt.passivate("c")
        good = await rt.store.get_many(await rt.store.keys("agent/c/"))
        await rt.store.put("agent/c/head", b"AGRTCONV\x01garbage")
        seen: list[tuple[dict[str, float], dict[str, Any]]] = []
        rt.telemetry.events.attach(
            "t", QUARANTINE_EVENT, lambda _n, m, meta, _s: seen.append((dict(m), dict(meta)))
        )
        with caplog.at_level(logging.ERROR):
            assert (await rt.ask("c", "again")).text == "echo: again"
        assert await _history(rt, "c") == ["again", "echo: again"]
        assert rt.stats()["corrupt_snapshots"] == 1
        [(measured, meta)] = seen
        assert meta["agent_id"] == "c"
        assert measured["records"] == len(good)
        moved = meta["quarantine_key"]
        kept = await rt.store.get_many(await rt.store.keys(moved))
        assert len(kept) == len(good)
        assert sorted(v for k, v in kept.items() if not k.endswith("/head")) == sorted(
            v for k, v in good.items() if not k.endswith("/head")
        )  # the good chunks and log records are all there, byte for byte
        assert kept[moved + "head"] == b"AGRTCONV\x01garbage"
    assert any(moved in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


async def test_on_corrupt_fail_fails_the_start_and_keeps_the_data(
    config: RuntimeConfig,
) -> None:
    cfg = replace(config, memory=ConversationConfig(on_corrupt="fail"))
    async with Runtime(cfg) as rt:
        await rt.store.put("agent/d/head", b"garbage")
        await rt.spawn(Chatty, id="d")  # registered; the load runs before its first message
        with pytest.raises(CorruptSnapshot, match="agent/d/head"):
            await rt.ask("d", "hello")
        with pytest.raises(CorruptSnapshot, match="agent/d/head"):
            await rt.ask("d", "again")  # its next message activates it: fails again
        assert await rt.store.get("agent/d/head") == b"garbage"
        assert await rt.store.keys("quarantine/") == []
        assert rt.stats()["corrupt_snapshots"] == 2
        agents = await rt.supervision.agents_stats()
        assert agents is not None
        assert agents.restarts == 0  # a failed start is not restarted
        assert rt.supervision.stats().shutdowns == 0

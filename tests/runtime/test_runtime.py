"""The runtime: supervision, passivation, addressing, accounting, config, shutdown."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.agents import Chatty, Helper, ToolGate, fast_config
from support.waiting import eventually

from agentrt.agent import AgentCrashed, AgentExists, AgentNotFound, Reply
from agentrt.errors import ConfigError
from agentrt.runtime import Runtime, RuntimeConfig, StoreConfig


@pytest.fixture
async def rt() -> Any:
    async with Runtime(fast_config()) as runtime:
        yield runtime


async def history(rt: Runtime, agent_id: str) -> list[str]:
    return [m.content for m in await rt.call(agent_id, "history")]


async def test_spawn_ids_and_lookup(rt: Runtime) -> None:
    ref = await rt.spawn(Chatty, id="c1", greeting="hey")
    assert rt.agent("c1") == ref
    assert ref.actor is not None
    with pytest.raises(AgentExists):
        await rt.spawn(Chatty, id="c1")
    with pytest.raises(AgentNotFound):
        rt.agent("nobody")
    with pytest.raises(AgentNotFound):
        await rt.ask("nobody", "hi")
    with pytest.raises(ConfigError, match="id"):
        await rt.spawn(Chatty, id="")
    assert await ref.call("there") == "hey there"


async def test_crash_mid_turn_fails_the_caller_and_restarts_from_snapshot(rt: Runtime) -> None:
    await rt.spawn(Chatty, id="c")
    await rt.ask("c", "remember the number 42")
    old = rt.agent("c").actor
    slow = asyncio.ensure_future(rt.ask("c", "[[words:10]] and more"))
    await asyncio.sleep(0)
    assert await rt.inject_crash("c")
    with pytest.raises(AgentCrashed) as info:
        await slow
    assert info.value.cause == "killed"
    reply = await rt.ask("c", "what was the number?")  # the restarted incarnation answers
    assert reply.text == "echo: what was the number?"
    assert rt.agent("c").actor != old
    assert "remember the number 42" in await history(rt, "c")
    assert rt.turn_stats().lost == 0
    assert rt.stats()["agents"]["restarts"] == 1


async def test_passivation_and_transparent_reactivation(rt: Runtime) -> None:
    await rt.spawn(Chatty, id="c")
    await rt.ask("c", "first")
    assert await rt.passivate("c")
    assert rt.agent("c").actor is None
    assert rt.stats()["agents"] == {"total": 1, "live": 0, "passivated": 1, "restarts": 0}
    assert (await rt.ask("c", "second")).text == "echo: second"
    msgs = await history(rt, "c")
    assert msgs[-4:] == ["first", "echo: first", "second", "echo: second"]
    assert not await rt.passivate("nobody-else") if "nobody-else" in rt else True


async def test_idle_agents_are_passivated_by_the_sweeper() -> None:
    async with Runtime(fast_config(idle_timeout_s=0.05, sweep_interval_s=0.02)) as rt:
        await rt.spawn_swarm(Chatty, 20)
        await eventually(lambda: rt.stats()["agents"]["passivated"] == 20, what="20 passivated")
        assert (await rt.ask("agent-3", "wake up")).text == "echo: wake up"


async def test_passivation_refused_while_busy(rt: Runtime) -> None:
    gate = ToolGate()

    class Held(Helper):
        tools = (gate.tool,)

    await rt.spawn(Held, id="h")
    busy = asyncio.ensure_future(rt.ask("h", "[[tool:held {}]]"))
    await gate.entered.wait()
    passivate = asyncio.ensure_future(rt.passivate("h"))  # queued behind the busy turn
    await asyncio.sleep(0)
    queued = asyncio.ensure_future(rt.ask("h", "queued"))  # and this one behind it
    actor = rt.agent("h").actor
    assert actor is not None
    await eventually(lambda: actor.stats().depth == 2, what="both queued behind the turn")
    gate.opened.set()
    assert await passivate is False  # a message was waiting: refused
    await busy
    assert (await queued).text == "echo: queued"
    assert rt.agent("h").actor is not None


async def test_lazy_swarm_activates_on_first_message(rt: Runtime) -> None:
    ids = await rt.spawn_swarm(Chatty, 1000, prefix="lazy-", lazy=True)
    assert len(ids) == 1000
    assert rt.stats()["agents"]["live"] == 0
    replies = await asyncio.gather(*(rt.ask(i, "hi") for i in ids[:50]))
    assert {r.text for r in replies} == {"echo: hi"}
    assert rt.stats()["agents"]["live"] == 50


async def test_concurrent_activation_starts_one_incarnation(rt: Runtime) -> None:
    await rt.spawn_swarm(Chatty, 1, prefix="solo-", lazy=True)
    replies = await asyncio.gather(*(rt.ask("solo-0", f"m{i}") for i in range(30)))
    assert len(replies) == 30
    assert rt.node.stats().crashes == 0
    assert len([m for m in await history(rt, "solo-0") if m.startswith("m")]) == 30


async def test_agent_to_agent_ask_and_tell(rt: Runtime) -> None:
    from agentrt.actor import Caller
    from agentrt.agent import Agent

    class Router(Agent):
        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            if not isinstance(msg, tuple):  # turns, passivation
                return await super().handle_call(msg, caller)
            kind, worker, text = msg
            if kind == "ask":
                return (await self.ask(worker, text)).text
            await self.tell(worker, text, tag="t1")
            return "sent"

    await rt.spawn(Router, id="r")
    await rt.spawn(Chatty, id="w")
    assert await rt.call("r", ("ask", "w", "do it")) == "echo: do it"
    await rt.spawn(Chatty, id="r2")

    class Teller(Chatty):
        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            if isinstance(msg, tuple):
                await self.tell(msg[1], msg[2], tag="t1")
                return "sent"
            return await super().handle_call(msg, caller)

    await rt.spawn(Teller, id="t")
    assert await rt.call("t", ("tell", "w", "later")) == "sent"
    received = await eventually(lambda: rt.call("t", "received"), what="the reply told back")
    assert len(received) == 1
    assert isinstance(received[0], Reply)
    assert received[0].text == "echo: later"
    assert received[0].tag == "t1"


async def test_agent_passes_a_received_deadline_on_to_its_peers(rt: Runtime) -> None:
    """A deadline received outside a turn (in a plain call) reaches the worker's turn:
    the worker, whose own turn_timeout is 60 s, stops at it."""
    from agentrt.actor import Caller
    from agentrt.agent import Agent, TurnError, TurnTimeout

    class Router(Agent):
        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            if not isinstance(msg, tuple):  # turns, passivation
                return await super().handle_call(msg, caller)
            worker, deadline = msg
            try:
                await self.ask(worker, '[[tool:slow {"seconds": 300}]]', deadline=deadline)
            except TurnTimeout as exc:
                return exc.agent_id
            return "answered"

    await rt.spawn(Router, id="r")
    await rt.spawn(Helper, id="w")
    loop = asyncio.get_running_loop()
    # without the deadline, the router's ask would outlive this call's 60 s timeout
    assert await rt.call("r", ("w", loop.time() + 0.1), timeout=60) == "w"

    class Collector(Chatty):
        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            if isinstance(msg, tuple):
                await self.tell(msg[1], '[[tool:slow {"seconds": 30}]]', deadline=msg[2])
                return "sent"
            return await super().handle_call(msg, caller)

    await rt.spawn(Collector, id="c")
    assert await rt.call("c", ("tell", "w", loop.time() + 0.1)) == "sent"
    # the worker's TurnError arrives once its turn hit the deadline
    received = await eventually(lambda: rt.call("c", "received"), what="the TurnError")
    assert len(received) == 1
    assert isinstance(received[0], TurnError)
    assert isinstance(received[0].error, TurnTimeout)


async def test_accounting_holds_under_chaos(rt: Runtime) -> None:
    ids = await rt.spawn_swarm(Chatty, 30)
    outcomes: list[str] = []

    async def user(agent_id: str) -> None:
        for i in range(10):
            try:
                await rt.ask(agent_id, f"turn {i} [[words:5]]", timeout=60)
                outcomes.append("ok")
            except AgentCrashed:
                outcomes.append("crashed")

    async def chaos() -> None:
        for k in range(15):
            await asyncio.sleep(0.001)
            await rt.inject_crash(ids[k % len(ids)])

    await asyncio.gather(*(user(i) for i in ids), chaos())
    stats = rt.turn_stats()
    assert stats.accepted == 300
    assert stats.answered + stats.failed == 300
    assert stats.answered == outcomes.count("ok")
    assert stats.in_flight == 0
    assert stats.lost == 0
    # every agent survived its crashes
    assert all(r.text for r in await asyncio.gather(*(rt.ask(i, "alive?") for i in ids)))


async def test_conversations_survive_a_runtime_restart_with_sqlite(tmp_path: Path) -> None:
    cfg = replace(fast_config(), store=StoreConfig(kind="sqlite", path=str(tmp_path / "a.db")))
    async with Runtime(cfg) as rt:
        await rt.spawn(Chatty, id="c")
        await rt.ask("c", "persist me")
    async with Runtime(cfg) as rt2:
        await rt2.spawn(Chatty, id="c")
        assert "persist me" in await history(rt2, "c")


async def test_corrupt_conversation_starts_fresh_and_is_reported(rt: Runtime) -> None:
    await rt.spawn(Chatty, id="c")
    await rt.ask("c", "hello")
    assert await rt.passivate("c")
    await rt.store.put("agent/c/head", b"garbage")
    assert (await rt.ask("c", "again")).text == "echo: again"
    assert rt.stats()["corrupt_snapshots"] == 1


async def test_config_file_errors_name_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "agentrt.toml"
    path.write_text('[store]\nkind = "sqlite"\n\n[agents]\nidle_timout_s = 3\n')
    with pytest.raises(ConfigError) as info:
        RuntimeConfig.load(path)
    assert "agents.idle_timout_s" in str(info.value)
    assert "did you mean 'idle_timeout_s'" in str(info.value)
    assert f"{path}:5" in str(info.value)
    path.write_text('[store]\nkind = "sqlite"\npath = "x.db"\n')
    cfg = RuntimeConfig.load(path, env={"AGENTRT_AGENTS__IDLE_TIMEOUT_S": "30"})
    assert cfg.store.kind == "sqlite"
    assert cfg.agents.idle_timeout_s == 30.0


async def test_a_service_failing_at_start_raises_its_own_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentrt.llm import PoolConfig, ProviderConfig

    monkeypatch.delenv("AGENTRT_TEST_UNSET_KEY", raising=False)
    provider = ProviderConfig(
        name="remote",
        kind="openai",
        base_urls=("http://127.0.0.1:9/v1",),
        api_key_env="AGENTRT_TEST_UNSET_KEY",
    )
    rt = Runtime(replace(fast_config(), llm=PoolConfig(providers=(provider,))))
    with pytest.raises(ConfigError, match=r"providers\[remote\]\.api_key_env") as info:
        await rt.start()
    assert "AGENTRT_TEST_UNSET_KEY" in str(info.value)
    assert len(rt.node) == 0
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current] == []


async def test_shutdown_is_ordered_and_leaves_nothing_running(tmp_path: Path) -> None:
    cfg = replace(fast_config(), store=StoreConfig(kind="sqlite", path=str(tmp_path / "s.db")))
    rt = Runtime(cfg)
    async with rt:
        await rt.spawn_swarm(Chatty, 50)
        await asyncio.gather(*(rt.ask(f"agent-{i}", "hi") for i in range(50)))
    assert len(rt.node) == 0
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current] == []


async def test_over_real_http_against_the_mock_server() -> None:
    from agentrt.llm import PoolConfig, ProviderConfig
    from agentrt.testing import serve_mock_llm

    async with serve_mock_llm() as server:
        provider = ProviderConfig(name="local", kind="openai", base_urls=(server.url,))
        cfg = replace(fast_config(), llm=PoolConfig(providers=(provider,)))
        async with Runtime(cfg) as rt:
            await rt.spawn(Helper, id="h", model="mock")
            reply = await rt.ask("h", 'weather [[tool:weather {"city": "Lima"}]]')
            assert reply.text == 'tool result: {"city":"Lima","temp_c":18}'
            stream = rt.stream("h", "[[words:12]]")
            assert len([d async for d in stream]) > 1
        assert server.state.counts["chat"] == 2
        assert server.state.counts["stream"] == 1


async def test_tell_to_an_agent_that_crashes_gets_a_turn_error(rt: Runtime) -> None:
    from agentrt.actor import Caller
    from agentrt.agent import TurnError

    class Teller(Chatty):
        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            if isinstance(msg, tuple):
                await self.tell(msg[1], msg[2], tag="doomed")
                return "sent"
            return await super().handle_call(msg, caller)

    gate = ToolGate()

    class Held(Helper):
        tools = (gate.tool,)

    await rt.spawn(Teller, id="t")
    await rt.spawn(Held, id="victim")
    await rt.call("t", ("tell", "victim", "[[tool:held {}]]"))
    await gate.entered.wait()  # the turn is running its tool
    assert await rt.inject_crash("victim")
    received = await eventually(lambda: rt.call("t", "received"), what="the TurnError")
    assert len(received) == 1
    assert isinstance(received[0], TurnError)
    assert isinstance(received[0].error, AgentCrashed)
    assert received[0].tag == "doomed"
    assert rt.turn_stats().lost == 0


async def test_respond_override_fans_out_with_the_turn_deadline(rt: Runtime) -> None:
    from agentrt.agent import Agent, Turn, TurnTimeout

    class Router(Agent):
        async def respond(self, turn: Turn) -> Reply:
            assert self.deadline is not None
            earlier = self.deadline - 1.0  # room for the router to answer on a busy machine
            outcomes = []
            for worker in ("w1", "w2"):
                try:
                    outcomes.append((await self.ask(worker, turn.text, deadline=earlier)).text)
                except TurnTimeout:
                    outcomes.append("timeout")
            return self.make_reply(turn, " | ".join(outcomes))

    await rt.spawn(Router, id="r")
    await rt.spawn(Chatty, id="w1")
    await rt.spawn(Helper, id="w2")
    reply = await rt.ask("r", "ping", timeout=5)
    assert reply.text == "echo: ping | echo: ping"
    slow = await rt.ask("r", '[[tool:slow {"seconds": 300}]]', timeout=2.0)
    assert slow.text.endswith("| timeout")

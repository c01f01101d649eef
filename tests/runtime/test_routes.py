"""Routes and activation by id (virtual agents): an id a route names is activated by its
first message, from its stored conversation when it has one, exactly once however many
callers race; an id no route names raises ``UnknownAgent`` naming the routes."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest
from support.agents import Chatty, fast_config
from support.waiting import eventually

from agentrt.actor import Caller
from agentrt.agent import Agent, AgentNotFound, NotAnAgent, UnknownAgent
from agentrt.errors import ConfigError
from agentrt.runtime import Runtime, StoreConfig


@pytest.fixture
async def rt() -> Any:
    async with Runtime(fast_config()) as runtime:
        yield runtime


class Gated(Agent):
    """Counts its activations; each waits at ``gate`` (open by default) in ``setup``."""

    setups: ClassVar[int] = 0
    gate: ClassVar[asyncio.Event]

    async def setup(self) -> None:
        type(self).setups += 1
        await type(self).gate.wait()

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        if msg == "history":
            return [m.content for m in await self.conversation.history()]
        if msg == "model":
            return self.model
        return await super().handle_call(msg, caller)


def _reset_gated(*, open_gate: bool = True) -> asyncio.Event:
    Gated.setups = 0
    Gated.gate = asyncio.Event()
    if open_gate:
        Gated.gate.set()
    return Gated.gate


async def test_an_ask_to_a_routed_id_activates_a_fresh_agent(rt: Runtime) -> None:
    _reset_gated()
    route = rt.route("support:", Gated)
    assert rt.routes == (route,)
    assert "support:42" not in rt
    reply = await rt.ask("support:42", "hello")
    assert reply.text == "echo: hello"
    assert "support:42" in rt
    assert Gated.setups == 1
    assert await rt.call("support:42", "history") == ["hello", "echo: hello"]
    assert rt.agent_counts() == {"total": 1, "live": 1, "passivated": 0, "restarts": 0}


async def test_hundred_racing_asks_for_a_new_id_activate_it_exactly_once(rt: Runtime) -> None:
    gate = _reset_gated(open_gate=False)
    rt.route("support:", Gated)
    asks = [asyncio.ensure_future(rt.ask("support:42", f"m{i}")) for i in range(100)]
    await eventually(lambda: Gated.setups == 1, what="the activation reached setup")
    assert not any(task.done() for task in asks)  # all 100 wait on that one activation
    gate.set()
    replies = await asyncio.gather(*asks)
    assert sorted(r.text for r in replies) == sorted(f"echo: m{i}" for i in range(100))
    assert Gated.setups == 1
    assert rt.agent_counts() == {"total": 1, "live": 1, "passivated": 0, "restarts": 0}
    assert rt.turn_stats().answered == 100


async def test_a_passivated_routed_agent_comes_back_with_its_conversation(rt: Runtime) -> None:
    _reset_gated()
    rt.route("support:", Gated)
    await rt.ask("support:7", "my name is Ada")
    assert await rt.passivate("support:7")
    assert rt.agent_counts()["passivated"] == 1
    await rt.ask("support:7", "what is my name?")
    history = await rt.call("support:7", "history")
    assert history[:2] == ["my name is Ada", "echo: my name is Ada"]
    assert Gated.setups == 2  # two incarnations, one conversation


async def test_a_new_runtime_activates_a_routed_id_from_its_snapshot(tmp_path: Path) -> None:
    _reset_gated()
    cfg = replace(fast_config(), store=StoreConfig(kind="sqlite", path=str(tmp_path / "a.db")))
    async with Runtime(cfg) as first:
        first.route("support:", Gated)
        await first.ask("support:9", "persist me")
    async with Runtime(cfg) as second:
        second.route("support:", Gated)
        await second.ask("support:9", "again")
        history = await second.call("support:9", "history")
        fresh = await _history_of(second, "support:10")
    assert history == ["persist me", "echo: persist me", "again", "echo: again"]
    assert fresh == []


async def _history_of(rt: Runtime, agent_id: str) -> list[str]:
    result: list[str] = await rt.call(agent_id, "history")  # activates it, asks nothing
    return result


async def test_an_id_no_route_names_raises_unknown_agent_naming_the_routes(
    rt: Runtime,
) -> None:
    with pytest.raises(UnknownAgent, match=r"routes: none"):
        await rt.ask("sales:1", "hi")
    rt.route("support:", Gated)
    rt.route(re.compile(r"ticket-\d+"), Chatty)
    for call in (
        lambda: rt.ask("sales:1", "hi"),
        lambda: rt.send_turn("sales:1", "hi", reply_to=None, sender=None, deadline=None, tag=1),
        lambda: rt.call("ticket-1x", "hi"),
    ):
        with pytest.raises(UnknownAgent) as caught:
            await call()
        assert isinstance(caught.value, AgentNotFound)
        assert "'support:' -> Gated" in str(caught.value)
        assert r"re'ticket-\\d+' -> Chatty" in str(caught.value)
    with pytest.raises(UnknownAgent):
        rt.agent("sales:1")
    assert rt.agent("ticket-12").id == "ticket-12"  # a handle, nothing activated yet
    assert rt.agent_counts()["total"] == 0
    assert rt.turn_stats().lost == 0


async def test_routes_are_tried_in_order_with_their_options(rt: Runtime) -> None:
    _reset_gated()
    rt.route(re.compile(r"vip:\d+"), Gated, model="vip-model")
    rt.route("vip:", Gated)
    assert await rt.call("vip:1", "model") == "vip-model"
    assert await rt.call("vip:x", "model") == "mock"  # the runtime's default model


@pytest.mark.parametrize(
    ("pattern", "agent_class", "options", "error", "named"),
    [
        ("", Gated, {}, ConfigError, "pattern"),
        (42, Gated, {}, ConfigError, "pattern"),
        ("a:", object, {}, NotAnAgent, "object"),
        ("a:", Gated, {"max_steps": -1}, ConfigError, "max_steps"),
    ],
)
def test_bad_routes_are_refused(
    pattern: Any, agent_class: Any, options: dict[str, Any], error: type[Exception], named: str
) -> None:
    runtime = Runtime(fast_config())
    with pytest.raises(error, match=named):
        runtime.route(pattern, agent_class, **options)
    assert runtime.routes == ()


def test_the_same_pattern_twice_is_refused() -> None:
    runtime = Runtime(fast_config())
    runtime.route("a:", Gated)
    with pytest.raises(ConfigError, match="already routed: 'a:' -> Gated"):
        runtime.route("a:", Chatty)


async def test_a_failed_activation_leaves_no_slot_behind(rt: Runtime) -> None:
    rt.route("broken:", Chatty, tools=("no_such_tool",))
    for _ in range(2):
        with pytest.raises(Exception, match="no_such_tool"):
            await rt.ask("broken:1", "hi")
        assert "broken:1" not in rt
    assert rt.agent_counts()["total"] == 0


async def test_history_reads_the_stored_conversation_of_a_routed_id(tmp_path: Path) -> None:
    store = StoreConfig(kind="sqlite", path=str(tmp_path / "h.db"))
    async with Runtime(replace(fast_config(), store=store)) as first:
        first.route("h:", Agent)
        assert await first.history("h:1") == []  # activated, fresh
        await first.ask("h:1", "hello")
    async with Runtime(replace(fast_config(), store=store)) as second:
        second.route("h:", Agent)
        # activated again from its snapshot, read by the agent itself
        history = await second.history("h:1")
        assert [(m.role, m.text) for m in history] == [
            ("user", "hello"), ("assistant", "echo: hello")
        ]  # fmt: skip
        assert [m.text for m in await second.history("h:1", start=1)] == ["echo: hello"]
        with pytest.raises(UnknownAgent):
            await second.history("nobody")

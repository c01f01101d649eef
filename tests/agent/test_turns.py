"""The turn loop: replies, tools, steps, deadlines, failures, streaming."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support.agents import CALLS, Helper, fast_config

from agentrt.actor import Caller
from agentrt.agent import Agent, Turn, TurnFailed, TurnTimeout
from agentrt.llm import ProviderUnavailable
from agentrt.llm.providers import MockProvider
from agentrt.messages import Message
from agentrt.runtime import Runtime
from agentrt.tools import tool


@pytest.fixture
async def rt() -> Any:
    async with Runtime(fast_config()) as runtime:
        yield runtime


async def test_reply_and_conversation(rt: Runtime) -> None:
    await rt.spawn(Helper, id="a")
    reply = await rt.ask("a", "hello")
    assert reply.text == "echo: hello"
    assert reply.steps == 1
    assert reply.tool_calls == 0
    assert reply.input_tokens > 0


async def test_tool_call_round_trip(rt: Runtime) -> None:
    CALLS.clear()
    await rt.spawn(Helper, id="a")
    reply = await rt.ask("a", 'weather? [[tool:weather {"city": "Paris"}]]')
    assert reply.text == 'tool result: {"city":"Paris","temp_c":18}'
    assert reply.steps == 2
    assert reply.tool_calls == 1
    assert CALLS == ["Paris"]


async def test_tools_run_concurrently() -> None:
    arrived: list[int] = []
    outcomes: list[str] = []
    everyone = asyncio.Event()

    @tool
    async def barrier(i: int) -> str:
        """Waits until all five calls are running at once."""
        arrived.append(i)
        if len(arrived) == 5:
            everyone.set()
        try:
            async with asyncio.timeout(2.0):
                await everyone.wait()
        except TimeoutError:
            outcomes.append("alone")  # only sequential execution gets here
            return "alone"
        outcomes.append("together")
        return "together"

    class Gang(Agent):
        tools = (barrier,)

    async with Runtime(fast_config()) as rt:
        await rt.spawn(Gang, id="g")
        text = " ".join(f'[[tool:barrier {{"i": {i}}}]]' for i in range(5))
        reply = await rt.ask("g", text)
        assert reply.tool_calls == 5
        assert sorted(arrived) == [0, 1, 2, 3, 4]
        assert outcomes == ["together"] * 5


async def test_tool_error_goes_back_to_the_model(rt: Runtime) -> None:
    await rt.spawn(Helper, id="a")
    reply = await rt.ask("a", '[[tool:broken {"x": 3}]]')
    assert reply.text.startswith("tool result:")
    assert "broken tool got 3" in reply.text
    bad_args = await rt.ask("a", '[[tool:weather {"town": "Rome"}]]')
    assert "city" in bad_args.text  # the validation error names the missing field


async def test_max_steps_truncates_and_keeps_the_conversation_valid(rt: Runtime) -> None:
    await rt.spawn(Helper, id="a", max_steps=1)
    reply = await rt.ask("a", '[[tool:weather {"city": "Oslo"}]]')
    assert reply.truncated
    assert reply.steps == 1
    nxt = await rt.ask("a", "and now?")
    assert nxt.text == "echo: and now?"


async def test_unknown_option_and_unknown_tool_fail_spawn(rt: Runtime) -> None:
    with pytest.raises(TypeError, match="colour"):
        await rt.spawn(Helper, id="x", colour="red")
    assert "x" not in rt

    class NoTool(Agent):
        tools = ("nope",)

    from agentrt.errors import ConfigError

    with pytest.raises(ConfigError, match="nope"):
        await rt.spawn(NoTool, id="y")


async def test_deadline_fails_the_turn_and_the_agent_carries_on(rt: Runtime) -> None:
    await rt.spawn(Helper, id="a")
    with pytest.raises(TurnTimeout):
        await rt.ask("a", '[[tool:slow {"seconds": 5}]]', timeout=0.1)
    assert (await rt.ask("a", "still there?")).text == "echo: still there?"
    stats = rt.turn_stats()
    assert stats.failures == {"TurnTimeout": 1}
    assert stats.lost == 0


async def test_llm_failure_reaches_the_caller() -> None:
    from agentrt.llm import PoolConfig, ProviderConfig, RetryPolicy

    cfg = fast_config()
    mock = MockProvider(script=[ProviderUnavailable("mock", "down for maintenance")])
    provider = ProviderConfig(name="mock", kind="mock", retry=RetryPolicy(max_retries=0))
    from dataclasses import replace

    cfg = replace(cfg, llm=PoolConfig(providers=(provider,)))
    async with Runtime(cfg, llm_backends={"mock": mock}) as rt:
        await rt.spawn(Helper, id="a")
        with pytest.raises(TurnFailed) as info:
            await rt.ask("a", "hello")
        assert isinstance(info.value.cause, ProviderUnavailable)
        assert (await rt.ask("a", "again")).text == "echo: again"


async def test_streamed_turn(rt: Runtime) -> None:
    await rt.spawn(Helper, id="a")
    stream = rt.stream("a", "[[words:30]]")
    deltas = [d async for d in stream]
    assert len(deltas) > 1
    assert stream.reply is not None
    assert "".join(deltas) == stream.reply.text
    assert stream.reply.text.split() == [f"w{i}" for i in range(1, 31)]


async def test_stream_reader_leaving_early_does_not_hurt_the_agent(rt: Runtime) -> None:
    await rt.spawn(Helper, id="a")
    async for _ in rt.stream("a", "[[words:500]]"):
        break
    assert (await rt.ask("a", "ok?")).text == "echo: ok?"


async def test_build_context_hook(rt: Runtime) -> None:
    class Pirate(Agent):
        def build_context(self) -> list[Message]:
            ctx = super().build_context()
            return [*ctx[:-1], Message.user(ctx[-1].content.upper())]

    await rt.spawn(Pirate, id="p")
    assert (await rt.ask("p", "ahoy")).text == "echo: AHOY"


async def test_turns_are_answered_in_order_per_agent(rt: Runtime) -> None:
    await rt.spawn(Helper, id="a")
    replies = await asyncio.gather(*(rt.ask("a", f"m{i}") for i in range(20)))
    assert [r.text for r in replies] == [f"echo: m{i}" for i in range(20)]


async def test_deprecated_agent_hooks_warn_and_still_run() -> None:
    with pytest.warns(DeprecationWarning, match=r"on_call -> handle_call"):

        class Old(Agent):
            async def on_call(self, msg: Any, caller: Caller) -> Any:
                return ("old", msg)

    class New(Agent):
        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            if msg == "ping":
                return "pong"
            return await super().handle_call(msg, caller)

    async with Runtime() as rt:
        await rt.spawn(Old, id="old")
        await rt.spawn(New, id="new")
        assert await rt.call("old", "x") == ("old", "x")
        assert await rt.call("new", "ping") == "pong"
        assert (await rt.ask("new", "hello")).text  # turns still reach the agent


async def test_a_turn_run_again_under_its_message_id_stores_its_user_message_once(
    rt: Runtime,
) -> None:
    """A cluster turn run again by a new owner (same ``msg_id``) goes on from what was
    stored: its user message once, its stored final answer returned (no LLM call)."""
    await rt.spawn(Helper, id="a")
    first = await rt.call("a", Turn("hello", msg_id="m1"), timeout=10)
    again = await rt.call("a", Turn("hello", msg_id="m1"), timeout=10)
    assert first.text == again.text == "echo: hello"
    assert (first.steps, again.steps) == (1, 0)  # answered from the conversation
    await rt.call("a", Turn("hello", msg_id="m2"), timeout=10)  # another turn, same text
    assert [m.role for m in await rt.history("a")] == ["user", "assistant"] * 2

"""Bad arguments and odd content never corrupt an agent's stored conversation (issue 13 §4)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.agents import Chatty, fast_config

from agentrt.agent import Agent, TurnFailed
from agentrt.errors import AgentRTError
from agentrt.messages import MessageTypeError, MessageValueError
from agentrt.runtime import Runtime, StoreConfig
from agentrt.tools import tool


async def _history(rt: Runtime, agent_id: str) -> list[str]:
    return [m.content for m in await rt.call(agent_id, "history")]


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (None, "text: expected str"),
        (123, "text: expected str"),
        (b"x", "text: expected str"),
        (1.5, "text: expected str"),
        (["hi"], r"text\[0\]: expected a TextPart or an ImagePart, got str"),
    ],
)
async def test_ask_with_non_text_is_a_type_error_and_nothing_is_stored(
    tmp_path: Path, bad: Any, problem: str
) -> None:
    cfg = replace(fast_config(), store=StoreConfig(kind="sqlite", path=str(tmp_path / "a.db")))
    async with Runtime(cfg) as rt:
        await rt.spawn(Chatty, id="a")
        await rt.ask("a", "keep me")
        for call in (
            lambda: rt.ask("a", bad),
            lambda: rt.send_turn("a", bad, reply_to=None, sender=None, deadline=None, tag=None),
        ):
            with pytest.raises(TypeError, match=problem) as caught:
                await call()
            assert isinstance(caught.value, AgentRTError)
            assert isinstance(caught.value, MessageTypeError)
        with pytest.raises(MessageTypeError):
            async for _ in rt.stream("a", bad):
                pass
        with pytest.raises(MessageTypeError, match="sender"):
            await rt.ask("a", "hi", sender=7)  # type: ignore[arg-type]
        assert rt.stats()["agents"]["restarts"] == 0
        assert await _history(rt, "a") == ["keep me", "echo: keep me"]
    async with Runtime(cfg) as rt:  # the stored history reads back
        await rt.spawn(Chatty, id="a")
        assert await _history(rt, "a") == ["keep me", "echo: keep me"]
        assert rt.stats()["corrupt_snapshots"] == 0


async def test_lone_surrogate_text_is_a_value_error() -> None:
    async with Runtime(fast_config()) as rt:
        await rt.spawn(Chatty, id="a")
        with pytest.raises(MessageValueError, match="lone surrogate") as caught:
            await rt.ask("a", "x \ud800")
        assert isinstance(caught.value, ValueError)
        assert (await rt.ask("a", "fine")).text == "echo: fine"
        assert rt.stats()["agents"]["restarts"] == 0


async def test_spawn_id_with_a_lone_surrogate_is_refused() -> None:
    async with Runtime(fast_config()) as rt:
        with pytest.raises(MessageValueError, match="id"):
            await rt.spawn(Chatty, id="a\udc00")


@tool
def garbled() -> str:
    """Returns text that is not valid Unicode."""
    return "bytes decoded badly: \udcff"


class Teller(Agent):
    tools = (garbled,)

    async def handle_call(self, msg: Any, caller: Any) -> Any:
        if msg == "history":
            return await self.conversation.history()
        return await super().handle_call(msg, caller)


async def test_a_tool_result_that_cannot_be_stored_fails_the_turn_not_the_agent() -> None:
    async with Runtime(fast_config()) as rt:
        await rt.spawn(Teller, id="t")
        with pytest.raises(TurnFailed, match=r"messages\[1\]\.content"):
            await rt.ask("t", "[[tool:garbled {}]]")
        history = await rt.call("t", "history")
        # the user message is kept; the assistant's tool call was not stored without its
        # result; the conversation still snapshots and the agent still answers
        assert [m.role for m in history] == ["user"]
        assert (await rt.ask("t", "still there?")).text == "echo: still there?"
        assert rt.stats()["agents"]["restarts"] == 0

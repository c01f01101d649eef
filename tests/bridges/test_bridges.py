"""The three bridges, one behaviour each: a tool-calling agent written with LangGraph,
the OpenAI Agents SDK or pydantic-ai runs inside an agentrt agent, its model calls go
through the runtime's LLMPool (over HTTP to the mock server, counted per agent), its turn
lands in the stored conversation, its memory survives passivation and a crash, and an
LLM failure fails the turn without crashing the agent."""

from __future__ import annotations

import json
from typing import Any

import pytest

import agentrt
from agentrt.agent import TurnFailed
from agentrt.bridges import BridgeAgent
from agentrt.llm import (
    MockProvider,
    PoolConfig,
    ProviderConfig,
    ProviderUnavailable,
    RetryPolicy,
)
from agentrt.messages import Message
from agentrt.runtime import RuntimeConfig
from agentrt.testing import MockLLMProcess

TOOL_TURN = 'Weather in Oslo? [[tool:weather {"city": "Oslo"}]]'
SYSTEM = "Use the weather tool."


async def weather(city: str) -> dict[str, object]:
    """Current weather in a city."""
    return {"city": city, "celsius": 21}


class Inspectable(BridgeAgent):
    """Answers the call "history" with its stored conversation."""

    async def handle_call(self, msg: Any, caller: Any) -> Any:
        if msg == "history":
            return await self.conversation.history()
        return await super().handle_call(msg, caller)


def langgraph_agent() -> type[BridgeAgent]:
    from langchain_core.tools import tool
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent

    from agentrt.bridges.langgraph import LangGraphAgent, PoolChatModel

    class Forecaster(Inspectable, LangGraphAgent):
        @classmethod
        def build(cls, model: PoolChatModel) -> Any:
            with pytest.warns(DeprecationWarning, match="create_react_agent"):
                return create_react_agent(
                    model, [tool(weather)], prompt=SYSTEM, checkpointer=InMemorySaver()
                )

    return Forecaster


def openai_agents_agent() -> type[BridgeAgent]:
    from agents import Agent, function_tool

    from agentrt.bridges.openai_agents import OpenAIAgentsAgent, PoolModel

    class Forecaster(Inspectable, OpenAIAgentsAgent):
        @classmethod
        def build(cls, model: PoolModel) -> Any:
            return Agent(name="f", instructions=SYSTEM, model=model, tools=[function_tool(weather)])

    return Forecaster


def pydantic_ai_agent() -> type[BridgeAgent]:
    from pydantic_ai import Agent

    from agentrt.bridges.pydantic_ai import PoolModel, PydanticAIAgent

    class Forecaster(Inspectable, PydanticAIAgent):
        @classmethod
        def build(cls, model: PoolModel) -> Any:
            return Agent(model, instructions=SYSTEM, tools=[weather])

    return Forecaster


FRAMEWORKS = {
    "langgraph": langgraph_agent,
    "openai-agents": openai_agents_agent,
    "pydantic-ai": pydantic_ai_agent,
}
params = pytest.mark.parametrize("make", list(FRAMEWORKS.values()), ids=list(FRAMEWORKS))


def _tool_turn_stored(history: list[Message]) -> None:
    assert [m.role for m in history] == ["user", "assistant", "tool", "assistant"]
    assert history[0].text == TOOL_TURN
    [call] = history[1].tool_calls
    assert (call.name, json.loads(call.arguments)) == ("weather", {"city": "Oslo"})
    assert history[2].tool_call_id == call.id
    assert "21" in history[2].text
    assert "Oslo" in history[2].text
    assert history[3].text.startswith("tool result:")


@params
async def test_a_tool_turn_goes_through_the_pool_over_http_and_is_stored(make: Any) -> None:
    cls = make()
    async with MockLLMProcess() as server:
        llm = agentrt.OpenAI(base_url=server.url, model="mock")
        async with agentrt.Runtime(llm=llm) as rt:
            await rt.spawn(cls, id="f1", tenant="acme")
            reply = await rt.ask("f1", TOOL_TURN, timeout=30)
            history = await rt.call("f1", "history")
            usage = rt.telemetry.agent("f1")
            [pool] = rt.stats()["llm"]["providers"].values()
        counts = (await server.stats())["counts"]
    assert reply.text.startswith("tool result:")
    assert "Oslo" in reply.text
    assert (reply.steps, reply.tool_calls) == (2, 1)
    assert reply.input_tokens > 0
    assert reply.output_tokens > 0
    _tool_turn_stored(history)
    assert counts["chat"] == 2 == pool["requests"]
    assert usage is not None
    assert usage["llm_requests"] == 2


@params
async def test_memory_survives_passivation_and_a_crash(make: Any) -> None:
    cls = make()
    async with agentrt.Runtime() as rt:  # the in-process mock provider
        await rt.spawn(cls, id="fresh")
        alone = await rt.ask("fresh", "Thanks!")
        await rt.spawn(cls, id="f1")
        await rt.ask("f1", TOOL_TURN)
        assert await rt.passivate("f1")
        after_passivation = await rt.ask("f1", "Thanks!")
        await rt.inject_crash("f1")
        after_crash = await rt.ask("f1", "Thanks!")
        history = await rt.call("f1", "history")
    # the framework saw the earlier turns (from the conversation) each time
    assert after_passivation.text == alone.text == "echo: Thanks!"
    assert after_passivation.input_tokens > alone.input_tokens
    assert after_crash.input_tokens > after_passivation.input_tokens
    _tool_turn_stored(history[:4])
    assert [(m.role, m.text) for m in history[4:]] == [
        ("user", "Thanks!"),
        ("assistant", "echo: Thanks!"),
    ] * 2


@params
async def test_an_llm_failure_fails_the_turn_not_the_agent(make: Any) -> None:
    cls = make()
    down = ProviderUnavailable("mock", "down for maintenance")
    mock = MockProvider(script=[down])
    provider = ProviderConfig(name="mock", kind="mock", retry=RetryPolicy(max_retries=0))
    config = RuntimeConfig(llm=PoolConfig(providers=(provider,)))
    async with agentrt.Runtime(config, llm_backends={"mock": mock}) as rt:
        await rt.spawn(cls, id="f1")
        with pytest.raises(TurnFailed) as failed:
            await rt.ask("f1", TOOL_TURN)
        assert failed.value.cause is down  # unwrapped from the framework's own error
        assert rt.stats()["turns"]["failed"] == 1
        assert (await rt.ask("f1", "again")).text == "echo: again"
        assert rt.stats()["agents"]["restarts"] == 0
        history = await rt.call("f1", "history")
    # of the failed turn, only the user message is stored (as agentrt's own loop does)
    assert [(m.role, m.text) for m in history] == [
        ("user", TOOL_TURN),
        ("user", "again"),
        ("assistant", "echo: again"),
    ]


@params
async def test_a_streamed_turn_streams_each_model_call_from_the_pool(make: Any) -> None:
    """rt.stream of a bridged agent: every model call the framework makes is streamed
    from the pool over HTTP, its text deltas reach the caller as they come, and the
    framework still gets whole responses (it runs the tool and stores the turn)."""
    cls = make()
    async with MockLLMProcess() as server:
        llm = agentrt.OpenAI(base_url=server.url, model="mock")
        async with agentrt.Runtime(llm=llm) as rt:
            await rt.spawn(cls, id="f1")
            stream = rt.stream("f1", TOOL_TURN, timeout=30)
            deltas = [delta async for delta in stream]
            history = await rt.call("f1", "history")
            usage = rt.telemetry.agent("f1")
        counts = (await server.stats())["counts"]
    assert len(deltas) > 2  # the answer came in pieces, not as one final delta
    assert stream.reply is not None
    assert "".join(deltas) == stream.reply.text
    assert stream.reply.text.startswith("tool result:")
    assert (stream.reply.steps, stream.reply.tool_calls) == (2, 1)
    assert stream.reply.output_tokens > 0
    assert counts["stream"] == 2  # both model calls streamed, none sent as a plain chat
    assert counts.get("chat", 0) == 0
    assert usage is not None
    assert usage["llm_requests"] == 2
    _tool_turn_stored(history)


async def test_a_streamed_structured_output_arrives_as_one_delta() -> None:
    """When no model call produced text (pydantic-ai's output tool), the final answer is
    the stream's one delta."""
    from pydantic import BaseModel
    from pydantic_ai import Agent

    from agentrt.bridges.pydantic_ai import PoolModel, PydanticAIAgent

    class Forecast(BaseModel):
        city: str
        celsius: int

    class Typed(PydanticAIAgent):
        @classmethod
        def build(cls, model: PoolModel) -> Agent[Any, Any]:
            return Agent(model, output_type=Forecast)

    answer = {"city": "Oslo", "celsius": 21}
    async with agentrt.Runtime() as rt:
        await rt.spawn(Typed, id="p")
        stream = rt.stream("p", f"[[tool:final_result {json.dumps(answer)}]]")
        deltas = [delta async for delta in stream]
    assert [json.loads(d) for d in deltas] == [answer]

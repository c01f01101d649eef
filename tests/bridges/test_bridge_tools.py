"""A framework's own tools under agentrt's ToolPolicy (``agentrt.bridges.governed``): in
LangGraph, the Agents SDK and pydantic-ai, a governed tool's calls go through the runtime's
tool registry, so its cache, timeout and telemetry apply as to a native tool."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import agentrt
from agentrt.agent import AgentCrashed
from agentrt.bridges import BridgeAgent, governed
from agentrt.tools import CachePolicy, ToolPolicy, tool

CALLS: list[str] = []


@governed(policy=ToolPolicy(timeout=10, cache=CachePolicy(ttl=60)))
async def weather(city: str) -> dict[str, object]:
    """Current weather in a city."""
    CALLS.append(city)
    return {"city": city, "celsius": 21}


@governed(policy=ToolPolicy(timeout=0.2))
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return "done"


def _langgraph() -> type[BridgeAgent]:
    from langchain_core.tools import tool as lc_tool
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent

    from agentrt.bridges.langgraph import LangGraphAgent, PoolChatModel

    class Graph(LangGraphAgent):
        @classmethod
        def build(cls, model: PoolChatModel) -> Any:
            tools = [lc_tool(weather), lc_tool(slow)]
            with pytest.warns(DeprecationWarning, match="create_react_agent"):
                return create_react_agent(model, tools, checkpointer=InMemorySaver())

    return Graph


def _openai_agents() -> type[BridgeAgent]:
    from agents import Agent, function_tool

    from agentrt.bridges.openai_agents import OpenAIAgentsAgent, PoolModel

    class SDK(OpenAIAgentsAgent):
        @classmethod
        def build(cls, model: PoolModel) -> Any:
            tools = [function_tool(weather), function_tool(slow)]
            return Agent(name="g", model=model, tools=tools)

    return SDK


def _pydantic_ai() -> type[BridgeAgent]:
    from pydantic_ai import Agent

    from agentrt.bridges.pydantic_ai import PoolModel, PydanticAIAgent

    class PAI(PydanticAIAgent):
        @classmethod
        def build(cls, model: PoolModel) -> Any:
            return Agent(model, tools=[weather, slow])

    return PAI


FRAMEWORKS = {"langgraph": _langgraph, "openai-agents": _openai_agents, "pydantic-ai": _pydantic_ai}


@pytest.mark.parametrize("make", list(FRAMEWORKS.values()), ids=list(FRAMEWORKS))
async def test_a_governed_tool_runs_under_the_policy(make: Any) -> None:
    cls = make()
    CALLS.clear()
    turn = 'Weather? [[tool:weather {"city": "Oslo"}]]'
    async with agentrt.Runtime() as rt:
        await rt.spawn(cls, id="a")
        await rt.spawn(cls, id="b")
        first = await rt.ask("a", turn)
        second = await rt.ask("b", turn)
        late = await rt.ask("a", '[[tool:slow {"seconds": 5}]]')
        stats = rt.services.tools.stats()
    assert CALLS == ["Oslo"]  # the second agent's call was answered by the cache
    assert "21" in first.text
    assert "21" in second.text
    assert stats["tools"]["weather"]["cached"] == 1
    assert "timeout" in late.text  # the model got the timeout error as the tool's answer
    assert stats["tools"]["slow"]["calls"] == 1


async def test_outside_a_turn_the_function_runs_as_it_is() -> None:
    assert await weather("Bergen") == {"city": "Bergen", "celsius": 21}
    assert await weather(city="Bergen") == {"city": "Bergen", "celsius": 21}


async def test_governed_keeps_the_signature_and_refuses_a_name_clash() -> None:
    import inspect

    assert list(inspect.signature(weather).parameters) == ["city"]
    assert weather.__doc__ == "Current weather in a city."
    assert inspect.iscoroutinefunction(weather)

    def twin(city: str) -> str:
        return city

    clash = governed(tool(name="weather")(twin))
    from pydantic_ai import Agent

    from agentrt.bridges.pydantic_ai import PoolModel, PydanticAIAgent

    class Both(PydanticAIAgent):
        @classmethod
        def build(cls, model: PoolModel) -> Any:
            return Agent(model, tools=[clash])

    async with agentrt.Runtime(tools=[tool(weather)]) as rt:
        await rt.spawn(Both, id="x")
        with pytest.raises(AgentCrashed, match="a different tool named 'weather'"):
            await rt.ask("x", '[[tool:weather {"city": "Oslo"}]]')  # a bug: it crashes

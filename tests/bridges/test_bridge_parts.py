"""The bridges' parts on their own: importing costs no framework, the model adapters work
outside an agent given a pool (and say so without one), LangGraph threads are dropped or
kept on stop, a graph without a checkpointer gets the conversation, conversions refuse
what they cannot carry, naming it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, ClassVar

import pytest

import agentrt
from agentrt.errors import InvalidArgument, NotRunning
from agentrt.llm import LLMPool
from agentrt.messages import Message, ToolCall

TOOL_TURN = 'Weather in Oslo? [[tool:weather {"city": "Oslo"}]]'
FRAMEWORKS = ("langgraph", "langchain_core", "agents", "pydantic_ai", "openai")


def test_importing_agentrt_bridges_loads_no_framework() -> None:
    code = (
        "import json, sys, agentrt, agentrt.bridges\n"
        f"print(json.dumps(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


async def test_pool_chat_model_outside_an_agent() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    from agentrt.bridges.langgraph import PoolChatModel

    with pytest.raises(NotRunning, match="no LLMPool"):
        await PoolChatModel().ainvoke("hi")
    with pytest.raises(NotImplementedError, match="asynchronous only"):
        PoolChatModel().invoke("hi")
    async with LLMPool() as pool:  # the in-process mock provider
        model = PoolChatModel(pool=pool).bind_tools([_weather_tool()])
        answer = await model.ainvoke([HumanMessage(TOOL_TURN)])
    assert isinstance(answer, AIMessage)
    assert answer.tool_calls[0]["name"] == "weather"
    assert answer.tool_calls[0]["args"] == {"city": "Oslo"}
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] > 0


def _weather_tool() -> Any:
    from langchain_core.tools import tool

    @tool
    async def weather(city: str) -> dict[str, object]:
        """Current weather in a city."""
        return {"city": city, "celsius": 21}

    return weather


async def test_sdk_and_pydantic_models_outside_an_agent() -> None:
    from pydantic_ai import Agent

    from agentrt.bridges import openai_agents, pydantic_ai

    async with LLMPool() as pool:
        result = await Agent(pydantic_ai.PoolModel(pool=pool)).run("hello")
        assert result.output == "echo: hello"
        sdk = openai_agents.PoolModelProvider(pool).get_model("mock")
        assert isinstance(sdk, openai_agents.PoolModel)
        assert sdk.pool is pool
    with pytest.raises(NotRunning):
        await Agent(pydantic_ai.PoolModel()).run("hello")


def _graph(checkpointer: Any) -> Any:
    from langgraph.graph import START, MessagesState, StateGraph

    from agentrt.bridges.langgraph import PoolChatModel

    def build(model: PoolChatModel) -> Any:
        async def call_model(state: MessagesState) -> dict[str, Any]:
            return {"messages": [await model.ainvoke(state["messages"])]}

        graph = StateGraph(MessagesState)
        graph.add_node("model", call_model)
        graph.add_edge(START, "model")
        return graph.compile(checkpointer=checkpointer)

    return build


@pytest.mark.parametrize("drop", [True, False])
async def test_a_langgraph_thread_is_dropped_or_kept_when_the_agent_stops(drop: bool) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from agentrt.bridges.langgraph import LangGraphAgent, PoolChatModel

    saver = InMemorySaver()

    class Chat(LangGraphAgent):
        drop_thread_on_stop = drop

        @classmethod
        def build(cls, model: PoolChatModel) -> Any:
            return _graph(saver)(model)

    config: Any = {"configurable": {"thread_id": "c1"}}
    async with agentrt.Runtime() as rt:
        await rt.spawn(Chat, id="c1")
        await rt.ask("c1", "one")
        assert _thread(saver, config) == ["one", "echo: one"]
        assert await rt.passivate("c1")
        assert (saver.get_tuple(config) is None) is drop
        await rt.ask("c1", "two")  # seeded from the conversation when it was dropped
        values = _thread(saver, config)
    assert values == ["one", "echo: one", "two", "echo: two"]


def _thread(saver: Any, config: Any) -> list[str]:
    """The contents of the messages a checkpointer holds for a thread."""
    checkpoint = saver.get_tuple(config)
    return [m.content for m in checkpoint.checkpoint["channel_values"]["messages"]]


async def test_a_graph_without_a_checkpointer_gets_the_conversation_each_turn() -> None:
    from agentrt.bridges.langgraph import LangGraphAgent, PoolChatModel

    seen: list[int] = []

    class Chat(LangGraphAgent):
        @classmethod
        def build(cls, model: PoolChatModel) -> Any:
            inner = _graph(None)(model)

            class Counting:  # records how many messages each turn's input held
                checkpointer = None

                async def ainvoke(self, state: Any, config: Any) -> Any:
                    seen.append(len(state["messages"]))
                    return await inner.ainvoke(state, config)

            return Counting()

    async with agentrt.Runtime() as rt:
        await rt.spawn(Chat, id="c1")
        for text in ("one", "two", "three"):
            assert (await rt.ask("c1", text)).text == f"echo: {text}"
    assert seen == [1, 3, 5]


class Shared:
    builds: ClassVar[int] = 0


async def test_the_framework_object_is_built_once_per_class_and_pool() -> None:
    from pydantic_ai import Agent

    from agentrt.bridges.pydantic_ai import PoolModel, PydanticAIAgent

    class Echo(PydanticAIAgent):
        @classmethod
        def build(cls, model: PoolModel) -> Agent[Any, Any]:
            Shared.builds += 1
            return Agent(model)

    for _ in range(2):  # two runtimes: two pools, two builds
        async with agentrt.Runtime() as rt:
            await rt.spawn_swarm(Echo, 5)
            for i in range(5):
                assert (await rt.ask(f"agent-{i}", "hi")).text == "echo: hi"
    assert Shared.builds == 2


def test_conversions_refuse_what_they_cannot_carry() -> None:
    from langchain_core.messages import HumanMessage

    from agentrt.bridges._wire import message_from_openai, tool_spec_from_openai
    from agentrt.bridges.langgraph import from_langchain
    from agentrt.bridges.openai_agents import items_to_messages, messages_to_items

    image = HumanMessage(content=[{"type": "image_url", "image_url": {"url": "http://x/a.png"}}])
    with pytest.raises(InvalidArgument, match=r"HumanMessage\.content\[0\]"):
        from_langchain(image)
    with pytest.raises(InvalidArgument, match=r"message\.role"):
        message_from_openai({"role": "wizard", "content": "hi"})
    with pytest.raises(InvalidArgument, match=r"message\.tool_calls\[0\]\.id"):
        message_from_openai({"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]})
    with pytest.raises(InvalidArgument, match="only function tools"):
        tool_spec_from_openai({"type": "web_search"})
    # and carry what they can, both ways
    messages = [
        Message.user("Oslo?"),
        Message.assistant("", tool_calls=(ToolCall("c1", "weather", '{"city": "Oslo"}'),)),
        Message.tool_result("c1", '{"celsius": 21}'),
        Message.assistant("Sunny."),
    ]
    again = items_to_messages(messages_to_items(messages))
    assert [(m.role, m.text, m.tool_calls, m.tool_call_id) for m in again] == [
        (m.role, m.text, m.tool_calls, m.tool_call_id) for m in messages
    ]


def test_pydantic_ai_conversion_round_trip() -> None:
    from agentrt.bridges.pydantic_ai import from_pydantic_ai, to_pydantic_ai

    messages = [
        Message.system("Summary: earlier talk."),
        Message.user("Oslo?"),
        Message.assistant("", tool_calls=(ToolCall("c1", "weather", '{"city":"Oslo"}'),)),
        Message.tool_result("c1", "21"),
        Message.assistant("Sunny."),
    ]
    again = from_pydantic_ai(to_pydantic_ai(messages))
    assert [(m.role, m.text, m.tool_calls, m.tool_call_id) for m in again] == [
        (m.role, m.text, m.tool_calls, m.tool_call_id) for m in messages
    ]
    assert [m.role for m in from_pydantic_ai(to_pydantic_ai(messages), system=False)] == [
        "user",
        "assistant",
        "tool",
        "assistant",
    ]


async def test_an_agents_sdk_session_is_append_only() -> None:
    from agents import Agent

    from agentrt.bridges.openai_agents import ConversationSession, OpenAIAgentsAgent, PoolModel

    sessions: list[ConversationSession] = []

    class Echo(OpenAIAgentsAgent):
        @classmethod
        def build(cls, model: PoolModel) -> Agent[Any]:
            return Agent(name="echo", model=model)

        async def handle_call(self, msg: Any, caller: Any) -> Any:
            if msg == "session":
                session = ConversationSession(self)
                sessions.append(session)
                return await session.get_items()
            return await super().handle_call(msg, caller)

    async with agentrt.Runtime() as rt:
        await rt.spawn(Echo, id="e")
        await rt.ask("e", "hi")
        items = await rt.call("e", "session")
    assert items == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "echo: hi"},
    ]
    with pytest.raises(NotImplementedError, match="append-only"):
        await sessions[0].pop_item()
    with pytest.raises(NotImplementedError, match="append-only"):
        await sessions[0].clear_session()


async def test_a_structured_output_is_the_replys_json() -> None:
    """pydantic-ai's output tool and the Agents SDK's JSON-schema response format both
    reach the pool; the validated output comes back as the reply's JSON."""
    from agents import Agent as SDKAgent
    from pydantic import BaseModel
    from pydantic_ai import Agent

    from agentrt.bridges import openai_agents, pydantic_ai

    class Forecast(BaseModel):
        city: str
        celsius: int

    class Typed(pydantic_ai.PydanticAIAgent):
        @classmethod
        def build(cls, model: pydantic_ai.PoolModel) -> Agent[Any, Any]:
            return Agent(model, output_type=Forecast)

    class SDKTyped(openai_agents.OpenAIAgentsAgent):
        @classmethod
        def build(cls, model: openai_agents.PoolModel) -> SDKAgent[Any]:
            return SDKAgent(name="typed", model=model, output_type=Forecast)

    answer = {"city": "Oslo", "celsius": 21}
    async with agentrt.Runtime() as rt:
        await rt.spawn(Typed, id="p")
        await rt.spawn(SDKTyped, id="s")
        by_tool = await rt.ask("p", f"[[tool:final_result {json.dumps(answer)}]]")
        by_schema = await rt.ask("s", f"[[reply:{json.dumps(answer)}]]")
    assert json.loads(by_tool.text) == answer
    assert json.loads(by_schema.text) == answer

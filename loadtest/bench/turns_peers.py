"""The contenders of ``loadtest.bench.turns`` other than agentrt.

Each contender is a coroutine factory ``make(url) -> (converse, close)``: ``converse(cid,
question)`` runs one turn of conversation ``cid`` (LLM -> tool -> LLM) and returns the
final text; conversations keep their history between turns, as each library keeps it
idiomatically. ``close()`` releases the clients. The frameworks are imported inside their
factory, so a missing one raises ImportError only when it is asked for.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

TIMEOUT_S = 120.0  # a CPU-bound framework at N=1,000 connects slowly: not openai's 5 s
Converse = Callable[[int, str], Awaitable[str]]
Contender = tuple[Converse, Callable[[], Awaitable[None]]]

SYSTEM = "You answer weather questions using the weather tool."
WEATHER_SCHEMA = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


async def weather(city: str) -> dict[str, object]:
    """Current weather in a city."""
    return {"city": city, "sky": "clear", "celsius": 21}


async def make_limit(url: str) -> Contender:
    """The limit: the same two HTTP exchanges and JSON work per turn with raw aiohttp.

    One ``aiohttp.ClientSession`` (no connection limit); a conversation is a list of
    message dicts; the tool call of the first reply is parsed, run and appended."""
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    endpoint = url + "/chat/completions"
    histories: dict[int, list[dict[str, Any]]] = {}

    async def complete(messages: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"model": "mock", "messages": messages, "tools": [WEATHER_SCHEMA]}
        async with session.post(endpoint, json=body) as response:
            response.raise_for_status()
            data = await response.json()
        message: dict[str, Any] = data["choices"][0]["message"]
        return message

    async def converse(cid: int, question: str) -> str:
        history = histories.setdefault(cid, [{"role": "system", "content": SYSTEM}])
        history.append({"role": "user", "content": question})
        message = await complete(history)
        while message.get("tool_calls"):
            history.append(message)
            for call in message["tool_calls"]:
                args = json.loads(call["function"]["arguments"])
                result = await weather(**args)
                history.append(
                    {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)}
                )
            message = await complete(history)
        history.append(message)
        return str(message["content"])

    return converse, session.close


async def make_langgraph(url: str) -> Contender:
    """LangGraph: the prebuilt ReAct agent over ``ChatOpenAI`` pointed at the mock.

    One compiled graph with an in-memory checkpointer; a conversation is a thread id."""
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent

    model = ChatOpenAI(model="mock", base_url=url, api_key="mock", max_retries=0, timeout=TIMEOUT_S)  # type: ignore[arg-type]
    agent = create_react_agent(model, [tool(weather)], prompt=SYSTEM, checkpointer=InMemorySaver())

    async def converse(cid: int, question: str) -> str:
        config = {"configurable": {"thread_id": str(cid)}}
        state = await agent.ainvoke({"messages": [("user", question)]}, config)  # type: ignore[arg-type]
        return str(state["messages"][-1].content)

    async def close() -> None:
        await model.root_async_client.close()  # type: ignore[union-attr]

    return converse, close


async def make_autogen(url: str) -> Contender:
    """AutoGen AgentChat: one ``AssistantAgent`` per conversation (it keeps the history),
    ``reflect_on_tool_use=True`` so the tool result goes back to the model, sharing one
    ``OpenAIChatCompletionClient`` pointed at the mock."""
    from autogen_agentchat.agents import AssistantAgent
    from autogen_core.models import ModelInfo
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    info = ModelInfo(
        vision=False,
        function_calling=True,
        json_output=False,
        family="unknown",
        structured_output=False,
    )
    client = OpenAIChatCompletionClient(
        model="mock",
        base_url=url,
        api_key="mock",
        model_info=info,
        max_retries=0,
        timeout=TIMEOUT_S,
    )
    agents: dict[int, Any] = {}

    async def converse(cid: int, question: str) -> str:
        agent = agents.get(cid)
        if agent is None:
            agent = agents[cid] = AssistantAgent(
                f"assistant_{cid}",
                model_client=client,
                tools=[weather],
                system_message=SYSTEM,
                reflect_on_tool_use=True,
            )
        result = await agent.run(task=question)
        return str(result.messages[-1].content)

    return converse, client.close


PEERS: dict[str, Callable[[str], Awaitable[Contender]]] = {
    "limit": make_limit,
    "langgraph": make_langgraph,
    "autogen": make_autogen,
}

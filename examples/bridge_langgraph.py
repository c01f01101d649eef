"""A LangGraph agent inside an agentrt agent: a compiled graph with a checkpointer, its
model calls on the runtime's shared LLM pool.

``Forecaster.build`` compiles a two-node graph (model -> tools -> model) on the pool's
LangChain chat model (``PoolChatModel``) with LangGraph's in-memory checkpointer; each
agent is one thread of it. The agent is an ordinary agentrt agent: it is supervised,
passivated and reactivated, and every turn it takes is stored in its conversation, from
which the graph's thread is seeded again after passivation.

The ``weather`` tool is ``governed``: the framework calls it as before, but each call
runs through agentrt's tool registry under a ``ToolPolicy`` (timeout, result cache). The
third turn is sent with ``rt.stream``: the framework's model call is streamed from the
pool and printed as it came, piece by piece.

Needs the ``bridge-langgraph`` extra. Without ``--llm-url`` the runtime's in-process mock
answers; with it (e.g. ``agentrt mock-llm``'s URL, or any OpenAI-compatible server) the
calls go there over HTTP through the pool.

    python examples/bridge_langgraph.py [--llm-url http://127.0.0.1:8000/v1]
"""

from __future__ import annotations

import argparse
from typing import Any

from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

import agentrt
from agentrt.bridges import governed
from agentrt.bridges.langgraph import LangGraphAgent, PoolChatModel
from agentrt.tools import CachePolicy, ToolPolicy


@tool
@governed(policy=ToolPolicy(timeout=5, cache=CachePolicy(ttl=300)))  # agentrt's tool policy
async def weather(city: str) -> dict[str, object]:
    """Current weather in a city."""
    return {"city": city, "celsius": 21}


class Forecaster(LangGraphAgent):
    @classmethod
    def build(cls, model: PoolChatModel) -> Any:
        llm = model.bind_tools([weather])

        async def call_model(state: MessagesState) -> dict[str, Any]:
            return {"messages": [await llm.ainvoke(state["messages"])]}

        graph = StateGraph(MessagesState)
        graph.add_node("model", call_model)
        graph.add_node("tools", ToolNode([weather]))
        graph.add_edge(START, "model")
        graph.add_conditional_edges("model", tools_condition)
        graph.add_edge("tools", "model")
        return graph.compile(checkpointer=InMemorySaver())


async def main(llm_url: str | None) -> int:
    llm = agentrt.OpenAI(base_url=llm_url, model="mock") if llm_url else None
    async with agentrt.Runtime(llm=llm) as rt:
        await rt.spawn(Forecaster, id="forecaster")
        first = await rt.ask("forecaster", 'Oslo? [[tool:weather {"city": "Oslo"}]]')
        print(f"turn 1  {first.text}  ({first.steps} LLM calls, {first.tool_calls} tool call)")
        await rt.passivate("forecaster")  # the checkpointer thread is dropped
        second = await rt.ask("forecaster", "Thanks!")  # seeded again from the conversation
        # the graph saw the first turn again: more tokens in than the question alone
        print(f"turn 2  {second.text}  ({second.input_tokens} tokens in, history included)")
        # a streamed turn: the framework's model call streamed from the pool, piece by piece
        pieces = [delta async for delta in rt.stream("forecaster", "Stream this, please.")]
        print(f"turn 3  {''.join(pieces)}  (streamed in {len(pieces)} pieces)")
        weather_stats = rt.services.tools.stats()["tools"]["weather"]
        print(f"weather calls through agentrt's tool registry  {weather_stats['calls']}")
        requests = rt.stats()["llm"]["providers"]
        print(f"LLM requests through the pool  {sum(p['requests'] for p in requests.values())}")
    return 0 if first.text.startswith("tool result:") else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-url", help="an OpenAI-compatible server (default: the mock)")
    raise SystemExit(agentrt.run(main(parser.parse_args().llm_url)))

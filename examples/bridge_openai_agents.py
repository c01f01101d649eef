"""An OpenAI Agents SDK agent inside an agentrt agent: ``Agent`` + ``Runner`` + a session
that is the agentrt agent's stored conversation, the model calls on the shared LLM pool.

``Forecaster.build`` makes an SDK ``Agent`` with a function tool on the pool's SDK
``Model`` (``PoolModel``). Each turn is ``Runner.run`` with a ``ConversationSession``: the
SDK reads its history from the agentrt conversation and saves the turn's items into it,
so the agent keeps its memory across passivation and restarts.

The ``weather`` tool is ``governed``: the framework calls it as before, but each call
runs through agentrt's tool registry under a ``ToolPolicy`` (timeout, result cache). The
third turn is sent with ``rt.stream``: the framework's model call is streamed from the
pool and printed as it came, piece by piece.

Needs the ``bridge-openai-agents`` extra. Without ``--llm-url`` the runtime's in-process
mock answers; with it (e.g. ``agentrt mock-llm``'s URL, or any OpenAI-compatible server)
the calls go there over HTTP through the pool.

    python examples/bridge_openai_agents.py [--llm-url http://127.0.0.1:8000/v1]
"""

from __future__ import annotations

import argparse
from typing import Any

from agents import Agent, function_tool

import agentrt
from agentrt.bridges import governed
from agentrt.bridges.openai_agents import OpenAIAgentsAgent, PoolModel
from agentrt.tools import CachePolicy, ToolPolicy


@governed(policy=ToolPolicy(timeout=5, cache=CachePolicy(ttl=300)))  # agentrt's tool policy
async def weather(city: str) -> dict[str, object]:
    """Current weather in a city."""
    return {"city": city, "celsius": 21}


class Forecaster(OpenAIAgentsAgent):
    @classmethod
    def build(cls, model: PoolModel) -> Agent[Any]:
        return Agent(
            name="forecaster",
            instructions="Answer weather questions with the weather tool.",
            model=model,
            tools=[function_tool(weather)],
        )


async def main(llm_url: str | None) -> int:
    llm = agentrt.OpenAI(base_url=llm_url, model="mock") if llm_url else None
    async with agentrt.Runtime(llm=llm) as rt:
        await rt.spawn(Forecaster, id="forecaster")
        first = await rt.ask("forecaster", 'Oslo? [[tool:weather {"city": "Oslo"}]]')
        print(f"turn 1  {first.text}  ({first.steps} LLM calls, {first.tool_calls} tool call)")
        await rt.passivate("forecaster")  # its session is its stored conversation
        second = await rt.ask("forecaster", "Thanks!")
        # the SDK saw the first turn again: more tokens in than the question alone
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

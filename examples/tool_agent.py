"""A tool-using agent whose tool results are cached (shared by every agent, with a TTL).

``@tool`` turns a typed function into a tool (JSON schema, argument validation); its
``ToolPolicy`` sets a timeout and ``CachePolicy(ttl=...)`` caches its results by
(tool, arguments) for every agent of the runtime. Here ``--agents`` agents ask the same
question: the slow tool runs once and the other agents are answered from the cache.
Once the TTL has passed, the next question runs the tool again.

The mock LLM calls a tool when the user text holds ``[[tool:NAME {json args}]]``, then
answers ``tool result: ...``. Exits 1 if the tool ran more often than expected.

    python examples/tool_agent.py [--agents 20] [--ttl 0.5]
"""

from __future__ import annotations

import argparse
import asyncio

import agentrt

TTL = 0.5  # seconds (--ttl); short, so that the example also shows an expiry


async def weather(city: str) -> dict[str, object]:
    """Current weather in a city (a slow remote API: 100 ms)."""
    await asyncio.sleep(0.1)
    return {"city": city, "sky": "clear", "celsius": 21}


class Forecaster(agentrt.Agent):
    system_prompt = "You answer weather questions using the weather tool."
    tools = ("weather",)


QUESTION = 'Weather in Paris? [[tool:weather {"city": "Paris"}]]'


async def main(agents: int, ttl: float = TTL) -> int:
    cached = agentrt.CachePolicy(ttl=ttl)
    tool = agentrt.tool(policy=agentrt.ToolPolicy(timeout=5, cache=cached))(weather)
    async with agentrt.Runtime(tools=[tool]) as rt:
        ids = await rt.spawn_swarm(Forecaster, agents, prefix="forecaster-")
        first = await rt.ask(ids[0], QUESTION, timeout=10)  # runs the tool: a miss
        rest = await asyncio.gather(*(rt.ask(i, QUESTION, timeout=10) for i in ids[1:]))
        await asyncio.sleep(ttl * 1.2)  # the cached result expires
        late = await rt.ask(ids[-1], QUESTION, timeout=10)  # runs the tool again

        replies = [first, *rest, late]
        stats = rt.tools.stats()
        cache, runs = stats["cache"], stats["tools"]["weather"]["latency"]["count"]
    tool_calls = sum(r.tool_calls for r in replies)
    print(f"reply            {first.text}")
    print(f"turns            {len(replies)} ({agents} agents, then 1 after the {ttl:g} s TTL)")
    print(f"tool calls       {tool_calls}")
    print(f"tool executions  {runs} (the others were served from the cache)")
    print(
        f"cache hit ratio  {cache['hit_ratio']:.2f} ({cache['hits']} hits, "
        f"{cache['misses']} misses)"
    )
    ok = runs == 2 and cache["hits"] == tool_calls - 2
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--ttl", type=float, default=TTL, help="cache TTL in seconds")
    args = parser.parse_args()
    raise SystemExit(agentrt.run(main(args.agents, args.ttl)))

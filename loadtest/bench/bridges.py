"""Bridges benchmark: the same tool-calling agent written natively and through each
framework bridge, in one run.

The workload is ``loadtest.bench.turns``'s (its helpers are reused): ``--conversations`` N
(default 100 and 1,000) conversations of ``--turns`` T turns, all at once, each turn one
tool call (LLM -> tool -> LLM) against the mock LLM server in its own process
(``--latency-ms``, default 20 ms). Every contender is a runtime with one lazily spawned
agent per conversation, in a process of its own, on ``agentrt.run``:

- ``native``: an ``agentrt.Agent`` with the ``weather`` tool (``turns``' agentrt);
- ``langgraph``: ``LangGraphAgent`` running ``create_react_agent`` on ``PoolChatModel`` with
  an in-memory checkpointer;
- ``openai-agents``: ``OpenAIAgentsAgent`` running an SDK ``Agent`` on ``PoolModel``
  with a ``ConversationSession``;
- ``pydantic-ai``: ``PydanticAIAgent`` running a pydantic-ai ``Agent`` on ``PoolModel``;
- ``openai-agents-endpoint``: the same Agents SDK agent, but on the SDK's own
  ``OpenAIChatCompletionsModel`` pointed at a local OpenAI-compatible endpoint (aiohttp,
  in the same process) that sends each request through the pool: the other way to put a
  framework's traffic on the pool, measured against the in-process ``Model``.

Per contender: turns/s, latency p50/p95, CPU ms per turn, bytes per conversation (as in
``turns``). ``ratios``: each bridge's CPU per turn and turns/s over native's, and the
endpoint's CPU per turn over the in-process model's. ``--quick`` runs native and the
three bridges at N=20, one turn (seconds; used by the tests).

    python -m loadtest.bench.bridges                      # full run, table
    python -m loadtest.bench.bridges --quick --json
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from loadtest.bench.measure import emit
from loadtest.bench.turns import (
    COLUMNS,
    _measure,
    contender_rows,
    make_agentrt,
    measure_all,
    parse_workload,
    start_runtime,
    swarm_contender,
)
from loadtest.bench.turns_peers import SYSTEM, Contender, weather

BRIDGES = ("langgraph", "openai-agents", "pydantic-ai")
CONTENDERS = ("native", *BRIDGES, "openai-agents-endpoint")
QUICK = ("native", *BRIDGES)
MODULE = "loadtest.bench.bridges"
#: seconds per turn: at N=1,000 a framework spends seconds of CPU per round of turns
TURN_TIMEOUT_S = 600.0


async def make_langgraph(url: str) -> Contender:
    from langchain_core.tools import tool
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent

    from agentrt.bridges.langgraph import LangGraphAgent, PoolChatModel

    class Forecaster(LangGraphAgent):
        @classmethod
        def build(cls, model: PoolChatModel) -> Any:
            tools = [tool(weather)]
            return create_react_agent(model, tools, prompt=SYSTEM, checkpointer=InMemorySaver())

    return swarm_contender(await start_runtime(url, []), Forecaster, TURN_TIMEOUT_S)


def _sdk_agent(model: Any) -> Any:
    from agents import Agent, function_tool

    return Agent(
        name="forecaster", instructions=SYSTEM, model=model, tools=[function_tool(weather)]
    )


async def make_openai_agents(url: str) -> Contender:
    from agentrt.bridges.openai_agents import OpenAIAgentsAgent, PoolModel

    class Forecaster(OpenAIAgentsAgent):
        @classmethod
        def build(cls, model: PoolModel) -> Any:
            return _sdk_agent(model)

    return swarm_contender(await start_runtime(url, []), Forecaster, TURN_TIMEOUT_S)


async def make_pydantic_ai(url: str) -> Contender:
    from pydantic_ai import Agent

    from agentrt.bridges.pydantic_ai import PoolModel, PydanticAIAgent

    class Forecaster(PydanticAIAgent):
        @classmethod
        def build(cls, model: PoolModel) -> Any:
            return Agent(model, instructions=SYSTEM, tools=[weather])

    return swarm_contender(await start_runtime(url, []), Forecaster, TURN_TIMEOUT_S)


async def serve_pool(pool: Any) -> tuple[str, Any]:
    """A local OpenAI-compatible ``/v1/chat/completions`` (non-streaming) in front of
    ``pool``, on a free loopback port: ``(base_url, close)``."""
    import msgspec
    from aiohttp import web

    from agentrt.bridges._wire import message_from_openai, tool_spec_from_openai
    from agentrt.llm import ChatRequest

    async def completions(request: web.Request) -> web.Response:
        body = msgspec.json.decode(await request.read())
        chat = ChatRequest(
            model=body["model"],
            messages=tuple(message_from_openai(m) for m in body["messages"]),
            tools=tuple(tool_spec_from_openai(t) for t in body.get("tools") or ()),
            tool_choice=body.get("tool_choice")
            if isinstance(body.get("tool_choice"), str)
            else None,
            temperature=body.get("temperature"),
            max_tokens=body.get("max_tokens"),
        )
        answer = await pool.chat(chat)
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in answer.tool_calls
        ]
        message: dict[str, Any] = {"role": "assistant", "content": answer.content or None}
        if calls:
            message["tool_calls"] = calls
        usage = answer.usage
        out = {
            "id": answer.id or "chatcmpl-pool", "object": "chat.completion", "created": 0,
            "model": answer.model or chat.model,
            "choices": [{"index": 0, "message": message, "finish_reason": answer.finish_reason}],
            "usage": {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
                      "total_tokens": usage.total_tokens},
        }  # fmt: skip
        return web.Response(body=msgspec.json.encode(out), content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return f"http://127.0.0.1:{port}/v1", runner.cleanup


async def make_openai_agents_endpoint(url: str) -> Contender:
    from agents import OpenAIChatCompletionsModel
    from openai import AsyncOpenAI

    from agentrt.bridges.openai_agents import OpenAIAgentsAgent, PoolModel

    rt = await start_runtime(url, [])
    base, stop_endpoint = await serve_pool(rt.llm)
    client = AsyncOpenAI(base_url=base, api_key="local", max_retries=0, timeout=120.0)

    class Forecaster(OpenAIAgentsAgent):
        @classmethod
        def build(cls, model: PoolModel) -> Any:
            return _sdk_agent(OpenAIChatCompletionsModel(model="mock", openai_client=client))

    converse, close_rt = swarm_contender(rt, Forecaster, TURN_TIMEOUT_S)

    async def close() -> None:
        await client.close()
        await stop_endpoint()
        await close_rt()

    return converse, close


FACTORIES = {
    "native": make_agentrt,
    "langgraph": make_langgraph,
    "openai-agents": make_openai_agents,
    "pydantic-ai": make_pydantic_ai,
    "openai-agents-endpoint": make_openai_agents_endpoint,
}


def _ratio(num: float | None, den: float | None) -> float | None:
    return round(num / den, 3) if num and den else None


def ratios(at: dict[str, Any]) -> dict[str, Any]:
    """Each bridge against native, and the endpoint against the in-process model; a
    ratio whose peer did not run is None."""

    def figure(name: str, key: str) -> float | None:
        figures = at.get(name)
        return figures[key] if isinstance(figures, dict) else None

    out: dict[str, Any] = {}
    for name in (*BRIDGES, "openai-agents-endpoint"):
        out[f"{name}/native cpu"] = _ratio(
            figure(name, "cpu_ms_per_turn"), figure("native", "cpu_ms_per_turn")
        )
        out[f"{name}/native turns/s"] = _ratio(
            figure(name, "turns_per_s"), figure("native", "turns_per_s")
        )
    out["endpoint/in-process model cpu"] = _ratio(
        figure("openai-agents-endpoint", "cpu_ms_per_turn"),
        figure("openai-agents", "cpu_ms_per_turn"),
    )
    return out


def _rows(result: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for n, at in result["conversations"].items():
        rows += contender_rows(n, at["contenders"])
        for key, value in at["ratios"].items():
            rows.append([f"N={n} {key}", "-" if value is None else value, *[""] * 4])
    return rows


def _parse(argv: list[str] | None) -> argparse.Namespace:
    description = "bridges: one tool-calling agent, native and through each bridge"
    return parse_workload(description, argv, CONTENDERS, QUICK, (20, 1))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.child:
        import json

        from agentrt.actor import run

        make = FACTORIES[args.child]
        print(json.dumps(run(_measure(args.child, args.url, args.n, args.turns, make))))
        return 0

    result = measure_all(args, MODULE, ratios)
    emit(result, as_json=args.json, title="bridges", rows=_rows(result), columns=COLUMNS)
    return 0


if __name__ == "__main__":
    sys.exit(main())

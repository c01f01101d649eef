"""LLMPool against the mock LLM server, over real HTTP: chat, tools, streaming, embeddings.

Run from the repository root (no API key, no network beyond 127.0.0.1):

    python examples/llm_mock_demo.py
"""

from __future__ import annotations

import asyncio
import json

from agentrt.llm import (
    ChatRequest,
    LLMPool,
    MockServerConfig,
    PoolConfig,
    ProviderConfig,
    ToolSpec,
    serve_mock_llm,
)
from agentrt.messages import Message
from agentrt.telemetry import Telemetry


async def main() -> None:
    async with serve_mock_llm(MockServerConfig(latency_ms=20)) as server:
        provider = ProviderConfig(
            name="mock", base_urls=(server.url,), price_in_per_1k=0.5, price_out_per_1k=1.5
        )
        telemetry = Telemetry()  # per-agent usage (the runtime passes its own)
        async with LLMPool(PoolConfig(providers=(provider,)), recorder=telemetry) as pool:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10

            reply = await pool.chat(
                ChatRequest(model="mock", messages=(Message.user("hello"),)),
                agent_id="demo",
                deadline=deadline,
            )
            print("chat:", reply.content, reply.usage, f"cost={reply.cost:.6f}")

            tools = (ToolSpec(name="weather", description="Weather by city"),)
            history = [Message.user('What is the weather? [[tool:weather {"city": "Oslo"}]]')]
            first = await pool.chat(ChatRequest(model="mock", messages=tuple(history), tools=tools))
            call = first.tool_calls[0]
            print("tool call:", call.name, json.loads(call.arguments))
            history += [first.message, Message.tool_result(call.id, '{"temp_c": 3}')]
            second = await pool.chat(
                ChatRequest(model="mock", messages=tuple(history), tools=tools)
            )
            print("after the tool:", second.content)

            request = ChatRequest(model="mock", messages=(Message.user("[[words:8]]"),))
            async with pool.stream(request, agent_id="demo") as stream:
                print("stream:", end="")
                async for chunk in stream:
                    print(chunk.delta, end="", flush=True)
            ttft = stream.ttft_s or 0.0  # None only when no chunk arrived
            print(f"  (ttft {ttft * 1000:.1f} ms)")

            vectors = await asyncio.gather(
                *(pool.embed([f"text {i}"], model="mock-embed") for i in range(16))
            )
            print(
                "embeddings:",
                len(vectors),
                "callers,",
                server.state.counts["embeddings"],
                "HTTP call(s)",
            )
            print("agent stats:", telemetry.agent("demo"))


if __name__ == "__main__":
    asyncio.run(main())

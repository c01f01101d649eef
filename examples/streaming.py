"""Streaming replies: print an agent's answer word by word as the LLM produces it.

``rt.stream(agent_id, text)`` sends a streamed turn: ``async for delta in ...`` yields
the text deltas as they arrive, and once the loop ends the stream's ``reply`` holds the
final ``Reply`` with its figures (LLM calls, tokens, seconds). The agent stores the whole
answer in its conversation like any other turn.

To make the streaming visible, the LLM here is the project's OpenAI-compatible mock
server (``agentrt.testing.serve_mock_llm``, in this process, on a free port) pacing its
server-sent events by ``--pace-ms`` per word; ``[[words:N]]`` asks it for N words.
Exits 1 unless the text came in several deltas, the first well before the end, and the
deltas add up to the reply.

    python examples/streaming.py [--words 30] [--pace-ms 30]
"""

from __future__ import annotations

import argparse
import asyncio

import agentrt
from agentrt.llm import PoolConfig, ProviderConfig
from agentrt.testing import MockServerConfig, serve_mock_llm


class Storyteller(agentrt.Agent):
    system_prompt = "You tell long stories."


async def main(words: int, pace_ms: float) -> int:
    loop = asyncio.get_running_loop()
    async with serve_mock_llm(MockServerConfig(per_token_ms=pace_ms)) as server:
        provider = ProviderConfig(name="mock-http", kind="openai", base_urls=(server.url,))
        config = agentrt.RuntimeConfig(llm=PoolConfig(providers=(provider,)))
        async with agentrt.Runtime(config) as rt:
            await rt.spawn(Storyteller, id="storyteller")
            started = loop.time()
            first = None
            deltas: list[str] = []
            stream = rt.stream("storyteller", f"Tell me a story. [[words:{words}]]", timeout=30)
            async for delta in stream:
                first = loop.time() - started if first is None else first
                deltas.append(delta)
                print(delta, end="", flush=True)
            total = loop.time() - started
            reply = stream.reply
    print()
    if reply is None or first is None:
        print("no reply")
        return 1
    print(
        f"deltas           {len(deltas)}, first after {first * 1000:.0f} ms, "
        f"last after {total * 1000:.0f} ms"
    )
    print(
        f"reply            {len(reply.text.split())} words, {reply.steps} LLM call, "
        f"{reply.input_tokens} tokens in, {reply.output_tokens} out, "
        f"{reply.llm_seconds:.2f} s in the LLM"
    )
    ok = len(deltas) > 1 and "".join(deltas) == reply.text and first < total / 2
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=30)
    parser.add_argument("--pace-ms", type=float, default=30.0, help="ms between words")
    args = parser.parse_args()
    raise SystemExit(agentrt.run(main(args.words, args.pace_ms)))

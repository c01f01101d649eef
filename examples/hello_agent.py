"""The smallest agent: define it, spawn it, ask it something, print the reply.

An agent is a class with a few settings (``system_prompt``, ``model``, ``tools``...).
The runtime boots a node and its supervision tree; ``spawn`` starts the agent under
supervision and ``ask`` sends it a user turn and waits for the ``Reply``.

No server or API key is needed: the runtime's default LLM is the in-process mock
provider, which answers ``echo: <your message>``.

    python examples/hello_agent.py ["your message"]
"""

from __future__ import annotations

import sys

import agentrt


class Greeter(agentrt.Agent):
    system_prompt = "You are a friendly greeter. Answer in one sentence."


async def main(message: str) -> int:
    async with agentrt.Runtime() as rt:
        greeter = await rt.spawn(Greeter, id="greeter")
        reply = await greeter.ask(message, timeout=10)
    print(f"you      {message}")
    print(f"greeter  {reply.text}")
    print(
        f"         {reply.steps} LLM call, {reply.input_tokens} tokens in, "
        f"{reply.output_tokens} out, {reply.llm_seconds * 1000:.1f} ms"
    )
    return 0 if reply.text else 1


if __name__ == "__main__":
    text = sys.argv[1] if len(sys.argv) > 1 else "Hello, agent!"
    raise SystemExit(agentrt.run(main(text)))

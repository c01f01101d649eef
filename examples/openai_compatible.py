"""An agent talking to a real OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama,
a LiteLLM proxy, or agentrt's own mock server), configured by environment variables.

- ``LLM_BASE_URL`` (required): the API's base URL, ending in ``/v1``.
- ``LLM_MODEL`` (required): the model name the server knows.
- ``LLM_API_KEY_ENV`` (optional): the *name* of the variable holding the API key, e.g.
  ``OPENAI_API_KEY``; leave it unset for a server without authentication. The key itself
  is read by the runtime's LLM pool when it starts and never printed.

The variables are read in ``main`` only; the rest is code-first configuration, in one
line: ``Runtime(llm=agentrt.OpenAI(...))``, whose ``model`` is the default model of the
agents (``Assistant`` names none). (They are not named
``AGENTRT_*``: that prefix holds ``RuntimeConfig.load`` overrides such as
``AGENTRT_STORE__KIND``, where an unknown name is an error.) Without the required
variables, or with a key variable that is not set, the script exits 2 and says what is
missing; if the server cannot answer, it exits 1.

    LLM_BASE_URL=https://api.openai.com/v1 LLM_MODEL=gpt-4o-mini \\
        LLM_API_KEY_ENV=OPENAI_API_KEY python examples/openai_compatible.py "Hi!"

    agentrt mock-llm --port 8100 &          # or against the project's mock server
    LLM_BASE_URL=http://127.0.0.1:8100/v1 LLM_MODEL=mock python examples/openai_compatible.py
"""

from __future__ import annotations

import os
import sys

import agentrt


class Assistant(agentrt.Agent):
    system_prompt = "You are a concise assistant. Answer in at most two sentences."
    max_tokens = 200


async def main(question: str) -> int:
    url, model = os.environ.get("LLM_BASE_URL"), os.environ.get("LLM_MODEL")
    if not url or not model:
        print(
            "error: set LLM_BASE_URL (e.g. https://api.openai.com/v1) and LLM_MODEL "
            "(and LLM_API_KEY_ENV if the server needs a key); see the docstring",
            file=sys.stderr,
        )
        return 2
    try:
        key_env = os.environ.get("LLM_API_KEY_ENV") or None
        llm = agentrt.OpenAI(base_url=url, model=model, api_key_env=key_env, name="remote")
        async with agentrt.Runtime(llm=llm) as rt:
            assistant = await rt.spawn(Assistant, id="assistant")
            reply = await assistant.ask(question, timeout=60)
            requests = rt.llm.stats()["providers"]["remote"]["requests"]
    except agentrt.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except agentrt.TurnFailed as exc:
        print(f"error: {url} did not answer: {exc}", file=sys.stderr)
        return 1
    print(f"server     {url} (model {model}, requests: {requests})")
    print(f"you        {question}")
    print(f"assistant  {reply.text}")
    print(
        f"           {reply.input_tokens} tokens in, {reply.output_tokens} out, "
        f"{reply.llm_seconds:.2f} s"
    )
    return 0 if reply.text else 1


if __name__ == "__main__":
    text = sys.argv[1] if len(sys.argv) > 1 else "What is an actor, in one sentence?"
    raise SystemExit(agentrt.run(main(text)))

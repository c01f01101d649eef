"""``agentrt serve --cluster``: two serve processes on loopback, nodes of one cluster on the
test's Redis; the official ``openai`` SDK talks to both. A conversation started on node A
(``--placement local`` keeps its agent there) goes on through node B with its whole history
resent: B finds the stored prefix at A's agent, appends only the new message, and a history
that contradicts it is refused (409) as on one node; a stream through B arrives chunk by
chunk; either node lists the models. Every process is stopped when the test ends."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import openai
import pytest

from agentrt.testing import serve_mock_llm

ROOT = Path(__file__).resolve().parents[2]
START_S = 60.0  # one node's start-up, at most


@asynccontextmanager
async def serve_nodes(
    redis_url: str, prefix: str, llm_url: str, *names: str
) -> AsyncIterator[dict[str, str]]:
    """``agentrt serve`` processes of one cluster, one per name: ``{name: base_url}`` once
    each is listening; every one is killed (its process group) on the way out."""
    procs: list[asyncio.subprocess.Process] = []
    urls: dict[str, str] = {}
    try:
        for name in names:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "agentrt.cli", "serve", "--port", "0", "--no-uvloop",
                "--llm-url", llm_url, "--cluster", "serve", "--redis", redis_url,
                "--prefix", prefix + "cl:", "--store-prefix", prefix + "mem:",
                "--node-id", name, "--placement", "local",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
                start_new_session=True,
            )  # fmt: skip
            procs.append(proc)
            urls[name] = await _listening(proc, name)
        yield urls
    finally:
        for proc in procs:
            if proc.returncode is None:
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 30)


async def _listening(proc: asyncio.subprocess.Process, name: str) -> str:
    """The base URL node ``name`` prints once it listens (after its joined line)."""
    assert proc.stdout is not None
    assert proc.stderr is not None
    seen: list[str] = []
    async with asyncio.timeout(START_S):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                err = (await proc.stderr.read()).decode()
                raise AssertionError(f"serve node {name} exited: {seen} {err[-2000:]}")
            seen.append(line)
            if line.startswith("agentrt serve listening on "):
                assert any(f"node {name} joined cluster serve" in s for s in seen), seen
                return line.split()[-1]


def _client(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url, api_key="-", max_retries=0, timeout=60)


async def test_a_conversation_goes_on_through_another_node(
    redis_url: str, redis_prefix: str
) -> None:
    async with (
        serve_mock_llm() as mock,
        serve_nodes(redis_url, redis_prefix, mock.url, "a", "b") as urls,
    ):
        a, b = _client(urls["a"]), _client(urls["b"])
        for client in (a, b):
            listed = await client.models.list()
            assert [m.id for m in listed.data] == ["assistant"]
        me = {"extra_headers": {"X-Agent-Id": "c1"}}
        history: list[Any] = [{"role": "user", "content": "first question"}]
        one = await a.chat.completions.create(model="assistant", messages=history, **me)
        assert one.choices[0].message.content == "echo: first question"
        assert one.usage is not None
        history += [
            {"role": "assistant", "content": one.choices[0].message.content},
            {"role": "user", "content": "second"},
        ]
        two = await b.chat.completions.create(model="assistant", messages=history, **me)
        assert two.choices[0].message.content == "echo: second"
        # the LLM saw turn one too: the agent that answered holds the conversation
        assert two.usage is not None
        assert two.usage.prompt_tokens > one.usage.prompt_tokens
        with pytest.raises(openai.ConflictError) as conflict:  # B reads A's stored history
            await b.chat.completions.create(
                model="assistant",
                messages=[
                    {"role": "user", "content": "a different first question"},
                    {"role": "assistant", "content": "echo: first question"},
                    {"role": "user", "content": "third"},
                ],
                **me,
            )
        assert conflict.value.code == "history_conflict"
        history += [
            {"role": "assistant", "content": two.choices[0].message.content},
            {"role": "user", "content": "third and streamed"},
        ]
        stream = await b.chat.completions.create(
            model="assistant",
            messages=history,
            stream=True,
            stream_options={"include_usage": True},
            **me,
        )
        chunks = [c async for c in stream]
        deltas = [c.choices[0].delta.content for c in chunks if c.choices]
        assert "".join(d or "" for d in deltas) == "echo: third and streamed"
        assert len([d for d in deltas if d]) >= 2, deltas  # token by token, not one piece
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.prompt_tokens > two.usage.prompt_tokens
        history += [
            {"role": "assistant", "content": "echo: third and streamed"},
            {"role": "user", "content": "back at a"},
        ]
        four = await a.chat.completions.create(model="assistant", messages=history, **me)
        assert four.choices[0].message.content == "echo: back at a"

"""``agentrt serve`` as a real process, driven with ``curl``; and the server behind a
reverse proxy that buffers nothing (``support.httpproxy``), with the ``openai`` SDK and
``curl``: JSON, streams (each chunk passes before the turn ends) and errors."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import openai
import pytest
from support.httpproxy import StreamingProxy
from support.serving import Gate, Serving
from support.waiting import eventually

from agentrt.testing import serve_mock_llm

ROOT = Path(__file__).resolve().parents[2]
CHAT = {"model": "assistant", "messages": [{"role": "user", "content": "hi"}]}


async def curl(*args: str) -> tuple[int, str]:
    """``curl`` with ``args``; (HTTP status, body). The status comes from ``-w``."""
    proc = await asyncio.create_subprocess_exec(
        "curl", "-sS", "-N", "--max-time", "60", "-w", "\n%{http_code}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    body, _, status = out.decode().rpartition("\n")
    return int(status), body


def post(url: str, body: Any, *headers: str) -> list[str]:
    args = [url + "/chat/completions", "-H", "Content-Type: application/json"]
    for header in headers:
        args += ["-H", header]
    return [*args, "-d", json.dumps(body)]


def sse(body: str) -> list[Any]:
    events = [e for e in body.split("\n\n") if e.strip()]
    assert all(e.startswith("data: ") for e in events), events
    assert events[-1] == "data: [DONE]"
    return [json.loads(e[6:]) for e in events[:-1]]


async def _check_with_curl(url: str) -> None:
    status, body = await curl(*post(url, CHAT, "X-Agent-Id: curl-1"))
    assert status == 200, body
    assert json.loads(body)["choices"][0]["message"]["content"] == "echo: hi"
    status, body = await curl(
        *post(url, {**CHAT, "stream": True, "stream_options": {"include_usage": True}})
    )
    assert status == 200, body
    chunks = sse(body)
    assert (
        "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
        == "echo: hi"
    )
    assert chunks[-1]["usage"]["total_tokens"] > 0
    status, body = await curl(*post(url, {**CHAT, "n": 3}))
    assert status == 400
    assert json.loads(body)["error"]["param"] == "n"
    status, body = await curl(url + "/models")
    assert status == 200
    assert "assistant" in [m["id"] for m in json.loads(body)["data"]]


async def test_the_command_serves_until_sigterm_and_curl_talks_to_it() -> None:
    async with serve_mock_llm() as mock:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agentrt.cli", "serve", "--port", "0", "--llm-url", mock.url,
            "--no-uvloop",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert line.startswith("agentrt serve listening on http://127.0.0.1:"), line
            url = line.split()[-1]
            await _check_with_curl(url)
            assert mock.state.counts["chat"] + mock.state.counts.get("stream", 0) >= 2
            proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err


# one process per case, each its own test: xdist spreads the four start-ups over its workers
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--tenant", "acme=NO_SUCH_TOKEN_VAR"], "NO_SUCH_TOKEN_VAR is not set"),
        (["--host", "0.0.0.0"], "serve.host"),
        (["--rate", "fast"], "--rate"),
        (["nosuchmodule:App"], "APP"),
    ],
)
async def test_bad_flags_exit_2_naming_them(argv: list[str], needle: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_SUCH_TOKEN_VAR"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agentrt.cli", "serve", "--port", "0", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 2, (argv, out, err)
    assert needle in err.decode(), (argv, err)
    assert b"Traceback" not in err


async def test_through_a_proxy_that_buffers_nothing(serving: Serving, gate: Gate) -> None:
    async with (
        serving() as (server, _rt, _mock),
        StreamingProxy(server.url.removesuffix("/v1")) as proxy,
    ):
        url = proxy.url + "/v1"
        api = openai.AsyncOpenAI(base_url=url, api_key="-", max_retries=0)
        done = await api.chat.completions.create(model="assistant", messages=CHAT["messages"])  # type: ignore[arg-type]
        assert done.choices[0].message.content == "echo: hi"
        with_usage = {"include_usage": True}
        stream = await api.chat.completions.create(
            model="held",
            messages=CHAT["messages"],
            stream=True,
            stream_options=with_usage,  # type: ignore[arg-type]
        )
        parts = aiter(stream)
        first = await anext(parts)  # the role chunk...
        second = await anext(parts)  # ...and the first delta arrive while the turn is held
        assert first.choices[0].delta.role == "assistant"
        assert second.choices[0].delta.content == "held:"
        assert not gate.opened.is_set()
        gate.opened.set()
        rest = [c async for c in parts]
        assert "".join(c.choices[0].delta.content or "" for c in rest if c.choices) == " hi"
        assert rest[-1].usage is not None
        with_curl = await curl(*post(url, {**CHAT, "model": "nope"}))
        assert with_curl[0] == 404
        assert json.loads(with_curl[1])["error"]["code"] == "model_not_found"
        await _check_with_curl(url)
        await eventually(lambda: proxy.pieces > 0, what="the proxy forwarded pieces")

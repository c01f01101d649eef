"""The OpenAI-compatible mock LLM server, spoken to over real HTTP."""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import sys

import aiohttp
import pytest

from agentrt.cli import build_parser
from agentrt.errors import ConfigError
from agentrt.llm import MockLLMServer, MockServerConfig, serve_mock_llm
from agentrt.testing import MockLLMError, MockLLMProcess

CHAT = {"model": "mock", "messages": [{"role": "user", "content": "hello"}]}


async def post(
    url: str, body: object, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as r,
    ):
        return r.status, await r.read(), dict(r.headers)


async def test_chat_completion_json(server: MockLLMServer) -> None:
    status, body, _ = await post(server.url + "/chat/completions", CHAT)
    assert status == 200
    data = json.loads(body)
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "echo: hello"}
    assert data["choices"][0]["finish_reason"] == "stop"
    assert (
        data["usage"]["total_tokens"]
        == data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]
    )
    assert server.state.counts["chat"] == 1
    assert server.state.requests_seen[-1] == CHAT


async def test_stream_ends_with_usage_and_done(server: MockLLMServer) -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    body["messages"] = [{"role": "user", "content": "[[words:3]]"}]
    status, raw, headers = await post(server.url + "/chat/completions", body)
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    events = [e.removeprefix("data: ") for e in raw.decode().strip().split("\n\n")]
    assert events[-1] == "[DONE]"
    usage = json.loads(events[-2])
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] >= 1
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-3])
    assert text == "w1 w2 w3"
    assert json.loads(events[-3])["choices"][0]["finish_reason"] == "stop"


async def test_tool_call_directive(server: MockLLMServer) -> None:
    body = {
        "model": "mock",
        "messages": [{"role": "user", "content": '[[tool:lookup {"q": "x"}]]'}],
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
    }
    _, raw, _ = await post(server.url + "/chat/completions", body)
    choice = json.loads(raw)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"] == {
        "name": "lookup",
        "arguments": '{"q": "x"}',
    }


async def test_embeddings_list_and_string_input(server: MockLLMServer) -> None:
    _, raw, _ = await post(server.url + "/embeddings", {"model": "e", "input": ["a", "b"]})
    data = json.loads(raw)
    assert [d["index"] for d in data["data"]] == [0, 1]
    assert len(data["data"][0]["embedding"]) == 8
    _, raw, _ = await post(server.url + "/embeddings", {"model": "e", "input": "a"})
    assert json.loads(raw)["data"][0]["embedding"] == data["data"][0]["embedding"]
    assert server.state.counts["embeddings"] == 2
    assert server.state.counts["embedding_inputs"] == 3
    status, raw, _ = await post(server.url + "/embeddings", {"model": "e", "input": [1]})
    assert status == 400
    assert "input" in json.loads(raw)["error"]["message"]


async def test_bad_requests_are_rejected(server: MockLLMServer) -> None:
    status, _, _ = await post(server.url + "/chat/completions", {"model": "m", "messages": []})
    assert status == 400
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.url + "/chat/completions", data=b"{nope") as r,
    ):
        assert r.status == 400
        assert "invalid JSON" in await r.text()


async def test_scripted_errors_use_the_openai_error_body(server: MockLLMServer) -> None:
    server.state.fail_next.extend([503, 429])
    status, raw, _ = await post(server.url + "/chat/completions", CHAT)
    assert status == 503
    assert json.loads(raw)["error"]["type"] == "server_error"
    status, raw, headers = await post(server.url + "/chat/completions", CHAT)
    assert status == 429
    assert headers["Retry-After"] == "1"
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"
    status, _, _ = await post(server.url + "/chat/completions", CHAT, {"x-mock-fault": "500"})
    assert status == 500
    assert server.state.counts["status_503"] == server.state.counts["status_500"] == 1


async def test_rate_limit_answers_429_above_the_rate() -> None:
    async with serve_mock_llm(MockServerConfig(rate_limit_rps=3, retry_after_s=2)) as server:
        statuses = [(await post(server.url + "/chat/completions", CHAT))[0] for _ in range(5)]
    assert statuses.count(200) == 3
    assert statuses[-1] == 429


async def test_random_error_rates_are_seeded() -> None:
    config = MockServerConfig(error_rate_500=0.5, seed=7)

    async def run() -> list[int]:
        async with serve_mock_llm(config) as server:
            return [(await post(server.url + "/chat/completions", CHAT))[0] for _ in range(12)]

    first = await run()
    assert first == await run()
    assert set(first) == {200, 500}


async def test_error_rate_429_carries_retry_after() -> None:
    config = MockServerConfig(error_rate_429=1.0, retry_after_s=0.25)
    async with serve_mock_llm(config) as server:
        status, _, headers = await post(server.url + "/chat/completions", CHAT)
        assert status == 429
        assert headers["Retry-After"] == "0.25"
        assert server.state.counts["status_429"] == 1
    with pytest.raises(ConfigError, match="error_rate_429"):
        MockServerConfig(error_rate_429=1.5)


@pytest.mark.parametrize("fault", ["invalid_json", "missing_fields", "unknown_finish"])
async def test_malformed_modes(server: MockLLMServer, fault: str) -> None:
    status, raw, _ = await post(server.url + "/chat/completions", CHAT, {"x-mock-fault": fault})
    assert status == 200
    if fault == "invalid_json":
        with pytest.raises(json.JSONDecodeError):
            json.loads(raw)
    elif fault == "missing_fields":
        assert "choices" not in json.loads(raw)
    else:
        assert json.loads(raw)["choices"][0]["finish_reason"] == "banana"


async def test_truncated_sse_has_no_done(server: MockLLMServer) -> None:
    body = {**CHAT, "stream": True}
    _, raw, _ = await post(
        server.url + "/chat/completions", body, {"x-mock-fault": "truncated_sse"}
    )
    assert b"[DONE]" not in raw
    assert not raw.endswith(b"\n\n")


async def test_hang_is_released_when_the_server_stops() -> None:
    async with serve_mock_llm() as server:
        server.state.fail_next.append("hang")
        request = asyncio.create_task(post(server.url + "/chat/completions", CHAT))
        while not server.state.counts["fault_hang"]:
            await asyncio.sleep(0.005)
        assert not request.done()
    status, _, _ = await request
    assert status == 503


async def test_control_endpoints(server: MockLLMServer) -> None:
    base = server.url.removesuffix("/v1")
    _, raw, _ = await post(base + "/mock/faults", {"fail_next": [500], "config": {"latency_ms": 1}})
    assert json.loads(raw)["fail_next"] == [500]
    assert server.state.config.latency_ms == 1
    status, _, _ = await post(base + "/mock/faults", {"config": {"latency_ms": -1}})
    assert status == 400
    assert (await post(server.url + "/chat/completions", CHAT))[0] == 500
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/mock/stats") as r:
            stats = await r.json()
        assert stats["counts"]["status_500"] == 1
        assert stats["open_connections"] >= 1
        async with session.get(server.url + "/models") as r:
            assert {m["id"] for m in (await r.json())["data"]} == {"mock", "mock-embed"}
    await post(base + "/mock/reset", {})
    assert server.state.counts["http"] == 0


def test_server_config_validation() -> None:
    with pytest.raises(ConfigError, match=r"mock_llm\.latency_ms"):
        MockServerConfig(latency_ms=-1)
    with pytest.raises(ConfigError, match="fraction"):
        MockServerConfig(error_rate_503=2)
    with pytest.raises(ConfigError, match="unknown mode"):
        MockServerConfig(malformed="weird")  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError, match=r"'mock_llm\.profiles\.m\.error_rate_500': is a fraction"
    ):
        MockServerConfig(profiles={"m": {"error_rate_500": 2}})
    with pytest.raises(ConfigError, match=r"'mock_llm\.profiles\.m': .*'error_rate'"):
        MockServerConfig(profiles={"m": {"error_rate": 1}})


def test_cli_flags_build_the_config() -> None:
    from agentrt.cli._mock_llm import _config

    args = build_parser().parse_args(
        [
            "mock-llm",
            "--port",
            "0",
            "--latency-ms",
            "50",
            "--jitter-ms",
            "5",
            "--error-rate-503",
            "0.1",
            "--rate-limit-rps",
            "500",
            "--retry-after-s",
            "2",
            "--malformed",
            "truncated_sse",
            "--max-inflight",
            "4",
            "--hang-rate",
            "0.01",
            "--per-token-ms",
            "1",
        ]
    )
    assert isinstance(args, argparse.Namespace)
    config = _config(args)
    assert (config.latency_ms, config.jitter_ms, config.error_rate_503) == (50, 5, 0.1)
    assert (config.rate_limit_rps, config.retry_after_s, config.max_inflight) == (500, 2, 4)
    assert config.malformed == "truncated_sse"
    assert (config.hang_rate, config.per_token_ms) == (0.01, 1)
    assert args.port == 0


async def test_mock_server_in_its_own_process() -> None:
    async with MockLLMProcess(latency_ms=1) as server:
        assert server.url.startswith("http://127.0.0.1:")
        status, raw, _ = await post(server.url + "/chat/completions", CHAT)
        assert status == 200
        assert json.loads(raw)["choices"][0]["message"]["content"] == "echo: hello"
        await server.faults(fail_next=[503])
        assert (await post(server.url + "/chat/completions", CHAT))[0] == 503
        stats = await server.stats()
        assert stats["counts"]["chat"] == 1
        assert stats["counts"]["status_503"] == 1
        await server.reset()
        assert (await server.stats())["counts"] == {}
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(server.url + "/chat/completions", CHAT)


_CHATTY = """
import signal, subprocess, sys
inner = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, text=True)
signal.signal(signal.SIGTERM, lambda *_: (inner.terminate(), inner.wait(), sys.exit(0)))
print(inner.stdout.readline(), end="", flush=True)
sys.stderr.write("x" * 400_000)  # six times a pipe's buffer: blocks unless it is read
sys.stderr.flush()
open(sys.argv[1], "w").close()
inner.wait()
"""


class _ChattyMock(MockLLMProcess):
    """The real mock behind a wrapper that writes 400 KB to stderr once it listens, then
    leaves a marker file."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def command(self) -> list[str]:
        return [sys.executable, "-c", _CHATTY, self.marker, *super().command()]


async def test_a_mock_llm_process_that_writes_much_to_stderr_is_not_blocked(
    tmp_path: pathlib.Path,
) -> None:
    marker = tmp_path / "wrote"
    async with _ChattyMock(str(marker)) as server:
        async with asyncio.timeout(60):
            while not marker.exists():  # written only after the 400 KB got through
                await asyncio.sleep(0.05)
        assert (await post(server.url + "/chat/completions", CHAT))[0] == 200


async def test_a_mock_llm_process_that_does_not_start_raises_mock_llm_error() -> None:
    process = MockLLMProcess(no_such_flag=1)  # the CLI rejects it and exits
    with pytest.raises(MockLLMError, match="mock-llm did not start") as info:
        await process.start()
    assert "no-such-flag" in str(info.value)

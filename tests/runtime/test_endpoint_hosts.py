"""The introspection endpoint's ``Host`` allow-list (DNS rebinding) and its answer to
requests the HTTP parser rejects, over a real socket (issue 13 §5)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from support.agents import fast_config

from agentrt.errors import ConfigError
from agentrt.runtime import EndpointConfig, Runtime, TelemetryConfig

TOKEN_ENV = "AGENTRT_TEST_HOSTS_TOKEN"


async def _raw(port: int, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` bytes as they are; the status code and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _get(host: str | None, path: str = "/summary", extra: str = "") -> bytes:
    """A GET naming ``host`` (None: HTTP/1.0 without a Host header, which 1.1 requires)."""
    version, host_line = ("1.1", f"Host: {host}\r\n") if host is not None else ("1.0", "")
    return f"GET {path} HTTP/{version}\r\n{host_line}{extra}Connection: close\r\n\r\n".encode()


async def _runtime(endpoint: EndpointConfig) -> Runtime:
    return Runtime(replace(fast_config(), telemetry=TelemetryConfig(endpoint=endpoint)))


@pytest.fixture
async def port() -> AsyncIterator[int]:
    cfg = EndpointConfig(allowed_hosts=("agents.internal",))
    async with await _runtime(cfg) as rt:
        assert rt.endpoint_url is not None
        yield int(rt.endpoint_url.rsplit(":", 1)[1])


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:8787",
        "LOCALHOST.:1",
        "127.0.0.1",
        "127.0.0.1:8787",
        "127.1.2.3:9",
        "[::1]",
        "[::1]:8787",
        "agents.internal:8787",  # configured
    ],
)
async def test_loopback_and_configured_hosts_are_served(port: int, host: str) -> None:
    status, body = await _raw(port, _get(host))
    assert status == 200, body
    assert "turns" in json.loads(body)


@pytest.mark.parametrize(
    "host",
    [
        "attacker.example:8787",
        "attacker.example",
        "localhost.attacker.example",
        "127.0.0.1.nip.io:8787",
        "10.0.0.5:8787",  # an IP literal, but no token: loopback names only
        "[::1",
        "",
        None,
    ],
)
async def test_other_hosts_are_refused_with_421(port: int, host: str | None) -> None:
    status, body = await _raw(port, _get(host))
    assert status == 421, body
    answer = json.loads(body)
    assert "allowed_hosts" in answer["error"]
    assert "turns" not in body.decode()


async def test_with_a_token_ip_literals_are_served_but_names_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "tok-123456")
    cfg = EndpointConfig(token_env=TOKEN_ENV)
    async with await _runtime(cfg) as rt:
        assert rt.endpoint_url is not None
        port = int(rt.endpoint_url.rsplit(":", 1)[1])
        auth = "Authorization: Bearer tok-123456\r\n"
        assert (await _raw(port, _get("10.0.0.5:8787", extra=auth)))[0] == 200
        assert (await _raw(port, _get("evil.example:8787", extra=auth)))[0] == 421
        # the Host check comes first: a rebinding page learns nothing about the token
        assert (await _raw(port, _get("evil.example:8787")))[0] == 421
        assert (await _raw(port, _get("localhost")))[0] == 401


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: localhost\r\nBroken header line\r\n\r\n",
    ],
    ids=["request-line", "header", "malformed"],
)
async def test_a_request_the_parser_rejects_is_one_log_line(
    caplog: pytest.LogCaptureFixture, request_bytes: bytes
) -> None:
    async with await _runtime(EndpointConfig()) as rt:
        assert rt.endpoint_url is not None
        port = int(rt.endpoint_url.rsplit(":", 1)[1])
        with caplog.at_level(logging.DEBUG):
            status, _ = await _raw(port, request_bytes)
            again, _ = await _raw(port, _get("localhost"))  # the endpoint carries on
        assert status in (400, 414)
        assert again == 200
        stats = rt.telemetry.snapshot()["endpoint"]
        assert stats["statuses"].get(str(status)) == 1
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(problems) == 1, [r.getMessage() for r in problems]
    assert problems[0].exc_info is None
    assert "Traceback" not in caplog.text
    assert "rejected a malformed request from 127.0.0.1" in problems[0].getMessage()


@pytest.mark.parametrize("bad", ["", "a b", "user@host", "h/x", "agents.internal"])
def test_allowed_hosts_must_be_host_names(bad: str) -> None:
    value = bad if bad == "agents.internal" else (bad,)  # a bare string is refused too
    with pytest.raises(ConfigError, match="allowed_hosts"):
        EndpointConfig(allowed_hosts=value)  # type: ignore[arg-type]

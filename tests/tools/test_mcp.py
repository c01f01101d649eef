"""MCP tools against a real MCP server process (tests/tools/mcp_demo_server.py, written with
the mcp package's MCPServer), over stdio and streamable HTTP: listing, validation,
policies, results, errors, and a server killed mid-call (clean tool error, then restart)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from support.mcpserver import HttpServer

from agentrt.actor import Node
from agentrt.errors import ConfigError
from agentrt.testing._server_process import free_port
from agentrt.tools import (
    CachePolicy,
    MCPTools,
    MCPUnavailable,
    MemoryBackend,
    ResultCache,
    ToolPolicy,
    ToolRegistry,
)

SERVER = str(Path(__file__).with_name("mcp_demo_server.py"))
BAD_SERVER = str(Path(__file__).with_name("mcp_bad_server.py"))
STDIO = (sys.executable, SERVER, "stdio")


@pytest.fixture(scope="module")
def http_server() -> Iterator[HttpServer]:
    """One HTTP server process for the module (the kill test replaces it in place)."""
    server = HttpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _config(transport: str, http: HttpServer | None, **options: object) -> MCPTools:
    if transport == "stdio":
        return MCPTools("demo", command=STDIO, **options)  # type: ignore[arg-type]
    assert http is not None
    return MCPTools("demo", url=http.url, **options)  # type: ignore[arg-type]


@pytest.fixture(params=["stdio", "http"])
async def registry(
    request: pytest.FixtureRequest, node: Node
) -> AsyncIterator[tuple[ToolRegistry, str, HttpServer | None]]:
    http = None
    if request.param == "http":
        http = request.getfixturevalue("http_server")
    config = _config(
        request.param,
        http,
        policy=ToolPolicy(timeout=10),
        policies={"add": ToolPolicy(timeout=10, cache=CachePolicy(ttl=60))},
        health_interval=0.5,
        connect_timeout=10.0,
    )
    reg = ToolRegistry([config], cache=ResultCache(MemoryBackend(), namespace="mcp-test"))
    await reg.start(node)
    try:
        yield reg, request.param, http
    finally:
        await reg.aclose()
        assert reg.cache is not None
        await reg.cache.aclose()


async def test_tools_listed_validated_called_and_errors_reported(
    registry: tuple[ToolRegistry, str, HttpServer | None],
) -> None:
    reg, _, _ = registry
    assert set(reg.names()) >= {"demo_add", "demo_order", "demo_slow", "demo_whoami"}
    order = reg.get("demo_order")
    assert "$ref" not in json.dumps(order.parameters)
    item = order.parameters["properties"]["items"]["items"]
    assert item["properties"]["qty"]["minimum"] == 1
    assert reg.get("demo_add").description == "Add two integers."

    result = await reg.invoke("demo_add", '{"a": 2, "b": 3}')
    assert result.ok
    assert result.content == "5"
    result = await reg.invoke("demo_order", {"items": [{"sku": "x", "qty": 2}], "note": "n"})
    assert result.ok
    assert result.content == "x" + "x2 (n)"

    # arguments are validated against the schema, every bad field named, nothing sent
    result = await reg.invoke("demo_order", {"items": [{"sku": 1, "qty": 0}, "x"]})
    assert not result.ok
    assert result.error == "invalid_arguments"
    body = json.loads(result.content)
    assert set(body["fields"]) == {"items[0].sku", "items[0].qty", "items[1]"}
    assert "argument 'items[0].sku': expected a string, got 1 (integer)" in body["message"]
    missing = await reg.invoke("demo_add", {"a": 1})
    assert "argument 'b' is missing: expected an integer" in missing.message
    assert reg.stats()["mcp"]["demo"]["calls"] == 2  # the two good calls only

    # a tool's own error (isError) reaches the model as an "exception" tool error
    result = await reg.invoke("demo_fail", {"message": "boom"})
    assert not result.ok
    assert result.error == "exception"
    assert "MCPToolError" in result.message
    assert "boom" in result.message


async def test_policies_apply_cache_and_timeout(
    registry: tuple[ToolRegistry, str, HttpServer | None], node: Node
) -> None:
    reg, _, _ = registry
    first = await reg.invoke("demo_add", {"a": 1, "b": 1})
    second = await reg.invoke("demo_add", {"b": 1, "a": 1})
    assert first.ok
    assert not first.cached
    assert second.ok
    assert second.cached
    assert reg.stats()["mcp"]["demo"]["calls"] == 1

    slow = ToolRegistry(
        [MCPTools("slowpoke", command=STDIO, policy=ToolPolicy(timeout=0.3), include=("slow",))]
    )
    await slow.start(node)
    try:
        assert slow.names() == ["slowpoke_slow"]
        result = await slow.invoke("slowpoke_slow", {"seconds": 5})
        assert result.error == "timeout"
    finally:
        await slow.aclose()


async def _pid(reg: ToolRegistry) -> int:
    result = await reg.invoke("demo_whoami", {})
    assert result.ok, result.content
    return int(result.content)


async def _until_connected(reg: ToolRegistry, connections: int) -> None:
    for _ in range(800):  # 40 s: a new HTTP server process starts slowly on a busy machine
        stats = reg.stats()["mcp"]["demo"]
        if stats["connected"] and stats["connections"] >= connections:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no reconnection: {reg.stats()['mcp']['demo']}")


async def test_server_killed_mid_call_fails_cleanly_then_restarts(
    registry: tuple[ToolRegistry, str, HttpServer | None],
) -> None:
    reg, _transport, http = registry
    pid = await _pid(reg)
    call = asyncio.create_task(reg.invoke("demo_slow", {"seconds": 30}))
    await asyncio.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
    result = await asyncio.wait_for(call, 10)
    assert not result.ok
    assert result.error == "unavailable"
    assert "'mcp:demo' unavailable: connection lost during the call" in result.message
    if http is not None:
        http.proc = None
        http.start()  # a new server process on the same port
    await _until_connected(reg, 2)
    assert await _pid(reg) != pid
    stats = reg.stats()["mcp"]["demo"]
    assert stats["restarts"] >= 1
    assert stats["lost_calls"] >= 1


async def test_malformed_responses_get_a_clear_error(node: Node) -> None:
    reg = ToolRegistry([MCPTools("bad", command=(sys.executable, BAD_SERVER), health_interval=30)])
    await reg.start(node)
    try:
        assert reg.names() == ["bad_echo", "bad_later"]  # both pages of the listing
        rejected = reg.stats()["mcp"]["bad"]["rejected"]
        assert "invalid inputSchema" in rejected["broken"]
        result = await reg.invoke("bad_echo", {"x": "1"})
        assert not result.ok
        assert result.error == "exception"
        assert "malformed response" in result.message
        assert "content" in result.message
    finally:
        await reg.aclose()


async def test_unreachable_server_fails_start_naming_it(node: Node) -> None:
    port = free_port()
    reg = ToolRegistry([MCPTools("gone", url=f"http://127.0.0.1:{port}/mcp", connect_timeout=3)])
    with pytest.raises(MCPUnavailable, match="gone"):
        await reg.start(node)
    await reg.aclose()


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({}, "mcp.bad"),
        ({"command": STDIO, "url": "http://x"}, "mcp.bad"),
        ({"url": "ftp://x"}, "mcp.bad.url"),
        ({"command": ()}, "mcp.bad.command"),
        ({"command": STDIO, "prefix": "a b"}, "mcp.bad.prefix"),
        ({"command": STDIO, "health_interval": 0}, "mcp.bad.health_interval"),
    ],
)
def test_bad_config_names_the_key(options: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        MCPTools("bad", **options)  # type: ignore[arg-type]
    assert info.value.key == key

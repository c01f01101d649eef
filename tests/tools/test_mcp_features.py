"""MCP tools beyond the basics, against the real demo server (tests/tools/mcp_demo_server.py):
``tools/list_changed`` refreshing the registry, resources and prompts as tools, auth
headers on streamable HTTP (secrets kept out of reprs and errors), the legacy HTTP+SSE
transport, and MCP servers from the runtime's TOML config."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.mcpserver import DEMO, HttpServer
from support.waiting import eventually

from agentrt import Secret
from agentrt.actor import Node
from agentrt.errors import ConfigError
from agentrt.runtime import RuntimeConfig
from agentrt.tools import MCPTools, MCPUnavailable, ToolRegistry

STDIO = (sys.executable, DEMO, "stdio")
TOKEN = "s3cr3t-token-for-mcp"


@pytest.fixture(scope="module")
def guarded() -> Iterator[HttpServer]:
    server = HttpServer("http", token=TOKEN)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sse() -> Iterator[HttpServer]:
    server = HttpServer("sse")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _grow_and_shrink(reg: ToolRegistry, name: str) -> None:
    """The server adds a tool, then removes it; the registry follows both changes."""
    assert f"demo_{name}" not in reg.names()
    grown = await reg.invoke("demo_grow", {"name": name})
    assert grown.ok, grown.content
    await eventually(lambda: f"demo_{name}" in reg.names(), what="the new tool registered")
    echoed = await reg.invoke(f"demo_{name}", {"text": "hi"})
    assert echoed.ok, echoed.content
    assert echoed.content == "hi"
    bad = await reg.invoke(f"demo_{name}", {})  # the new tool's schema is validated
    assert bad.error == "invalid_arguments"
    shrunk = await reg.invoke("demo_shrink", {"name": name})
    assert shrunk.ok, shrunk.content
    await eventually(lambda: f"demo_{name}" not in reg.names(), what="the tool unregistered")
    gone = await reg.invoke(f"demo_{name}", {"text": "hi"})
    assert gone.error == "unknown_tool"
    assert reg.stats()["mcp"]["demo"]["relists"] >= 2
    assert "demo_add" in reg.names()  # the others stay


async def test_tool_list_changes_refresh_the_registry_over_stdio(node: Node) -> None:
    reg = ToolRegistry([MCPTools("demo", command=STDIO, health_interval=30)])
    await reg.start(node)
    try:
        await _grow_and_shrink(reg, "echo_a")
    finally:
        await reg.aclose()


async def test_legacy_sse_transport_lists_calls_and_follows_changes(
    node: Node, sse: HttpServer
) -> None:
    config = MCPTools("demo", url=sse.url, transport="sse", health_interval=30)
    reg = ToolRegistry([config])
    await reg.start(node)
    try:
        result = await reg.invoke("demo_add", {"a": 2, "b": 40})
        assert result.ok, result.content
        assert result.content == "42"
        await _grow_and_shrink(reg, "echo_b")
    finally:
        await reg.aclose()


async def test_resources_and_prompts_are_tools(node: Node) -> None:
    config = MCPTools("demo", command=STDIO, resources=True, prompts=True, health_interval=30)
    reg = ToolRegistry([config])
    await reg.start(node)
    try:
        names = set(reg.names())
        assert {"demo_list_resources", "demo_read_resource"} <= names
        assert {"demo_list_prompts", "demo_get_prompt"} <= names
        listed = json.loads((await reg.invoke("demo_list_resources", {})).content)
        assert {"uri": "notes://today", "name": "today"}.items() <= listed[0].items()
        assert any(r.get("uriTemplate") == "notes://{day}" for r in listed)
        today = await reg.invoke("demo_read_resource", {"uri": "notes://today"})
        assert today.content == "buy milk"
        monday = await reg.invoke("demo_read_resource", {"uri": "notes://monday"})
        assert monday.content == "note of monday"
        missing = await reg.invoke("demo_read_resource", {"uri": "nowhere://x"})
        assert not missing.ok
        assert missing.error == "exception"
        assert "MCPToolError" in missing.message
        bad = await reg.invoke("demo_read_resource", {"url": "notes://today"})
        assert bad.error == "invalid_arguments"
        assert "uri" in json.loads(bad.content)["fields"]

        prompts = json.loads((await reg.invoke("demo_list_prompts", {})).content)
        assert prompts[0]["name"] == "review"
        assert [a["name"] for a in prompts[0]["arguments"]] == ["code", "strict"]
        filled = await reg.invoke(
            "demo_get_prompt", {"name": "review", "arguments": {"code": "x = 1"}}
        )
        assert json.loads(filled.content) == [{"role": "user", "content": "Review this: x = 1"}]
        wrong = await reg.invoke("demo_get_prompt", {"name": "review", "arguments": {"c": 1}})
        assert wrong.error == "invalid_arguments"
    finally:
        await reg.aclose()


async def test_auth_headers_reach_the_server_and_never_show(
    node: Node, guarded: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_MCP_TOKEN", TOKEN)
    config = MCPTools(
        "demo", url=guarded.url, headers={"Authorization": "Bearer ${DEMO_MCP_TOKEN}"}
    )
    assert TOKEN not in repr(config)
    reg = ToolRegistry([config])
    await reg.start(node)
    try:
        result = await reg.invoke("demo_add", {"a": 1, "b": 2})
        assert result.content == "3"
        assert TOKEN not in json.dumps(reg.stats())
    finally:
        await reg.aclose()

    secret = ToolRegistry(
        [MCPTools("demo", url=guarded.url, headers={"Authorization": Secret(f"Bearer {TOKEN}")})]
    )
    await secret.start(node)
    try:
        assert (await secret.invoke("demo_add", {"a": 2, "b": 2})).content == "4"
    finally:
        await secret.aclose()

    wrong = "Bearer wrong-token-value-123"
    config = MCPTools("demo", url=guarded.url, headers={"Authorization": wrong}, connect_timeout=5)
    denied = ToolRegistry([config])
    with pytest.raises(MCPUnavailable) as info:
        await denied.start(node)
    await denied.aclose()
    assert "401" in str(info.value)
    assert "wrong-token-value-123" not in str(info.value)
    assert "wrong-token-value-123" not in repr(config)


async def test_a_header_naming_an_unset_variable_fails_naming_it(node: Node) -> None:
    config = MCPTools(
        "demo", url="http://127.0.0.1:9/mcp", headers={"X-Api-Key": "${NO_SUCH_VAR_XYZ}"}
    )
    reg = ToolRegistry([config])
    with pytest.raises(ConfigError) as info:
        await reg.start(node)
    await reg.aclose()
    assert info.value.key == "mcp.demo.headers.X-Api-Key"
    assert "NO_SUCH_VAR_XYZ" in str(info.value)


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"command": STDIO, "transport": "sse"}, "mcp.bad.transport"),
        ({"url": "http://x", "transport": "stdio"}, "mcp.bad.transport"),
        ({"command": STDIO, "headers": {"A": "b"}}, "mcp.bad.headers"),
        ({"url": "http://x", "headers": {"bad header": "b"}}, "mcp.bad.headers"),
        ({"url": "http://x", "headers": {"A": 3}}, "mcp.bad.headers.A"),
        ({"url": "http://x", "resources": "yes"}, "mcp.bad.resources"),
    ],
)
def test_bad_transport_and_header_config_names_the_key(
    options: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError) as info:
        MCPTools("bad", **options)  # type: ignore[arg-type]
    assert info.value.key == key


async def test_mcp_servers_from_the_toml_config(tmp_path: Path) -> None:
    from agentrt.runtime import Runtime

    path = tmp_path / "agentrt.toml"
    command = json.dumps(list(STDIO))
    path.write_text(
        f"[mcp.demo]\ncommand = {command}\nprompts = true\n"
        "policy = { timeout = 10, cache = { ttl = 60 } }\n"
        "policies = { slow = { timeout = 0.5 } }\n"
    )
    config = RuntimeConfig.load(path, env={})
    (server,) = config.mcp_servers()
    assert server.name == "demo"
    assert server.command == STDIO
    assert server.policies["slow"].timeout == 0.5
    async with Runtime(config) as rt:
        tools = rt.services.tools
        assert {"demo_add", "demo_get_prompt"} <= set(tools.names())
        assert tools.policy("demo_add").cache is not None
        assert (await tools.invoke("demo_add", {"a": 1, "b": 1})).content == "2"

    path.write_text('[mcp.demo]\ncomand = ["x"]\n')
    with pytest.raises(ConfigError) as info:
        RuntimeConfig.load(path, env={})
    assert info.value.key == "mcp.demo.comand"
    assert "did you mean 'command'" in str(info.value)
    assert "agentrt.toml:2" in str(info.value)
    path.write_text('[mcp.demo]\nurl = "http://x"\nheaders = { Authorization = 3 }\n')
    with pytest.raises(ConfigError) as info:
        RuntimeConfig.load(path, env={})
    assert info.value.key == "mcp.demo.headers.Authorization"


def test_header_values_are_masked_in_config_show(tmp_path: Path) -> None:
    from agentrt._configlayers import load_layers
    from agentrt.cli._config import show_lines

    path = tmp_path / "agentrt.toml"
    path.write_text(
        '[mcp.docs]\nurl = "http://127.0.0.1:9/mcp"\n'
        'headers = { Authorization = "Bearer tok-abc-123", X-Custom = "plain-456" }\n'
    )
    layered = load_layers(RuntimeConfig, path=path, env={}, flags={})
    [line] = [line for line in show_lines(layered) if " mcp = " in line]
    assert line.startswith("file")
    assert "tok-abc-123" not in line
    assert "plain-456" not in line
    assert '"Authorization": "***"' in line
    (server,) = layered.config.mcp_servers()
    assert "tok-abc-123" not in repr(server)

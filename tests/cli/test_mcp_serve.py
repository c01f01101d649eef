"""``agentrt mcp serve`` in a real process, used by the mcp package's own client over
stdio and streamable HTTP: the registered tools are listed with their agentrt schemas and
calls run through the registry (validation errors field by field, cache policy)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

AGENTRT = str(Path(sys.executable).with_name("agentrt"))

TOOLS = '''
import datetime
from pydantic import BaseModel, Field
from agentrt.tools import CachePolicy, MemoryBackend, ResultCache, ToolPolicy, ToolRegistry, tool

CALLS = {"n": 0}


class Window(BaseModel):
    start: datetime.date
    days: int = Field(1, ge=1)


@tool(policy=ToolPolicy(cache=CachePolicy(ttl=60)))
def stay(city: str, window: Window) -> dict[str, object]:
    """Plan a stay.

    Args:
        city: Where.
    """
    CALLS["n"] += 1
    return {"city": city, "nights": window.days, "runs": CALLS["n"]}


registry = ToolRegistry([stay], cache=ResultCache(MemoryBackend(), namespace="served"))
'''


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "served_tools.py").write_text(textwrap.dedent(TOOLS))
    return tmp_path


async def _exercise(client: Client) -> None:
    listed = (await client.list_tools()).tools
    assert [t.name for t in listed] == ["stay"]
    schema = listed[0].input_schema
    assert "$ref" not in json.dumps(schema)
    assert "$defs" not in json.dumps(schema)
    assert schema["properties"]["window"]["properties"]["days"]["minimum"] == 1
    assert schema["properties"]["city"]["description"] == "Where."

    bad = await client.call_tool("stay", {"city": "Oslo", "window": {"start": "soon", "days": 0}})
    assert bad.is_error
    body = json.loads(bad.content[0].text)  # type: ignore[union-attr]
    assert body["error"] == "invalid_arguments"
    assert set(body["fields"]) == {"window.start", "window.days"}

    args = {"city": "Oslo", "window": {"start": "2026-05-01", "days": 3}}
    first = await client.call_tool("stay", args)
    second = await client.call_tool("stay", args)
    assert not first.is_error
    assert json.loads(first.content[0].text) == {"city": "Oslo", "nights": 3, "runs": 1}  # type: ignore[union-attr]
    assert first.content[0].text == second.content[0].text  # type: ignore[union-attr]  # cached

    unknown = await client.call_tool("nope", {})
    assert unknown.is_error
    assert "unknown tool" in unknown.content[0].text


async def test_stdio(app: Path) -> None:
    params = StdioServerParameters(
        command=AGENTRT, args=["mcp", "serve", "served_tools:registry"], cwd=str(app)
    )
    async with asyncio.timeout(60):
        async with Client(params, cache=None) as client:
            await _exercise(client)


@pytest.fixture
def http_url(app: Path) -> Iterator[str]:
    proc = subprocess.Popen(
        [AGENTRT, "mcp", "serve", "served_tools:registry", "--transport", "http", "--port", "0"],
        cwd=app,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("mcp listening on "):
            proc.kill()
            raise AssertionError(f"no listening line: {line!r} {proc.communicate(timeout=10)}")
        yield line.split()[-1]
    finally:
        proc.terminate()
        try:
            assert proc.wait(10) == 0
        finally:
            proc.kill()


async def test_streamable_http(http_url: str) -> None:
    async with asyncio.timeout(60):
        async with Client(http_url, cache=None) as client:
            await _exercise(client)


def test_bad_target_is_named(app: Path) -> None:
    proc = subprocess.run(
        [AGENTRT, "mcp", "serve", "served_tools:nothing"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "'served_tools' has no attribute 'nothing'" in proc.stderr

"""A real MCP server for the tests, written with the mcp package's server API (MCPServer,
the SDK's FastMCP). ``python mcp_demo_server.py stdio``, ``... http PORT [TOKEN]``
(streamable HTTP; with TOKEN, a request without ``Authorization: Bearer TOKEN`` gets a
401) or ``... sse PORT`` (the legacy HTTP+SSE transport)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

server = MCPServer("demo", log_level="WARNING")


class Item(BaseModel):
    sku: str
    qty: Annotated[int, Field(ge=1)]


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def order(items: list[Item], note: str = "") -> str:
    """Order items (a nested model: its schema has $defs)."""
    return ",".join(f"{i.sku}x{i.qty}" for i in items) + (f" ({note})" if note else "")


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return "done"


@server.tool()
def whoami() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def fail(message: str) -> str:
    """Always fails, with ``message`` (answered as a result with isError)."""
    raise ToolError(message)


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Add a tool called ``name`` (it echoes its text) and announce the new tool list."""

    def echo(text: str) -> str:
        return text

    server.add_tool(echo, name=name, description=f"{name}: echoes its text")
    await _tools_changed(ctx)
    return "grown"


@server.tool()
async def shrink(name: str, ctx: Context) -> str:
    """Remove tool ``name`` and announce the new tool list."""
    server.remove_tool(name)
    await _tools_changed(ctx)
    return "shrunk"


async def _tools_changed(ctx: Context) -> None:
    """Both eras: a subscriptions/listen event (2026-07-28) and the notification."""
    try:
        await ctx.notify_tools_changed()
    except Exception:
        pass
    try:
        await ctx.session.send_tool_list_changed()
    except Exception:
        pass


@server.resource("notes://today", name="today", description="Today's note", mime_type="text/plain")
def today() -> str:
    return "buy milk"


@server.resource("notes://{day}", name="note", description="The note of a day")
def note(day: str) -> str:
    return f"note of {day}"


@server.prompt()
def review(code: str, strict: bool = False) -> str:
    """Ask for a code review."""
    return f"Review this{' strictly' if strict else ''}: {code}"


def _guarded(app: Any, token: str) -> Any:
    """``app`` behind a bearer-token check (a 401 without it)."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if headers.get(b"authorization") != f"Bearer {token}".encode():
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await app(scope, receive, send)

    return guarded


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run("stdio")
    elif sys.argv[1] == "sse":
        server.run("sse", host="127.0.0.1", port=int(sys.argv[2]))
    elif len(sys.argv) > 3:
        import uvicorn

        app = _guarded(server.streamable_http_app(host="127.0.0.1"), sys.argv[3])
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))

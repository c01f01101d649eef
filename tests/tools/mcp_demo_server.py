"""A real MCP server for the tests, written with the mcp package's server API (MCPServer,
the SDK's FastMCP). ``python mcp_demo_server.py stdio`` or ``... http PORT``."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

from mcp.server.mcpserver import MCPServer
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


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))

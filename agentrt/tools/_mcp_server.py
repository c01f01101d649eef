"""agentrt's registered tools served as an MCP server (``agentrt mcp serve``).

:func:`mcp_server` wraps a started :class:`~agentrt.tools.ToolRegistry` in the mcp
package's ``MCPServer``: ``tools/list`` gives every registered tool with its agentrt JSON
schema, ``tools/call`` runs ``registry.invoke``, so the tools' validation, timeouts,
concurrency limits and cache apply to MCP clients exactly as to agents. A failed call (bad
arguments with every field named, timeout, busy, the tool's exception) is a result with
``isError`` whose text is the agentrt error JSON; an unknown tool too.

:func:`serve_mcp` runs it over stdio or streamable HTTP (uvicorn on a socket it binds, so
``port=0`` works; ``on_listening`` receives the URL). The HTTP app keeps the SDK's DNS
rebinding protection for loopback hosts.

Example::

    registry = ToolRegistry([weather, search])
    await registry.start(node)
    await serve_mcp(registry, transport="http", host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, Literal

from agentrt.tools._registry import ToolRegistry

__all__ = ["mcp_server", "serve_mcp"]


def mcp_server(registry: ToolRegistry, *, name: str = "agentrt") -> Any:
    """An ``mcp.server.mcpserver.MCPServer`` whose tools are ``registry``'s."""
    from mcp.server.mcpserver import MCPServer
    from mcp.types import CallToolResult, TextContent
    from mcp.types import Tool as MCPTool

    class RegistryServer(MCPServer):
        async def list_tools(self) -> list[MCPTool]:
            return [
                MCPTool(name=s["name"], description=s["description"], input_schema=s["parameters"])
                for s in registry.specs()
            ]

        def _tool_input_schema(self, tool: str) -> dict[str, Any] | None:
            if tool not in registry.names():
                return None
            schema: dict[str, Any] = registry.get(tool).parameters
            return schema

        async def call_tool(
            self, tool: str, arguments: dict[str, Any], context: Any = None
        ) -> CallToolResult:
            result = await registry.invoke(tool, arguments or {})
            text = TextContent(type="text", text=result.content)
            return CallToolResult(content=[text], is_error=not result.ok)

    return RegistryServer(name, log_level="WARNING")


async def serve_mcp(
    registry: ToolRegistry,
    *,
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    path: str = "/mcp",
    name: str = "agentrt",
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve ``registry``'s tools until cancelled (stdio: until stdin closes)."""
    server = mcp_server(registry, name=name)
    if transport == "stdio":
        await server.run_stdio_async()
        return
    import uvicorn

    app = server.streamable_http_app(streamable_http_path=path, host=host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)  # connections made before uvicorn serves wait in the backlog
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    web = uvicorn.Server(config)
    if on_listening is not None:
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        on_listening(f"http://{shown}:{bound}{path}")
    try:
        await web.serve(sockets=[sock])
    finally:
        sock.close()

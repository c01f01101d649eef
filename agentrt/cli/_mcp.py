"""``agentrt mcp serve``: agentrt's registered tools as an MCP server (stdio or HTTP).

``TARGET`` names the tools as ``module:attribute`` (the module is imported with the
current directory on ``sys.path``): a ``ToolRegistry``, a ``Tool``, or a list/tuple of
tools and ``MCPTools`` (a registry is made of them, with an in-memory result cache for
the tools whose policy caches); a bare ``module`` takes every ``Tool`` defined at its top
level. The registry is started on a node (resource executors
and MCP servers it names are connected), and MCP clients' calls run through it, with each
tool's validation, timeout, concurrency limit and cache.

With ``--transport http`` it prints ``mcp listening on http://HOST:PORT/mcp`` once it
accepts connections (``--port 0``: the OS picks a free port) and serves until SIGINT or
SIGTERM. With ``--transport stdio`` (the default) stdout carries the protocol only, and it
serves until stdin closes. Needs the ``mcp`` extra.

Example::

    agentrt mcp serve myapp.tools:registry --transport http --port 8000
    agentrt mcp serve myapp.tools            # stdio, every @tool in the module
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
from typing import Any

from agentrt.bounds import PORT
from agentrt.cli import command_help
from agentrt.cli._args import number_arg
from agentrt.errors import ConfigError

__all__ = ["register"]

_port = number_arg(PORT, int)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mcp",
        help=command_help("mcp"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="mcp_command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve registered tools to MCP clients",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("target", metavar="TARGET", help="module:attribute or module")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP: address to bind")
    serve.add_argument("--port", type=_port, default=8000, help="HTTP: port (0: a free one)")
    serve.add_argument("--path", default="/mcp", help="HTTP: the endpoint's path")
    serve.add_argument("--name", default="agentrt", help="the server name clients see")
    serve.set_defaults(func=_run)


def load_tools(target: str) -> Any:
    """The ToolRegistry ``target`` names (see the module docstring); ConfigError naming
    ``target`` when it cannot be imported or is not tools."""
    from agentrt.tools import MCPTools, MemoryBackend, ResultCache, Tool, ToolRegistry

    def made(tools: list[Any]) -> ToolRegistry:
        return ToolRegistry(tools, cache=ResultCache(MemoryBackend(), namespace="mcp-serve"))

    module_name, _, attribute = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError("target", f"cannot import {module_name!r}: {exc}") from None
    if not attribute:
        found = [v for v in vars(module).values() if isinstance(v, Tool)]
        if not found:
            raise ConfigError("target", f"module {module_name!r} defines no @tool")
        return made(found)
    try:
        value = getattr(module, attribute)
    except AttributeError:
        raise ConfigError("target", f"{module_name!r} has no attribute {attribute!r}") from None
    if isinstance(value, ToolRegistry):
        return value
    if isinstance(value, Tool | MCPTools):
        return made([value])
    if (
        isinstance(value, list | tuple)
        and value
        and all(isinstance(v, Tool | MCPTools) for v in value)
    ):
        return made(list(value))
    raise ConfigError(
        "target", f"{target!r} is {type(value).__name__}, not a ToolRegistry, Tool or tool list"
    )


async def _serve(args: argparse.Namespace) -> None:
    from agentrt.actor import Node, NodeConfig
    from agentrt.tools._mcp import mcp_module
    from agentrt.tools._mcp_server import serve_mcp

    mcp_module()
    registry = load_tools(args.target)
    async with Node(NodeConfig(watchdog=False)) as node:
        await registry.start(node)
        try:
            serving = asyncio.ensure_future(
                serve_mcp(
                    registry,
                    transport=args.transport,
                    host=args.host,
                    port=args.port,
                    path=args.path,
                    name=args.name,
                    on_listening=lambda url: print(f"mcp listening on {url}", flush=True),
                )
            )
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, serving.cancel)
            try:
                await serving
            except asyncio.CancelledError:
                if not serving.cancelled():
                    raise
        finally:
            await registry.aclose()
            if registry.cache is not None:
                await registry.cache.aclose()


def _run(args: argparse.Namespace) -> int:
    try:
        asyncio.run(_serve(args))
    except ConfigError as exc:
        print(f"agentrt mcp serve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"agentrt mcp serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 1
    return 0

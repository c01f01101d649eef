"""An MCP server's resources and prompts, as tools the model can call (private).

With ``MCPTools(resources=True)`` a server's resources become two tools:

- ``<prefix>list_resources`` (no arguments): a JSON list of the resources
  (``uri``, ``name``, ``description``, ``mimeType``) and resource templates
  (``uriTemplate``, ...);
- ``<prefix>read_resource`` (``uri``): the text of the resource's text contents, joined
  by newlines; other contents (blobs) as their JSON.

With ``prompts=True``, prompts become:

- ``<prefix>list_prompts``: a JSON list (``name``, ``description``, ``arguments``);
- ``<prefix>get_prompt`` (``name``, ``arguments``: an object of strings): the prompt's
  messages as a JSON list of ``{"role", "content"}`` (text, or a block's JSON).

They run under the server's policy like its tools (timeout, concurrency, cache: a cached
``read_resource`` answers from the cache for the policy's TTL) and fail the same ways.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from agentrt.tools._mcp_client import all_pages
from agentrt.tools._mcp_schema import compile_schema
from agentrt.tools._tool import Tool

if TYPE_CHECKING:
    from agentrt.tools._mcp import MCPConnection

__all__ = ["extra_tools"]

_NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
_READ: dict[str, Any] = {
    "type": "object",
    "properties": {"uri": {"type": "string", "description": "The resource's URI"}},
    "required": ["uri"],
    "additionalProperties": False,
}
_PROMPT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "The prompt's name"},
        "arguments": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "The prompt's arguments",
        },
    },
    "required": ["name"],
    "additionalProperties": False,
}


def extra_tools(connection: MCPConnection) -> list[Tool]:
    """The resource and prompt tools ``connection``'s config asks for."""
    cfg = connection.config
    wanted: list[tuple[str, str, dict[str, Any], Fetch]] = []
    if cfg.resources:
        wanted.append(("list_resources", "List the server's resources.", _NO_ARGS, _list))
        wanted.append(("read_resource", "Read a resource of the server by URI.", _READ, _read))
    if cfg.prompts:
        wanted.append(("list_prompts", "List the server's prompts.", _NO_ARGS, _list_prompts))
        wanted.append(("get_prompt", "Get a prompt of the server, filled in.", _PROMPT, _prompt))
    return [_tool(connection, *entry) for entry in wanted]


Fetch = Callable[[Any, dict[str, Any]], Awaitable[Any]]


def _tool(
    connection: MCPConnection, what: str, description: str, schema: dict[str, Any], fetch: Fetch
) -> Tool:
    cfg = connection.config
    local = (cfg.tool_prefix + what)[:64]

    async def call_mcp(**kwargs: Any) -> Any:
        return await connection.request(what, lambda client: fetch(client, kwargs))

    call_mcp.__name__ = local
    return Tool(
        name=local,
        description=f"{description} (MCP server {cfg.name!r})",
        parameters=schema,
        fn=call_mcp,
        is_async=True,
        policy=cfg.policies.get(what, cfg.policy),
        _validator=compile_schema(local, schema),
    )


def _dump(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = model.model_dump(mode="json", exclude_none=True, by_alias=True)
    out.pop("_meta", None)
    out.pop("meta", None)
    return out


async def _list(client: Any, _: dict[str, Any]) -> str:
    listed = await all_pages(client.list_resources, "resources")
    templates = await all_pages(client.list_resource_templates, "resource_templates")
    return json.dumps([_dump(item) for item in [*listed, *templates]])


async def _read(client: Any, args: dict[str, Any]) -> str:
    from mcp import types

    result = await client.read_resource(args["uri"])
    parts = [
        c.text if isinstance(c, types.TextResourceContents) else json.dumps(_dump(c))
        for c in result.contents
    ]
    return "\n".join(parts)


async def _list_prompts(client: Any, _: dict[str, Any]) -> str:
    listed = await all_pages(client.list_prompts, "prompts")
    return json.dumps([_dump(p) for p in listed])


async def _prompt(client: Any, args: dict[str, Any]) -> str:
    from mcp import types

    result = await client.get_prompt(args["name"], args.get("arguments") or None)
    messages = []
    for message in result.messages:
        content = message.content
        text = content.text if isinstance(content, types.TextContent) else _dump(content)
        messages.append({"role": message.role, "content": text})
    return json.dumps(messages)

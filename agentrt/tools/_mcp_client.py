"""How an :class:`~agentrt.tools.MCPTools` connection reaches its server (private).

- :func:`resolve_headers`: the HTTP headers of a URL server, ``${VAR}`` expanded from the
  environment at connect time (a header naming an unset variable raises ``ConfigError``
  naming the header and the variable, never a value). Every value is a secret: it is
  masked in every error text (:func:`redact_text` with the values) and never logged.
- :func:`open_client`: the mcp package's ``Client`` over stdio (``StdioServerParameters``),
  streamable HTTP (``streamable_http_client`` on an ``httpx2`` client carrying the
  headers) or the legacy HTTP+SSE transport (``sse_client``, also with the headers).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from agentrt._secret import Secret
from agentrt.errors import ConfigError
from agentrt.redact import redact_text

if TYPE_CHECKING:
    from agentrt.tools._mcp_config import MCPTools

__all__ = ["all_pages", "open_client", "redact", "resolve_headers"]

#: pages followed in one listing: a server whose cursor never ends cannot hang a listing
MAX_PAGES = 100

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def check_headers(where: str, headers: object) -> None:
    """ConfigError naming the header unless ``headers`` maps header names to non-empty
    strings or Secrets (values are never shown)."""
    if headers is None:
        return
    if not isinstance(headers, Mapping):
        raise ConfigError(
            f"{where}.headers", f"must be a table of header: value, got a {type(headers).__name__}"
        )
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise ConfigError(f"{where}.headers", f"{name!r} is not a valid HTTP header name")
        if not (isinstance(value, Secret) or (isinstance(value, str) and value)):
            shown = type(value).__name__
            raise ConfigError(
                f"{where}.headers.{name}", f"must be a non-empty string or Secret, got a {shown}"
            )


def resolve_headers(
    where: str, headers: Mapping[str, str | Secret] | None, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The headers to send: Secrets revealed, ``${VAR}`` replaced from ``env`` (default
    ``os.environ``). ConfigError names the header and the variable when one is unset."""
    environ = os.environ if env is None else env
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        text = value.reveal() if isinstance(value, Secret) else value

        def expand(match: re.Match[str], header: str = name) -> str:
            variable = match.group(1)
            found = environ.get(variable)
            if not found:
                raise ConfigError(
                    f"{where}.headers.{header}",
                    f"names environment variable {variable}, which is not set (or empty)",
                )
            return found

        out[name] = _VARIABLE.sub(expand, text)
    return out


def redact(text: str, headers: Mapping[str, str]) -> str:
    """``text`` with every header value (and URL credentials, bearer tokens) masked."""
    secrets = [v for v in headers.values() if v]
    # a bearer header's token alone may appear in an error too
    secrets += [v.split(" ", 1)[1] for v in secrets if " " in v and v.split(" ", 1)[1]]
    return redact_text(text, sorted(secrets, key=len, reverse=True))


async def all_pages(fetch: Callable[..., Awaitable[Any]], items: str) -> list[Any]:
    """Every item of a paginated MCP listing: ``fetch(cursor=...)`` page by page while a
    page has a ``next_cursor`` (at most :data:`MAX_PAGES` pages); ``items`` names the
    result's list (``"tools"``, ``"resources"``...)."""
    out: list[Any] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await fetch(cursor=cursor)
        out.extend(getattr(page, items))
        cursor = page.next_cursor
        if not cursor:
            break
    return out


def open_client(
    config: MCPTools,
    headers: Mapping[str, str],
    on_message: Any,
    on_status: Callable[[int], None] = lambda status: None,
) -> Any:
    """The mcp ``Client`` for ``config`` (not yet entered), with ``on_message`` as its
    message handler (server notifications such as ``tools/list_changed``); an HTTP
    server's error statuses (>= 400, e.g. a 401) are reported to ``on_status`` (the SDK
    turns them into a bare "Server returned an error response")."""
    from mcp import Client, StdioServerParameters

    target: Any
    if config.command is not None:
        target = StdioServerParameters(
            command=config.command[0],
            args=list(config.command[1:]),
            env=dict(config.env) if config.env is not None else None,
            cwd=config.cwd,
        )
    else:
        assert config.url is not None
        target = _http_transport(config.url, dict(headers), config.transport == "sse", on_status)
    return Client(target, cache=None, message_handler=on_message)


@asynccontextmanager
async def _http_transport(
    url: str, headers: dict[str, str], sse: bool, on_status: Callable[[int], None]
) -> AsyncIterator[Any]:
    """Streamable HTTP or legacy SSE streams to ``url``, every request carrying
    ``headers``."""
    import httpx2
    from mcp.shared._httpx_utils import create_mcp_http_client

    async def hook(response: Any) -> None:
        if response.status_code >= 400:
            on_status(response.status_code)

    def http_client(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        client = create_mcp_http_client(headers=headers, timeout=timeout, auth=auth)
        client.event_hooks = {"response": [hook]}
        return client

    if sse:
        from mcp.client.sse import sse_client

        async with sse_client(
            url, headers=headers or None, httpx_client_factory=http_client
        ) as streams:
            yield streams
        return
    from mcp.client.streamable_http import streamable_http_client

    async with (
        http_client(headers=headers or None) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams

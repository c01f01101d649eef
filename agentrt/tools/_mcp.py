"""Tools from MCP servers: each server connection a supervised child of the node.

:class:`MCPTools` names one MCP server, reached over stdio (``command=``: agentrt starts
the process), streamable HTTP (``url=``) or the legacy HTTP+SSE transport (``url=`` with
``transport="sse"``), with the policy its tools run under. Add it to
a :class:`~agentrt.tools.ToolRegistry` (``registry.add_mcp(...)``, or among the
``tools`` of a registry or a ``Runtime``); ``await registry.start(node)`` connects, lists
the server's tools and registers each as a :class:`~agentrt.tools.Tool`:

- its name is ``prefix + name`` (``prefix`` defaults to ``"<server>_"``; characters
  outside ``[A-Za-z0-9_-]`` become ``_``); its JSON schema is the server's ``inputSchema``
  with ``$ref``/``$defs`` inlined;
- arguments are validated like a native tool's, against that schema (``jsonschema``, every
  bad field named) before anything is sent;
- the registry's policies apply unchanged: timeout, concurrency limit, cache;
- with ``resources=True`` / ``prompts=True`` the server's resources and prompts are tools
  too (``<prefix>list_resources``, ``<prefix>read_resource``, ``<prefix>list_prompts``,
  ``<prefix>get_prompt``: see :mod:`agentrt.tools._mcp_extras`).

**Tool list changes.** When the server announces ``notifications/tools/list_changed``
(through a ``subscriptions/listen`` stream on 2026-07-28 connections, as a plain
notification before), the tools are listed again and the registry updated: new tools are
registered, tools gone are unregistered (a call to one is then an ``unknown_tool``
error), changed ones replaced. Each reconnection lists again the same way.

**Auth.** ``headers`` are sent with every HTTP request (streamable HTTP and SSE), e.g.
``{"Authorization": "Bearer ${DOCS_TOKEN}"}``: ``${VAR}`` is read from the environment
when the connection starts (an unset variable raises ``ConfigError`` naming the header and
the variable); a value may also be a :class:`~agentrt.Secret`. Header values are never in
a repr, a log line or an error (they are masked as ``***``).

**Supervision.** The connection is the child of its own :class:`supervisors.Supervisor`
(a ``one_for_one`` with ``max_restarts`` in ``max_seconds``, default 10 in 60 s, each
restart delayed by a backoff from 0.1 s doubling up to 5 s: about 25 s of reconnecting
before it gives up). The child
owns the MCP client session in a task; it crashes, and the supervisor restarts it with a
new process or HTTP session, when the transport fails, a call finds the connection
closed, or a health probe (a ``tools/list`` every ``health_interval`` s, answered within
``connect_timeout``) fails. A call in flight when the connection is lost fails at once
with :class:`~agentrt.tools.MCPUnavailable`, which the model sees as an ``unavailable``
tool error; calls made while the connection restarts fail the same way (they are not
queued). When the supervisor gives up, every call fails so until the registry restarts.

**Results.** The text blocks of a result, joined by newlines; a result with no text block
but ``structuredContent`` gives that object; other blocks (images, resources) are given as
their JSON. A result with ``isError`` raises :class:`~agentrt.tools.MCPToolError` (an
``exception`` tool error carrying the server's text). A response that does not follow the
protocol raises :class:`~agentrt.tools.MCPProtocolError` naming the message and field.
A listed tool whose schema is not a valid JSON schema (or is recursive) is not registered:
it is logged and counted in ``stats()["rejected"]``.

Example::

    docs = MCPTools("docs", command=("python", "-m", "docs_server"),
                    policy=ToolPolicy(timeout=10, cache=CachePolicy(ttl=300)))
    search = MCPTools("search", url="http://127.0.0.1:9000/mcp")
    registry = ToolRegistry([weather, docs, search])
    await registry.start(node)            # connects both; tools "docs_lookup", ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agentrt.actor import Actor, ActorRef, ExitReason, Node
from agentrt.errors import ConfigError
from agentrt.tools._errors import (
    MCPProtocolError,
    MCPToolError,
    MCPUnavailable,
    ToolDefinitionError,
)
from agentrt.tools._mcp_client import all_pages, open_client, redact, resolve_headers
from agentrt.tools._mcp_config import BAD_CHARS as _BAD_CHARS
from agentrt.tools._mcp_config import MCPTools
from agentrt.tools._mcp_extras import extra_tools
from agentrt.tools._mcp_results import brief as _brief
from agentrt.tools._mcp_results import connect_error as _connect_error
from agentrt.tools._mcp_results import content as _content
from agentrt.tools._mcp_results import why as _why
from agentrt.tools._mcp_schema import compile_schema
from agentrt.tools._schema import inline_refs
from agentrt.tools._tool import Tool
from supervisors import ChildSpec, RestartBackoff, StartChildError, Supervisor

__all__ = ["MCPConnection", "MCPTools"]

log = logging.getLogger("agentrt.tools.mcp")

_CONNECTION_CLOSED = -32000  # mcp_types.jsonrpc.CONNECTION_CLOSED


class _Session:
    """One live connection: the client and the future that is set when it is lost."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def lose(self, why: str) -> None:
        if not self.lost.done():
            self.lost.set_result(why)


ToolsChanged = Callable[[list[Tool], list[str]], None]
"""Called with the tools to (re)register and the names to unregister after a relisting."""


class MCPConnection:
    """The supervised connection to one MCP server and the tools it lists.

    ``start(node)`` returns once the first connection has listed its tools (raises
    MCPUnavailable when it cannot: nothing is left running; ConfigError for a header
    naming an unset variable); ``tools`` are then the agentrt tools, ``stop()`` closes.
    ``call`` is what each tool's function does. ``on_change`` (set by the registry)
    hears of every change to the tool list after the first.
    """

    def __init__(self, config: MCPTools) -> None:
        self.config = config
        self.tools: list[Tool] = []
        self.rejected: dict[str, str] = {}
        self.on_change: ToolsChanged | None = None
        self._remote: dict[str, str] = {}  # agentrt tool name -> the server's tool name
        self._listed: dict[str, Any] = {}  # agentrt tool name -> the server's listing of it
        self._headers: dict[str, str] = {}
        self._session: _Session | None = None
        self._sup: ActorRef | None = None
        self._connections = 0
        self._calls = 0
        self._lost_calls = 0
        self._relists = 0
        self._relisting: asyncio.Task[None] | None = None
        self._state = "stopped"
        self._spec = ChildSpec.worker(config.name, _ConnectionActor, self, shutdown=10.0)

    @property
    def name(self) -> str:
        return self.config.name

    async def start(self, node: Node) -> list[Tool]:
        """Start the supervisor and the connection; the tools once listed."""
        if self._state in ("starting", "running"):
            return self.tools
        mcp_module()
        where = f"mcp.{self.name}"
        self._headers = resolve_headers(where, self.config.headers)
        self._state = "starting"
        try:
            sup = await Supervisor.start(
                node,
                [self._spec],
                max_restarts=self.config.max_restarts,
                max_seconds=self.config.max_seconds,
                backoff=RestartBackoff(min_s=0.1, max_s=min(5.0, self.config.max_seconds / 2)),
            )
        except StartChildError as exc:
            self._state = "failed"
            error = getattr(exc.child_reason, "error", None)
            if isinstance(error, MCPUnavailable | MCPProtocolError | ToolDefinitionError):
                raise error from None  # already names the server and what failed
            why = str(error) if error is not None else repr(exc.child_reason)
            raise MCPUnavailable(self.name, f"could not connect: {self._redact(why)}") from None
        self._sup = sup
        self._state = "running"
        node.watch(sup).add_done_callback(lambda f: self._supervisor_exited(sup, f.result()))
        return self.tools

    def _redact(self, text: str) -> str:
        return redact(text, self._headers)

    def _supervisor_exited(self, sup: ActorRef, reason: ExitReason) -> None:
        if sup != self._sup:
            return  # stopped on purpose
        self._sup = None
        self._state = "failed"
        log.error("MCP server %r: its supervisor exited (%r); its tools fail", self.name, reason)

    async def stop(self) -> None:
        """Stop the supervisor (closing the session and, for stdio, the process)."""
        sup, self._sup = self._sup, None
        self._state = "stopped"
        if sup is not None and sup.alive:
            from agentrt.actor import SHUTDOWN

            await sup.node.stop(sup, SHUTDOWN, timeout=None)

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        """Call the server's tool behind agentrt tool ``tool``; the result for the model.

        Raises MCPUnavailable (not connected, or the connection was lost during the
        call), MCPToolError (the tool answered ``isError``), MCPProtocolError (a
        malformed response).
        """
        remote = self._remote.get(tool, tool)
        result = await self.request(remote, lambda client: client.call_tool(remote, arguments))
        return _content(self.name, remote, result)

    async def request(self, what: str, send: Callable[[Any], Awaitable[Any]]) -> Any:
        """``send(client)`` on the live session; ``what`` names it in errors. A lost
        connection (before or during) raises MCPUnavailable; an MCP error response
        MCPToolError; a malformed one MCPProtocolError."""
        session = self._session
        if session is None or session.lost.done():
            raise MCPUnavailable(self.name, f"not connected ({self._state}; restarting)")
        self._calls += 1
        request = asyncio.ensure_future(send(session.client))
        try:
            await asyncio.wait({request, session.lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not request.done():
                request.cancel()
        if not request.done() or request.cancelled():
            self._lost_calls += 1
            why = session.lost.result() if session.lost.done() else "lost"
            raise MCPUnavailable(
                self.name, f"connection lost during the call ({why}); the server is restarting"
            )
        try:
            return request.result()
        except Exception as exc:
            raise self._call_error(session, what, exc) from None

    def _call_error(self, session: _Session, tool: str, exc: Exception) -> Exception:
        import pydantic
        from mcp import MCPError

        if isinstance(exc, MCPError):
            if exc.code == _CONNECTION_CLOSED:
                session.lose("connection closed")
                self._lost_calls += 1
                return MCPUnavailable(
                    self.name, "connection lost during the call; the server is restarting"
                )
            message = self._redact(exc.error.message)
            return MCPToolError(self.name, tool, f"error {exc.code}: {message}")
        if isinstance(exc, pydantic.ValidationError):
            return MCPProtocolError(self.name, f"result of {tool!r}: {_brief(exc)}")
        why = self._redact(f"{type(exc).__name__}: {exc}")
        session.lose(why)
        return MCPUnavailable(self.name, f"call failed: {why}")

    async def serve(self, ready: asyncio.Future[None], actor: ActorRef) -> None:
        """The connection's task: connect, list the tools, then probe until lost."""
        cfg = self.config
        session: _Session | None = None
        statuses: list[int] = []
        try:
            client_of = open_client(cfg, self._headers, self._on_message, statuses.append)
            async with client_of as client:
                session = _Session(client)
                listed = all_pages(client.list_tools, "tools")
                self._install(await asyncio.wait_for(listed, cfg.connect_timeout))
                self._session = session
                self._connections += 1
                if not ready.done():
                    ready.set_result(None)
                await self._probe(session)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            why = self._redact(_why(exc))
            if statuses:
                why += f" (the server answered HTTP {statuses[-1]})"
            if not ready.done():
                ready.set_exception(_connect_error(self.name, exc, why))
                return
            log.warning("MCP server %r (%s): connection lost: %s", self.name, cfg.target, why)
            if session is not None:
                session.lose(why)
            if actor.alive:
                actor.send(_Lost(why))
        finally:
            if session is not None:
                session.lose("connection closed")
            if self._session is session:
                self._session = None

    async def _probe(self, session: _Session) -> None:
        cfg = self.config
        listen = asyncio.ensure_future(self._listen(session))
        try:
            while True:
                try:
                    why = await asyncio.wait_for(asyncio.shield(session.lost), cfg.health_interval)
                except TimeoutError:
                    pass
                else:
                    raise ConnectionError(why)
                try:
                    await asyncio.wait_for(session.client.list_tools(), cfg.connect_timeout)
                except TimeoutError:
                    raise ConnectionError(
                        f"health probe (tools/list) unanswered in {cfg.connect_timeout:g} s"
                    ) from None
        finally:
            relisting, self._relisting = self._relisting, None
            for task in (listen, relisting):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task

    async def _listen(self, session: _Session) -> None:
        """On a 2026-07-28 connection, hold a ``subscriptions/listen`` stream for tool
        list changes (earlier servers send the notification unasked)."""
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        client = session.client
        capability = client.server_capabilities.tools
        if client.protocol_version not in MODERN_PROTOCOL_VERSIONS or not (
            capability is not None and capability.list_changed
        ):
            return
        try:
            async with client.listen(tools_list_changed=True) as events:
                async for _ in events:
                    self._relist(session)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the probe notices a dead connection; this is only a hint
            log.warning("MCP server %r: tools/list_changed stream ended: %s", self.name, _why(exc))

    async def _on_message(self, message: Any) -> None:
        from mcp import types

        if isinstance(message, types.ToolListChangedNotification) and self._session is not None:
            self._relist(self._session)

    def _relist(self, session: _Session) -> None:
        """List the tools again (one relisting at a time; a change announced while one
        runs starts another after it)."""
        previous = self._relisting

        async def relist() -> None:
            if previous is not None and not previous.done():
                with contextlib.suppress(BaseException):
                    await previous
            try:
                listed = await asyncio.wait_for(
                    all_pages(session.client.list_tools, "tools"), self.config.connect_timeout
                )
            except Exception as exc:
                log.warning("MCP server %r: relisting tools failed: %s", self.name, _why(exc))
                return
            self._relists += 1
            self._install(listed)

        self._relisting = asyncio.ensure_future(relist())

    def _install(self, listed: list[Any]) -> None:
        """Build the tools from a listing: on a later listing, register what is new or
        changed and unregister what is gone (through ``on_change``)."""
        cfg = self.config
        first = not self._listed and not self.tools
        tools: list[Tool] = []
        listed_now: dict[str, Any] = {}
        remote_names: dict[str, str] = {}
        rejected: dict[str, str] = {}
        for remote in listed:
            if cfg.include is not None and remote.name not in cfg.include:
                continue
            local = (cfg.tool_prefix + _BAD_CHARS.sub("_", remote.name))[:64]
            try:
                if local in listed_now:
                    raise ToolDefinitionError(local, "two MCP tools map to this name")
                tools.append(self._tool(local, remote))
            except ToolDefinitionError as exc:
                rejected[remote.name] = str(exc)
                if remote.name not in self.rejected:
                    log.error(
                        "MCP server %r: tool %r not registered: %s", self.name, remote.name, exc
                    )
                continue
            listed_now[local] = remote
            remote_names[local] = remote.name
        self.rejected = rejected
        if first:
            self.tools = tools + extra_tools(self)
        else:
            kept = {t.name: t for t in self.tools}
            extras = [t for t in self.tools if t.name not in self._listed]
            changed = [t for t in tools if _differs(self._listed.get(t.name), listed_now[t.name])]
            gone = [name for name in self._listed if name not in listed_now]
            self.tools = [t if t in changed else kept.get(t.name, t) for t in tools] + extras
            if (changed or gone) and self.on_change is not None:
                log.info(
                    "MCP server %r: tool list changed: +%s -%s",
                    self.name,
                    [t.name for t in changed],
                    gone,
                )
                self.on_change(changed, gone)
        self._listed = listed_now
        self._remote = remote_names

    def _tool(self, local: str, remote: Any) -> Tool:
        schema = inline_refs(dict(remote.input_schema or {}), where=local)
        schema.pop("$schema", None)
        schema.setdefault("type", "object")
        validator = compile_schema(local, schema)
        connection = self

        async def call_mcp_tool(**kwargs: Any) -> Any:
            return await connection.call(local, kwargs)

        call_mcp_tool.__name__ = local
        policy = self.config.policies.get(remote.name, self.config.policy)
        return Tool(
            name=local,
            description=remote.description or remote.title or "",
            parameters=schema,
            fn=call_mcp_tool,
            is_async=True,
            policy=policy,
            _validator=validator,
        )

    def stats(self) -> dict[str, Any]:
        """State, connected, connections made (1 + restarts), calls, calls lost to a
        restart, relistings after a ``tools/list_changed``, registered and rejected
        tools."""
        return {
            "name": self.name,
            "state": self._state,
            "connected": self._session is not None and not self._session.lost.done(),
            "connections": self._connections,
            "restarts": max(0, self._connections - 1),
            "calls": self._calls,
            "lost_calls": self._lost_calls,
            "relists": self._relists,
            "tools": [t.name for t in self.tools],
            "rejected": dict(self.rejected),
        }

    def __repr__(self) -> str:
        return f"MCPConnection({self.name!r}, {self._state})"


@dataclass(frozen=True, slots=True)
class _Lost:
    why: str


class _ConnectionActor(Actor):
    """The supervised child: runs the connection's task; crashes when it is lost."""

    async def init(self, connection: MCPConnection) -> None:
        self._connection = connection
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(connection.serve(ready, self.ref))
        try:
            await asyncio.wait_for(asyncio.shield(ready), connection.config.connect_timeout)
        except asyncio.CancelledError:
            await self._cancel()
            raise
        except BaseException:
            await self._cancel()
            error = ready.exception() if ready.done() and not ready.cancelled() else None
            if error is not None:
                raise error from None
            raise MCPUnavailable(
                connection.name,
                f"could not connect within {connection.config.connect_timeout:g} s "
                f"({connection.config.target})",
            ) from None

    async def handle_info(self, msg: Any) -> None:
        if isinstance(msg, _Lost):
            raise MCPUnavailable(self._connection.name, f"connection lost: {msg.why}")
        await super().handle_info(msg)

    async def terminate(self, reason: ExitReason) -> None:
        await self._cancel()

    async def _cancel(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


def _differs(before: Any, after: Any) -> bool:
    """Whether a tool's listing changed (a new tool differs from None)."""
    if before is None:
        return True
    keys = ("name", "description", "title", "input_schema")
    return any(getattr(before, k, None) != getattr(after, k, None) for k in keys)


def mcp_module() -> Any:
    """The ``mcp`` package, or a ConfigError saying which extra installs it."""
    try:
        import mcp as module
    except ImportError:
        raise ConfigError(
            "mcp", "MCP tools need the mcp package: pip install 'agentrt-actors[mcp]'"
        ) from None
    return module

"""Tools from MCP servers: each server connection a supervised child of the node.

:class:`MCPTools` names one MCP server, reached over stdio (``command=``: agentrt starts
the process) or streamable HTTP (``url=``), with the policy its tools run under. Add it to
a :class:`~agentrt.tools.ToolRegistry` (``registry.add_mcp(...)``, or among the
``tools`` of a registry or a ``Runtime``); ``await registry.start(node)`` connects, lists
the server's tools and registers each as a :class:`~agentrt.tools.Tool`:

- its name is ``prefix + name`` (``prefix`` defaults to ``"<server>_"``; characters
  outside ``[A-Za-z0-9_-]`` become ``_``); its JSON schema is the server's ``inputSchema``
  with ``$ref``/``$defs`` inlined;
- arguments are validated like a native tool's, against that schema (``jsonschema``, every
  bad field named) before anything is sent;
- the registry's policies apply unchanged: timeout, concurrency limit, cache.

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
import math
import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from agentrt.actor import Actor, ActorRef, ExitReason, Node
from agentrt.errors import ConfigError
from agentrt.redact import redact_text
from agentrt.tools._errors import (
    ArgumentProblem,
    MCPProtocolError,
    MCPToolError,
    MCPUnavailable,
    ToolArgumentError,
    ToolDefinitionError,
)
from agentrt.tools._policy import ToolPolicy
from agentrt.tools._schema import inline_refs
from agentrt.tools._tool import Tool
from agentrt.tools._validate import describe_value
from supervisors import ChildSpec, RestartBackoff, StartChildError, Supervisor

__all__ = ["MCPConnection", "MCPTools"]

log = logging.getLogger("agentrt.tools.mcp")

_SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_CONNECTION_CLOSED = -32000  # mcp_types.jsonrpc.CONNECTION_CLOSED


@dataclass(frozen=True, slots=True)
class MCPTools:
    """One MCP server whose tools an agent may call (see the module docstring).

    - ``name``: the server's name (``[A-Za-z0-9_-]{1,32}``), in errors, stats and the
      default tool-name prefix.
    - ``command``: the program and its arguments, for stdio (agentrt starts it); ``env``
      (merged over the MCP SDK's safe default environment) and ``cwd`` go with it.
    - ``url``: the streamable HTTP endpoint (``http://`` or ``https://``). Give exactly one
      of ``command`` and ``url``.
    - ``prefix``: prepended to each tool name (default ``"<name>_"``; ``""`` for none).
    - ``policy``: the :class:`ToolPolicy` of every tool of the server (default
      ``ToolPolicy()``); ``policies`` overrides it per (unprefixed) tool name.
    - ``include``: only these (unprefixed) tool names; default all.
    - ``connect_timeout``: seconds to connect and list tools, and for each health probe
      (default 10). ``health_interval``: seconds between probes (default 5).
    - ``max_restarts`` in ``max_seconds``: the supervisor's intensity (default 10 in 60 s).
    """

    name: str
    _: KW_ONLY
    command: tuple[str, ...] | None = None
    url: str | None = None
    env: Mapping[str, str] | None = field(default=None, repr=False)
    cwd: str | None = None
    prefix: str | None = None
    policy: ToolPolicy = field(default_factory=ToolPolicy)
    policies: Mapping[str, ToolPolicy] = field(default_factory=dict)
    include: tuple[str, ...] | None = None
    connect_timeout: float = 10.0
    health_interval: float = 5.0
    max_restarts: int = 10
    max_seconds: float = 60.0

    def __post_init__(self) -> None:
        for key in ("command", "include"):  # a list (e.g. from TOML) becomes a tuple
            value: object = getattr(self, key)
            if isinstance(value, list):
                object.__setattr__(self, key, tuple(value))
        self._check()

    def _check(self) -> None:
        where = f"mcp.{self.name}" if isinstance(self.name, str) else "mcp"
        if not isinstance(self.name, str) or not _SERVER_NAME.match(self.name):
            raise ConfigError("mcp.name", f"must match [A-Za-z0-9_-]{{1,32}}, got {self.name!r}")
        if (self.command is None) == (self.url is None):
            raise ConfigError(where, "give exactly one of command= (stdio) and url= (HTTP)")
        if self.command is not None and not (
            self.command and all(isinstance(c, str) and c for c in self.command)
        ):
            raise ConfigError(f"{where}.command", "must be a non-empty sequence of strings")
        if self.url is not None and not (
            isinstance(self.url, str) and self.url.startswith(("http://", "https://"))
        ):
            raise ConfigError(f"{where}.url", f"must be an http(s) URL, got {self.url!r}")
        if self.prefix is not None and (
            not isinstance(self.prefix, str) or _BAD_CHARS.search(self.prefix)
        ):
            raise ConfigError(f"{where}.prefix", f"must be [A-Za-z0-9_-]*, got {self.prefix!r}")
        if not isinstance(self.policy, ToolPolicy):
            raise ConfigError(f"{where}.policy", f"must be a ToolPolicy, got {self.policy!r}")
        for tool, policy in self.policies.items():
            if not isinstance(policy, ToolPolicy):
                raise ConfigError(f"{where}.policies.{tool}", f"must be a ToolPolicy: {policy!r}")
        for key in ("connect_timeout", "health_interval", "max_seconds"):
            value = getattr(self, key)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{where}.{key}", f"must be a positive number, got {value!r}")
        if not isinstance(self.max_restarts, int) or self.max_restarts < 0:
            raise ConfigError(
                f"{where}.max_restarts", f"must be an integer >= 0: {self.max_restarts!r}"
            )

    @property
    def tool_prefix(self) -> str:
        """What is prepended to the server's tool names."""
        return f"{self.name}_" if self.prefix is None else self.prefix

    @property
    def target(self) -> str:
        """The server, for logs: its URL (credentials redacted) or its command."""
        if self.url is not None:
            return redact_text(self.url)
        return " ".join(self.command or ())


class _Session:
    """One live connection: the client and the future that is set when it is lost."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def lose(self, why: str) -> None:
        if not self.lost.done():
            self.lost.set_result(why)


class MCPConnection:
    """The supervised connection to one MCP server and the tools it lists.

    ``start(node)`` returns once the first connection has listed its tools (raises
    MCPUnavailable when it cannot: nothing is left running); ``tools`` are then the
    agentrt tools, ``stop()`` closes. ``call`` is what each tool's function does.
    """

    def __init__(self, config: MCPTools) -> None:
        self.config = config
        self.tools: list[Tool] = []
        self.rejected: dict[str, str] = {}
        self._remote: dict[str, str] = {}  # agentrt tool name -> the server's tool name
        self._session: _Session | None = None
        self._sup: ActorRef | None = None
        self._connections = 0
        self._calls = 0
        self._lost_calls = 0
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
            reason = exc.child_reason
            why = str(reason.error) if hasattr(reason, "error") else repr(reason)
            raise MCPUnavailable(self.name, f"could not connect: {why}") from exc
        self._sup = sup
        self._state = "running"
        node.watch(sup).add_done_callback(lambda f: self._supervisor_exited(sup, f.result()))
        return self.tools

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
        session = self._session
        if session is None or session.lost.done():
            raise MCPUnavailable(self.name, f"not connected ({self._state}; restarting)")
        self._calls += 1
        remote = self._remote.get(tool, tool)
        request = asyncio.ensure_future(session.client.call_tool(remote, arguments))
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
            result = request.result()
        except Exception as exc:
            raise self._call_error(session, remote, exc) from exc
        return _content(self.name, remote, result)

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
            return MCPToolError(self.name, tool, f"error {exc.code}: {exc.error.message}")
        if isinstance(exc, pydantic.ValidationError):
            return MCPProtocolError(self.name, f"tools/call result of {tool!r}: {_brief(exc)}")
        session.lose(f"{type(exc).__name__}: {exc}")
        return MCPUnavailable(self.name, f"call failed: {type(exc).__name__}: {exc}")

    async def serve(self, ready: asyncio.Future[None], actor: ActorRef) -> None:
        """The connection's task: connect, list the tools, then probe until lost."""
        from mcp import Client, StdioServerParameters

        cfg = self.config
        target: Any = cfg.url
        if cfg.command is not None:
            target = StdioServerParameters(
                command=cfg.command[0],
                args=list(cfg.command[1:]),
                env=dict(cfg.env) if cfg.env is not None else None,
                cwd=cfg.cwd,
            )
        session: _Session | None = None
        try:
            async with Client(target, cache=None) as client:
                session = _Session(client)
                listing = await asyncio.wait_for(client.list_tools(), cfg.connect_timeout)
                self._install(listing.tools)
                self._session = session
                self._connections += 1
                if not ready.done():
                    ready.set_result(None)
                await self._probe(session)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            why = _why(exc)
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

    def _install(self, listed: list[Any]) -> None:
        """Build (first connection) or check (restarts) the tools from a listing."""
        if self.tools:
            return  # the registry holds the first listing's tools; a restart reuses them
        cfg = self.config
        seen: set[str] = set()
        for remote in listed:
            if cfg.include is not None and remote.name not in cfg.include:
                continue
            local = (cfg.tool_prefix + _BAD_CHARS.sub("_", remote.name))[:64]
            try:
                if local in seen:
                    raise ToolDefinitionError(local, "two MCP tools map to this name")
                self.tools.append(self._tool(local, remote))
            except ToolDefinitionError as exc:
                self.rejected[remote.name] = str(exc)
                log.error("MCP server %r: tool %r not registered: %s", self.name, remote.name, exc)
                continue
            seen.add(local)
            self._remote[local] = remote.name

    def _tool(self, local: str, remote: Any) -> Tool:
        import jsonschema

        schema = inline_refs(dict(remote.input_schema or {}), where=local)
        schema.pop("$schema", None)
        schema.setdefault("type", "object")
        try:
            validator = jsonschema.Draft202012Validator(schema)
            validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ToolDefinitionError(local, f"invalid inputSchema: {exc.message}") from None
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
            _validator=SchemaValidator(local, schema, validator),
        )

    def stats(self) -> dict[str, Any]:
        """State, connected, connections made (1 + restarts), calls, calls lost to a
        restart, registered and rejected tools."""
        return {
            "name": self.name,
            "state": self._state,
            "connected": self._session is not None and not self._session.lost.done(),
            "connections": self._connections,
            "restarts": max(0, self._connections - 1),
            "calls": self._calls,
            "lost_calls": self._lost_calls,
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


class SchemaValidator:
    """Validates an MCP tool's arguments against its JSON schema (no coercion: the
    server validates again), naming every bad field like a native tool's validator."""

    def __init__(self, tool: str, schema: dict[str, Any], validator: Any) -> None:
        self.tool = tool
        self.schema = schema
        self._validator = validator

    def validate(self, arguments: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        value: object = arguments
        if isinstance(value, str | bytes):
            import msgspec

            text = value
            try:
                value = msgspec.json.decode(text) if text.strip() else {}
            except msgspec.DecodeError as exc:
                given = describe_value(
                    text if isinstance(text, str) else text.decode("utf-8", "replace")
                )
                problem = ArgumentProblem("", f"valid JSON object text ({exc})", given)
                raise ToolArgumentError(self.tool, [problem]) from None
        if not isinstance(value, Mapping):
            problem = ArgumentProblem("", "a JSON object", describe_value(value))
            raise ToolArgumentError(self.tool, [problem])
        out = dict(value)
        problems = [_problem(e) for e in self._validator.iter_errors(out)]
        if problems:
            raise ToolArgumentError(self.tool, problems)
        return out


def _problem(error: Any) -> ArgumentProblem:
    path = ""
    for part in error.absolute_path:
        path = f"{path}[{part}]" if isinstance(part, int) else (f"{path}.{part}" if path else part)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        field_path = f"{path}.{missing}" if path else missing
        schema = error.schema.get("properties", {}).get(missing, {})
        from agentrt.tools._validate import describe_schema

        return ArgumentProblem(field_path, describe_schema(schema), None)
    if error.validator == "additionalProperties":
        allowed = ", ".join(error.schema.get("properties", {})) or "(none)"
        extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
        field_path = ".".join(p for p in (path, ",".join(map(str, extra))) if p)
        return ArgumentProblem(field_path, allowed, describe_value(error.instance), unknown=True)
    return ArgumentProblem(path, _expected(error), describe_value(error.instance))


def _expected(error: Any) -> str:
    from agentrt.tools._validate import describe_schema

    if error.validator in ("type", "enum", "const"):
        return describe_schema(error.schema)
    return f"{error.validator} {error.validator_value!r} ({error.message})"


def _content(server: str, tool: str, result: Any) -> Any:
    """The model's view of a CallToolResult (module docstring)."""
    from mcp import types

    if not isinstance(result, types.CallToolResult):
        raise MCPProtocolError(server, f"tools/call of {tool!r} answered {type(result).__name__}")
    texts: list[str] = []
    others: list[Any] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            texts.append(block.text)
        else:
            others.append(block.model_dump(mode="json", exclude_none=True, by_alias=True))
    if result.is_error:
        raise MCPToolError(server, tool, "\n".join(texts) or repr(others))
    if texts and not others:
        return "\n".join(texts)
    if not texts and not others and result.structured_content is not None:
        return result.structured_content
    return [{"type": "text", "text": t} for t in texts] + others


def _brief(exc: Any) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{loc}: {error['msg']}")
    return "; ".join(parts)


def _why(exc: BaseException) -> str:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return redact_text(f"{type(exc).__name__}: {exc}")


def _connect_error(server: str, exc: BaseException, why: str) -> Exception:
    import pydantic

    inner = exc
    while isinstance(inner, BaseExceptionGroup) and inner.exceptions:
        inner = inner.exceptions[0]
    if isinstance(inner, pydantic.ValidationError):
        return MCPProtocolError(server, f"while connecting/listing tools: {_brief(inner)}")
    if isinstance(inner, MCPProtocolError | ToolDefinitionError):
        return inner
    return MCPUnavailable(server, f"could not connect: {why}")


def mcp_module() -> Any:
    """The ``mcp`` package, or a ConfigError saying which extra installs it."""
    try:
        import mcp as module
    except ImportError:
        raise ConfigError(
            "mcp", "MCP tools need the mcp package: pip install 'agentrt-actors[mcp]'"
        ) from None
    return module

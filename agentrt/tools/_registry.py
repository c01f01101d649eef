"""The :class:`ToolRegistry`: tools by name, each with its policy, run and cached safely.

``call(tool_call, agent_id=..., tenant_id=...)`` never raises for anything the LLM or the
tool did wrong: unknown tool, bad JSON, bad arguments (fields named), timeout, busy, a
resource down, an exception in the tool — each becomes an error :class:`ToolResult` the
agent sends back to the model. It raises only for programming errors of the caller
(``CacheScopeError``: an agent-scoped tool called without ``agent_id``) and lets
``CancelledError`` through (the caller gave up: see :mod:`agentrt.tools._execute`).

With a cache and a tool whose policy has ``cache=CachePolicy(...)``, results are keyed by
tool + canonical validated arguments + scope; concurrent identical calls run once.

Example::

    registry = ToolRegistry([weather], cache=ResultCache(MemoryBackend(), namespace="rt1"))
    registry.add(search, policy=ToolPolicy(timeout=5, cache=CachePolicy(ttl=600)))
    registry.add_resource(ResourceExecutor("db", connect, close=lambda c: c.close()))
    await registry.start(node)              # starts the resource executors on node
    result = await registry.call(ToolCall("c1", "search", '{"q": "otp"}'), agent_id="a1")
    messages.append(result.to_message("c1"))
    await registry.aclose()
"""

from __future__ import annotations

import functools
import logging
import time
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentrt.actor import Node
from agentrt.errors import ConfigError
from agentrt.messages import ToolCall
from agentrt.telemetry import Events, LogHistogram
from agentrt.tools._errors import ToolArgumentError, ToolError, UnknownTool
from agentrt.tools._execute import ThreadRunner, ToolLimiter, execute_tool
from agentrt.tools._policy import ToolPolicy
from agentrt.tools._result import ErrorKind, ToolResult
from agentrt.tools._tool import Tool
from agentrt.tools.cache._keys import tool_key, tool_tag
from agentrt.tools.cache._result_cache import Outcome, ResultCache

if TYPE_CHECKING:  # resource tools load pykka only when one is added
    from agentrt.tools._mcp import MCPConnection, MCPTools
    from agentrt.tools._resource import ResourceExecutor

__all__ = ["TOOL_EVENT", "ToolRegistry"]

#: Telemetry span of each tool call (see ``agentrt.telemetry._events``).
TOOL_EVENT = ("agentrt", "tool", "call")

log = logging.getLogger("agentrt.tools.registry")

_NEGATIVE_KINDS = frozenset({"exception", "timeout"})


@dataclass(slots=True)
class _Registered:
    tool: Tool
    policy: ToolPolicy
    limiter: ToolLimiter
    counts: dict[str, int] = field(default_factory=lambda: {"calls": 0, "ok": 0, "cached": 0})
    latency: LogHistogram = field(default_factory=LogHistogram)


class ToolRegistry:
    """Registered tools with per-tool policy, a shared thread pool and an optional cache.

    - ``tools``: tools to register with their own default policies, and
      :class:`~agentrt.tools.MCPTools` servers whose tools :meth:`start` registers.
    - ``cache``: the :class:`ResultCache` for tools whose policy caches (default None: no
      caching). Not owned: close it yourself.
    - ``max_threads``: threads for sync tools (default 8), owned.
    """

    def __init__(
        self,
        tools: Iterable[Tool | MCPTools] = (),
        *,
        cache: ResultCache | None = None,
        max_threads: int = 8,
        events: Events | None = None,
    ) -> None:
        self.cache = cache
        self._events = events
        self._threads = ThreadRunner(max_threads)
        self._tools: dict[str, _Registered] = {}
        self._resources: dict[str, ResourceExecutor[Any]] = {}
        self._mcp: dict[str, MCPConnection] = {}
        self._from_mcp: dict[str, str] = {}  # tool name -> the MCP server it came from
        for t in tools:
            if isinstance(t, Tool):
                self.add(t)
            else:
                self.add_mcp(t)

    def add_mcp(self, server: MCPTools) -> None:
        """Register MCP server ``server``: :meth:`start` connects to it (a supervised
        connection on the node) and registers its tools, each with the server's policy;
        :meth:`aclose` disconnects. A second server of the same name raises ConfigError."""
        from agentrt.tools._mcp import MCPConnection, MCPTools

        if not isinstance(server, MCPTools):
            raise ConfigError("tool", f"expected a Tool (use @tool) or MCPTools, got {server!r}")
        if server.name in self._mcp:
            raise ConfigError("mcp", f"an MCP server named {server.name!r} is already registered")
        self._mcp[server.name] = MCPConnection(server)

    def add(self, tool: Tool, *, policy: ToolPolicy | None = None) -> None:
        """Register ``tool`` with ``policy`` (default: the tool's own). A second tool of
        the same name raises ConfigError."""
        if not isinstance(tool, Tool):
            raise ConfigError("tool", f"expected a Tool (use @tool), got {tool!r}")
        if tool.name in self._tools:
            raise ConfigError("tool", f"a tool named {tool.name!r} is already registered")
        policy = policy or tool.policy
        limiter = ToolLimiter(tool.name, policy.max_concurrency, policy.max_waiting)
        self._tools[tool.name] = _Registered(tool, policy, limiter)

    def add_resource(self, executor: ResourceExecutor[Any]) -> None:
        """Register the executor for tools declared with ``resource=executor.name``.
        The registry owns it from now on (started by :meth:`start` on a node, stopped by
        :meth:`aclose`)."""
        if executor.name in self._resources:
            raise ConfigError(
                "resource", f"a resource named {executor.name!r} is already registered"
            )
        self._resources[executor.name] = executor

    async def start(self, node: Node | None = None) -> None:
        """Start every registered resource executor that is not running, each under its
        own supervisor on ``node``. ``node`` may be omitted only when no resource is
        registered (ConfigError otherwise); ``async with registry`` starts without one.
        Then connects every MCP server and registers its tools (a tool name already
        taken raises ConfigError). Raises ResourceUnavailable when a resource's factory
        fails, MCPUnavailable when an MCP server cannot be reached, MCPProtocolError when
        it answers malformed."""
        if not self._resources and not self._mcp:
            return
        if node is None:
            names = ", ".join(sorted([*self._resources, *self._mcp]))
            raise ConfigError("node", f"needed to start resource executors / MCP servers ({names})")
        for executor in self._resources.values():
            await executor.start(node)
        for connection in self._mcp.values():
            for t in await connection.start(node):
                if t.name not in self._tools:
                    self.add(t)
                    self._from_mcp[t.name] = connection.name
            connection.on_change = functools.partial(self._mcp_changed, connection.name)

    def _mcp_changed(self, server: str, tools: list[Tool], gone: list[str]) -> None:
        """MCP server ``server``'s tool list changed: unregister its tools ``gone``,
        register (or replace) ``tools``; a name held by a tool from elsewhere is left
        alone (logged)."""
        for name in [*gone, *(t.name for t in tools)]:
            if self._from_mcp.get(name) == server:
                del self._tools[name], self._from_mcp[name]
        for t in tools:
            if t.name in self._tools:
                log.warning(
                    "MCP server %r: tool %r not registered: the name is taken", server, t.name
                )
                continue
            self.add(t)
            self._from_mcp[t.name] = server

    def get(self, name: str) -> Tool:
        """The tool named ``name``; UnknownTool when none is."""
        try:
            return self._tools[name].tool
        except KeyError:
            raise UnknownTool(name, list(self._tools)) from None

    def policy(self, name: str) -> ToolPolicy:
        """The policy ``name`` runs with."""
        self.get(name)
        return self._tools[name].policy

    def names(self) -> list[str]:
        """Registered tool names, in registration order."""
        return list(self._tools)

    def specs(self) -> list[dict[str, Any]]:
        """Every tool's LLM function definition (``Tool.spec()``)."""
        return [r.tool.spec() for r in self._tools.values()]

    async def call(
        self,
        call: ToolCall,
        *,
        agent_id: str | None = None,
        tenant_id: str | None = None,
        deadline: float | None = None,
    ) -> ToolResult:
        """Run the tool call an assistant message asked for (module docstring). With
        ``events``, each call is a telemetry span ``("agentrt", "tool", "call")``.
        ``deadline`` (the turn's, ``loop.time()``) bounds an uncached run together with
        the tool's own timeout; a cached tool's run is shared by concurrent callers and
        keeps its own timeout."""
        events = self._events
        if events is None or not events.listening(TOOL_EVENT):
            return await self.invoke(
                call.name, call.arguments, agent_id=agent_id, tenant_id=tenant_id, deadline=deadline
            )
        span = events.span(
            TOOL_EVENT, {"tool": call.name, "agent_id": agent_id, "call_id": call.id}
        )
        try:
            result = await self.invoke(
                call.name, call.arguments, agent_id=agent_id, tenant_id=tenant_id, deadline=deadline
            )
        except BaseException as exc:
            span.fail(exc)
            raise
        span.metadata.update(ok=result.ok, cached=result.cached, error=result.error)
        span.stop()
        return result

    async def invoke(
        self,
        name: str,
        arguments: str | bytes | Mapping[str, Any],
        *,
        agent_id: str | None = None,
        tenant_id: str | None = None,
        deadline: float | None = None,
    ) -> ToolResult:
        """Run tool ``name`` with ``arguments`` (JSON text or a mapping); ``deadline``
        as in ``call``."""
        reg = self._tools.get(name)
        if reg is None:
            return ToolResult.from_error(name, UnknownTool(name, list(self._tools)))
        reg.counts["calls"] += 1
        try:
            kwargs = reg.tool.validate(arguments)
        except ToolArgumentError as exc:
            return self._count(reg, ToolResult.from_error(name, exc))
        cache_policy = reg.policy.cache
        if cache_policy is None or self.cache is None:
            return self._count(reg, await self._run(reg, kwargs, deadline))
        key = tool_key(
            self.cache.namespace,
            name,
            reg.tool.canonical_arguments(kwargs),
            scope=cache_policy.scope,
            agent_id=agent_id,
            tenant_id=tenant_id,
        )

        async def compute() -> Outcome:
            result = await self._run(reg, kwargs)
            value = [result.content, result.error]
            store = result.ok or result.error in _NEGATIVE_KINDS
            return Outcome(value, error=not result.ok, cost=cache_policy.cost, store=store)

        lookup = await self.cache.get_or_compute(
            key,
            compute,
            ttl=cache_policy.ttl,
            tags=(tool_tag(name), *cache_policy.tags),
            negative_ttl=cache_policy.negative_ttl,
            refresh_ahead=cache_policy.refresh_ahead,
        )
        result = _from_cached(name, lookup.value, lookup.cached)
        if result is None:  # a malformed value (e.g. written by something else)
            await self.cache.invalidate(key)
            result = await self._run(reg, kwargs)
        return self._count(reg, result)

    async def _run(
        self, reg: _Registered, kwargs: dict[str, Any], deadline: float | None = None
    ) -> ToolResult:
        start = time.perf_counter()
        try:
            return await self._execute(reg, kwargs, deadline)
        finally:
            reg.latency.record(time.perf_counter() - start)

    async def _execute(
        self, reg: _Registered, kwargs: dict[str, Any], deadline: float | None
    ) -> ToolResult:
        tool = reg.tool
        resource = self._resources.get(tool.resource) if tool.resource else None
        try:
            value = await execute_tool(
                tool,
                kwargs,
                limiter=reg.limiter,
                timeout=reg.policy.timeout,
                deadline=deadline,
                threads=self._threads,
                resource=resource,
            )
            return ToolResult.success(tool.name, value)
        except ToolError as exc:
            if exc.__cause__ is not None:
                log.info("tool %r failed: %s", tool.name, exc, exc_info=exc.__cause__)
            return ToolResult.from_error(tool.name, exc)
        except TypeError as exc:  # the return value is not JSON-serializable
            return ToolResult.failure(tool.name, "exception", f"tool {tool.name!r}: {exc}")

    @staticmethod
    def _count(reg: _Registered, result: ToolResult) -> ToolResult:
        if result.ok:
            reg.counts["ok"] += 1
        if result.cached:
            reg.counts["cached"] += 1
        return result

    async def aclose(self) -> None:
        """Stop the resource executors, the MCP connections and the thread pool (the
        cache is not closed)."""
        for executor in self._resources.values():
            await executor.stop()
        for connection in self._mcp.values():
            await connection.stop()
        await self._threads.aclose()

    async def __aenter__(self) -> ToolRegistry:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def stats(self) -> dict[str, Any]:
        """Per tool: calls, ok, cached, running, waiting and execution latency (executions
        only, cache hits excluded); threads; resources; MCP servers; cache."""
        tools = {
            name: {**r.counts, **r.limiter.stats(), "latency": r.latency.summary((0.5, 0.9, 0.99))}
            for name, r in self._tools.items()
        }
        return {
            "tools": tools,
            "threads": self._threads.stats(),
            "resources": {n: e.stats() for n, e in self._resources.items()},
            "mcp": {n: c.stats() for n, c in self._mcp.items()},
            "cache": self.cache.stats() if self.cache is not None else None,
        }


def _from_cached(name: str, value: Any, cached: bool) -> ToolResult | None:
    if not (isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[0], str)):
        return None
    content, error = value
    if error is None:
        return ToolResult(tool=name, ok=True, content=content, cached=cached)
    if error not in _ERROR_KINDS:
        return None
    return ToolResult(tool=name, ok=False, content=content, error=error, cached=cached)


_ERROR_KINDS = frozenset(typing.get_args(ErrorKind))

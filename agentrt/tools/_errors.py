"""Errors of the tools layer.

Every error subclasses :class:`agentrt.errors.AgentRTError` and the builtin it resembles,
and carries its context (tool, field, key) as attributes and in its message::

    AgentRTError
    └── ToolError                                   anything about tools or their cache
        ├── ToolDefinitionError (TypeError)         @tool on a signature it cannot describe
        ├── UnknownTool (LookupError)               no tool of that name in the registry
        ├── ToolArgumentError (ValueError)          the LLM's arguments are invalid (fields named)
        ├── ToolTimeout (TimeoutError)              the tool ran past its timeout
        ├── ToolBusy (RuntimeError)                 too many calls already wait for the tool
        ├── ToolExecutionError (RuntimeError)       the tool raised; ``__cause__`` is its error
        ├── ResourceUnavailable (RuntimeError)      a resource-owning executor is down
        │   └── MCPUnavailable                      an MCP server is down or restarting
        ├── ResourceBroken (RuntimeError)           raised BY a tool: its resource is unusable
        ├── MCPProtocolError (ValueError)           an MCP server's response is malformed
        ├── MCPToolError (RuntimeError)             an MCP tool answered with ``isError``
        ├── ToolResultError (TypeError)             a tool's return value is not JSON-serializable
        ├── CacheScopeError (ValueError)            an agent/tenant scope without its id
        ├── CacheEncodeError (TypeError)            a value to cache is not msgpack-serializable
        └── CacheBackendError (ConnectionError)     a cache backend (Redis) failed or timed out
            ├── CacheDecodeError (ValueError)       a stored value is corrupt or of unknown format
            └── CacheValueTooLarge (ValueError)     a value over a backend item limit (memcached)

The registry turns the errors of one call (bad arguments, timeout, busy, exception, resource
down) into an error :class:`~agentrt.tools.ToolResult` for the LLM; they are raised to the
caller only by the lower-level APIs. ``CacheBackendError`` never reaches an agent through
:class:`~agentrt.tools.TwoLevelBackend`, which degrades to memory instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentrt.errors import AgentRTError
from agentrt.redact import redact_text

__all__ = [
    "ArgumentProblem",
    "CacheBackendError",
    "CacheDecodeError",
    "CacheEncodeError",
    "CacheScopeError",
    "CacheValueTooLarge",
    "MCPProtocolError",
    "MCPToolError",
    "MCPUnavailable",
    "ResourceBroken",
    "ResourceUnavailable",
    "ToolArgumentError",
    "ToolBusy",
    "ToolDefinitionError",
    "ToolError",
    "ToolExecutionError",
    "ToolResultError",
    "ToolTimeout",
    "UnknownTool",
]


class ToolError(AgentRTError):
    """Base class of the tools layer's errors; ``tool`` names the tool when known."""

    tool: str | None = None


class ToolDefinitionError(ToolError, TypeError):
    """A function cannot become a tool (unsupported parameter type, ``*args``, bad name)."""

    def __init__(self, tool: str, problem: str) -> None:
        super().__init__(f"tool {tool!r}: {problem}")
        self.tool = tool
        self.problem = problem


class UnknownTool(ToolError, LookupError):
    """No tool named ``tool`` is registered; ``available`` lists the names that are."""

    def __init__(self, tool: str, available: Sequence[str]) -> None:
        names = ", ".join(sorted(available)) or "(none)"
        super().__init__(f"unknown tool {tool!r}; available tools: {names}")
        self.tool = tool
        self.available = tuple(available)


@dataclass(frozen=True, slots=True)
class ArgumentProblem:
    """One invalid argument: ``field`` is a path (``"filters.max_price"``, ``"ids[2]"``,
    ``""`` for the whole argument object), ``expected`` what the schema wants, ``given``
    a short repr of what arrived (``None`` when the field is missing). ``unknown`` marks a
    field the schema does not have (``expected`` then lists the allowed ones)."""

    field: str
    expected: str
    given: str | None
    unknown: bool = False

    def describe(self) -> str:
        """A sentence an LLM can act on."""
        where = f"argument {self.field!r}" if self.field else "arguments"
        if self.unknown:
            return f"unknown {where} (allowed: {self.expected})"
        if self.given is None:
            return f"{where} is missing: expected {self.expected}"
        return f"{where}: expected {self.expected}, got {self.given}"


class ToolArgumentError(ToolError, ValueError):
    """The arguments of a call are invalid; ``problems`` lists every bad field."""

    def __init__(self, tool: str, problems: Sequence[ArgumentProblem]) -> None:
        detail = "; ".join(p.describe() for p in problems)
        super().__init__(f"invalid arguments for tool {tool!r}: {detail}")
        self.tool = tool
        self.problems = tuple(problems)

    @property
    def fields(self) -> tuple[str, ...]:
        """The paths of the invalid fields, in the order found."""
        return tuple(p.field for p in self.problems)


class ToolTimeout(ToolError, TimeoutError):
    """The tool did not finish within ``timeout`` seconds (waiting for a slot included)."""

    def __init__(self, tool: str, timeout: float) -> None:
        super().__init__(f"tool {tool!r} did not finish within {timeout:g} s")
        self.tool = tool
        self.timeout = timeout


class ToolBusy(ToolError, RuntimeError):
    """``waiting`` calls already queue for the tool's concurrency slots (the bound)."""

    def __init__(self, tool: str, waiting: int) -> None:
        super().__init__(f"tool {tool!r} is busy: {waiting} calls already waiting; retry later")
        self.tool = tool
        self.waiting = waiting


class ToolExecutionError(ToolError, RuntimeError):
    """The tool raised; the original exception is ``__cause__`` and ``error``."""

    def __init__(self, tool: str, error: BaseException) -> None:
        super().__init__(f"tool {tool!r} failed: {type(error).__name__}: {error}")
        self.tool = tool
        self.error = error


class ResourceUnavailable(ToolError, RuntimeError):
    """The executor owning resource ``resource`` is stopped, failed to start, or its
    supervisor gave up restarting it."""

    def __init__(self, resource: str, problem: str) -> None:
        super().__init__(f"resource {resource!r} unavailable: {problem}")
        self.resource = resource
        self.problem = problem


class MCPUnavailable(ResourceUnavailable):
    """The connection to MCP server ``server`` is down: not yet connected, lost during the
    call (its supervisor is restarting it), or given up on. The model sees it as an
    ``unavailable`` tool error and may retry later."""

    def __init__(self, server: str, problem: str) -> None:
        super().__init__(f"mcp:{server}", problem)
        self.server = server


class MCPProtocolError(ToolError, ValueError):
    """MCP server ``server`` sent a response that does not follow the protocol
    (``problem`` says which message and what was wrong with it)."""

    def __init__(self, server: str, problem: str) -> None:
        super().__init__(f"MCP server {server!r} sent a malformed response: {problem}")
        self.server = server
        self.problem = problem


class MCPToolError(ToolError, RuntimeError):
    """MCP tool ``tool`` of server ``server`` answered with ``isError``; ``text`` is what
    it said (the registry wraps this in ToolExecutionError, so the model sees it)."""

    def __init__(self, server: str, tool: str, text: str) -> None:
        super().__init__(f"MCP server {server!r} reported an error from {tool!r}: {text}")
        self.server = server
        self.tool = tool
        self.text = text


class ResourceBroken(ToolError, RuntimeError):
    """Raise this from a resource tool when the resource is unusable (a lost database
    connection, a dead browser): its actor crashes, closing it, and the executor's
    supervisor restarts the actor with a new one.

    Example: ``except sqlite3.OperationalError as e: raise ResourceBroken(str(e)) from e``
    """


class CacheScopeError(ToolError, ValueError):
    """A cache key with scope ``agent``/``tenant`` was requested without that id."""

    def __init__(self, scope: str, missing: str) -> None:
        super().__init__(f"cache scope {scope!r} needs {missing}, which was not given")
        self.scope = scope
        self.missing = missing


class CacheBackendError(ToolError, ConnectionError):
    """The backend ``backend`` failed on ``operation`` (unreachable, slow, refused)."""

    def __init__(self, backend: str, operation: str, problem: str) -> None:
        problem = redact_text(problem)  # a driver's message may quote its URL
        super().__init__(f"cache backend {backend!r} failed on {operation}: {problem}")
        self.backend = backend
        self.operation = operation
        self.problem = problem


class CacheValueTooLarge(CacheBackendError, ValueError):
    """Backend ``backend`` refused to store a value of ``size`` bytes, over its item limit
    ``limit`` (memcached's ``-I``, ``MemcachedCacheConfig.max_item_bytes``); nothing was
    written. The backend is healthy: :class:`~agentrt.tools.TwoLevelBackend` keeps the value
    in L1 and does not degrade."""

    def __init__(self, backend: str, key: str, size: int, limit: int) -> None:
        super().__init__(
            backend,
            "set",
            f"value of {size} bytes for key {key!r} is over the item limit of {limit} bytes "
            "(max_item_bytes); not stored",
        )
        self.key = key
        self.size = size
        self.limit = limit


class CacheDecodeError(CacheBackendError, ValueError):
    """A stored value could not be decoded (corrupt, too large, unknown format byte)."""

    def __init__(self, problem: str, key: str | None = None) -> None:
        super().__init__("codec", "decode", problem if key is None else f"{problem} (key {key!r})")
        self.key = key


class ToolResultError(ToolError, TypeError):
    """A tool returned a value that cannot be encoded as JSON for the LLM (the registry
    turns it into an error ``ToolResult``); ``__cause__`` is the encoder's error."""


class CacheEncodeError(ToolError, TypeError):
    """A value to cache is not msgpack-serializable (JSON-like data is); ``__cause__`` is
    the encoder's error."""

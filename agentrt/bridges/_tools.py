"""``governed``: a framework's own tool run under agentrt's ``ToolPolicy`` (private).

A LangGraph, Agents SDK or pydantic-ai agent calls its tools itself; ``governed(fn,
policy=...)`` gives it a function with ``fn``'s name, docstring, signature and type hints
(each framework builds the tool's schema from them as before) whose calls, during a bridge
agent's turn, go through the runtime's :class:`~agentrt.tools.ToolRegistry`:

- the tool is registered there on its first call (as ``@tool`` would make it, with
  ``policy``), so its timeout, concurrency limit and waiting room, result cache (scoped by
  the agent and tenant of the turn) and telemetry apply as to a native agentrt tool, and
  the turn's deadline bounds the call;
- the result is what a native tool's model sees: the return value as text (a ``str``
  verbatim, anything else as JSON); a failure (timeout, busy, invalid arguments, the
  function's exception) is returned as the JSON error text, not raised, so the framework
  hands it to the model as the tool's answer.

Outside a bridge turn (a framework run directly) the function is called as it is, with
no policy. Two different functions governed under one name raise ``ConfigError`` on the
second's first call.

Example::

    @governed(policy=ToolPolicy(timeout=5, max_concurrency=2, cache=CachePolicy(ttl=60)))
    async def weather(city: str) -> dict[str, object]:
        \"\"\"Current weather in a city.\"\"\"
        ...

    Agent(model, tools=[weather])          # pydantic-ai; function_tool(weather) for the
                                           # Agents SDK, langchain's tool(weather)
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Any, overload

from agentrt.bridges._scope import current_scope
from agentrt.errors import ConfigError
from agentrt.tools import Tool, ToolPolicy, tool

__all__ = ["governed"]

Governed = Callable[..., Awaitable[Any]]


@overload
def governed(fn: Callable[..., Any] | Tool, /) -> Governed: ...


@overload
def governed(
    *, policy: ToolPolicy | None = None, name: str | None = None
) -> Callable[[Callable[..., Any] | Tool], Governed]: ...


def governed(
    fn: Callable[..., Any] | Tool | None = None,
    /,
    *,
    policy: ToolPolicy | None = None,
    name: str | None = None,
) -> Governed | Callable[[Callable[..., Any] | Tool], Governed]:
    """``fn`` (a typed function, or a ``Tool`` made with ``@tool``) as an async function
    whose calls in a bridge turn run under ``policy`` (default: the Tool's own policy, or
    ``ToolPolicy()``) through the runtime's tool registry (see the module docs). ``name``
    defaults to the function's. Usable bare (``@governed``) or with options."""

    def wrap(target: Callable[..., Any] | Tool) -> Governed:
        if isinstance(target, Tool):
            if target.fn is None:
                raise ConfigError("tool", f"tool {target.name!r} has no function to govern")
            made = target if policy is None and name is None else None
            fn_ = target.fn
            made = made or tool(name=name or target.name, policy=policy or target.policy)(fn_)
        else:
            fn_ = target
            made = tool(name=name, policy=policy or ToolPolicy())(fn_)
        return _governed(made, fn_)

    return wrap(fn) if fn is not None else wrap


def _governed(made: Tool, fn: Callable[..., Any]) -> Governed:
    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        scope = current_scope()
        if scope is None or scope.tools is None:
            result = fn(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result
        if args:  # the frameworks pass keywords; bind positionals to their names
            kwargs = inspect.signature(fn).bind(*args, **kwargs).arguments
        registry = scope.tools
        if made.name not in registry.names():
            registry.add(made)
        elif registry.get(made.name).fn is not fn:
            raise ConfigError("tool", f"a different tool named {made.name!r} is already registered")
        answer = await registry.invoke(
            made.name,
            kwargs,
            agent_id=scope.agent_id,
            tenant_id=scope.tenant,
            deadline=scope.deadline,
        )
        return answer.content

    run.__annotations__ = typing.get_type_hints(fn, include_extras=True)
    run.__name__ = made.name
    return run

"""The turn a framework's model call belongs to (private).

A bridge agent runs its framework inside ``respond``; the framework calls the model
adapter (a LangChain chat model, an Agents SDK ``Model``, a pydantic-ai ``Model``) from
the same task or from tasks it starts, which inherit the context. ``BridgeScope`` rides
a ``ContextVar`` across that gap: it says which pool, agent, deadline, tenant and cache
policy a call is for, and collects what the calls cost into the turn's ``Reply``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from agentrt.agent._protocol import StreamSink, TurnAccount
from agentrt.errors import NotRunning
from agentrt.llm import ChatRequest, ChatResponse, LLMPool, ResponseCachePolicy
from agentrt.tools import ToolRegistry

__all__ = ["BridgeScope", "current_scope", "pool_chat"]


@dataclass(slots=True)
class BridgeScope:
    """What a model call made during a bridge agent's turn is for.

    ``pool``: the runtime's ``LLMPool``; ``agent_id``/``tenant``/``cache``: passed on to
    ``LLMPool.chat`` (telemetry per agent, tenant-scoped caches, the agent's response-cache
    policy); ``model``: the agent's ``model`` setting (used when the adapter names none);
    ``deadline``: the turn's (absolute ``loop.time()``); ``account``: what the calls
    cost (steps, tokens, cost, LLM seconds), reported in the turn's ``Reply``;
    ``stream``: a streamed turn's sink (``rt.stream``): each model call is then streamed
    from the pool and its text deltas forwarded as they arrive (``streamed`` counts them);
    ``tools``: the runtime's tool registry, where ``governed`` tools run.
    """

    pool: LLMPool
    agent_id: str | None = None
    model: str | None = None
    deadline: float | None = None
    tenant: str | None = None
    cache: ResponseCachePolicy | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    account: TurnAccount = field(default_factory=TurnAccount)
    stream: StreamSink | None = None
    streamed: int = 0
    tools: ToolRegistry | None = None


_scope: ContextVar[BridgeScope | None] = ContextVar("agentrt_bridge_scope", default=None)


def current_scope() -> BridgeScope | None:
    """The scope of the bridge turn running in this context, or None outside one."""
    return _scope.get()


@contextmanager
def bridge_scope(scope: BridgeScope) -> Iterator[BridgeScope]:
    """Make ``scope`` current for the block (and the tasks started in it)."""
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def resolve_pool(pool: LLMPool | None) -> LLMPool:
    """``pool`` if given, else the current bridge turn's; ``NotRunning`` with neither."""
    if pool is not None:
        return pool
    scope = _scope.get()
    if scope is None:
        raise NotRunning(
            "pool",
            "this model adapter has no LLMPool: give it one (pool=rt.llm) or call it "
            "during a bridge agent's turn",
        )
    return scope.pool


def resolve_model(model: str | None) -> str:
    """``model`` if given, else the current bridge agent's ``model`` setting, else "mock"."""
    if model:
        return model
    scope = _scope.get()
    return scope.model if scope is not None and scope.model else "mock"


async def pool_chat(request: ChatRequest, pool: LLMPool | None = None) -> ChatResponse:
    """Send ``request`` through the LLM pool on behalf of the current bridge turn.

    During a bridge agent's turn, the call carries the agent's id, deadline, tenant and
    cache policy, and its usage is added to the turn's ``Reply``; outside one, it is a
    plain ``pool.chat(request)`` (``pool`` is then required: ``NotRunning`` without).
    The request's ``temperature``/``max_tokens`` default to the agent's settings. In a
    streamed turn the call is ``LLMPool.stream`` (as agentrt's own loop streams), its text
    deltas are put on the turn's stream as they arrive and the assembled response is
    returned: the framework sees the same ``ChatResponse``. Raises what ``LLMPool.chat``
    or ``LLMPool.stream`` raise (an ``LLMError``)."""
    scope = _scope.get()
    target = resolve_pool(pool)
    if scope is None:
        return await target.chat(request)
    if request.temperature is None and scope.temperature is not None:
        request = _with(request, temperature=scope.temperature)
    if request.max_tokens is None and scope.max_tokens is not None:
        request = _with(request, max_tokens=scope.max_tokens)
    loop = asyncio.get_running_loop()
    started = loop.time()
    if scope.stream is None:
        response = await target.chat(
            request,
            agent_id=scope.agent_id,
            deadline=scope.deadline,
            cache=scope.cache,
            tenant_id=scope.tenant,
        )
    else:
        response = await _streamed(target, request, scope, scope.stream)
    scope.account.add_llm(response, loop.time() - started)
    return response


async def _streamed(
    pool: LLMPool, request: ChatRequest, scope: BridgeScope, sink: StreamSink
) -> ChatResponse:
    """``request`` streamed from ``pool``: deltas to ``sink``, the assembled answer back."""
    async with pool.stream(request, agent_id=scope.agent_id, deadline=scope.deadline) as stream:
        async for chunk in stream:
            if chunk.delta:
                scope.streamed += 1
                await sink.put(chunk.delta)
        response = stream.response
    if response is None:  # the pool raises on truncated streams; belt and braces
        from agentrt.llm import MalformedResponse

        raise MalformedResponse("stream", "ended without a final response")
    return response


def _with(request: ChatRequest, **changes: object) -> ChatRequest:
    import msgspec

    return msgspec.structs.replace(request, **changes)

"""``Server``: a runtime's agents behind an OpenAI-compatible HTTP API (aiohttp's
low-level server: one handler, ``_handle``, dispatching three paths itself; no
``Application``, router or middleware on the way of each request).

Routes: ``POST /v1/chat/completions`` (JSON, or SSE with ``"stream": true``),
``GET /v1/models`` and ``GET /v1/models/{model}``. A request goes: ``Host`` allow-list
and bearer token (``agentrt.runtime._httpguard``, as the introspection endpoint) → the
tenant's rate limit → the in-flight bound → the body, checked field by field
(``agentrt.serve._wire``) → the agent, by id, through ``Runtime.ask``/``Runtime.stream``
(so the agent may be local, passivated or, with cluster mode, anywhere: the server only
names it) → the answer in OpenAI's format.

Agent ids: a model exposed as a class (``expose("support", Support)``) answers each
conversation with its own agent, ``serve/<model>/<conversation>`` (with tenants
``serve/<tenant>/<model>/<conversation>``), activated on demand through a route
(``Runtime.route``), spawned with ``tenant=<tenant>``. The conversation id comes from
the ``X-Agent-Id`` header, else the ``user`` field; without either, each request is a
new conversation (its id is returned in the ``X-Agent-Id`` response header). A model
exposed as a named agent (``expose("helper", "helper-id")``) is that one agent.

Status codes: 400 a bad field (``param`` names it), 401 no or an unknown token, 404 an
unknown model, 409 a history that contradicts the stored conversation, 413 a body over
``max_body_bytes``, 421 a ``Host`` not served, 429 (``Retry-After``) over the tenant's
rate, over ``max_in_flight``, a full mailbox, or an LLM that is overloaded or rate
limited, 504 the deadline, 502 the LLM provider failed, 500 the agent crashed. No error
carries a token, and nothing is logged per request (no access log).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from agentrt.actor import MailboxFull
from agentrt.agent import (
    Agent,
    AgentCrashed,
    AgentNotFound,
    Reply,
    TurnFailed,
    TurnTimeout,
)
from agentrt.agent._validate import check_agent_id
from agentrt.errors import ConfigError
from agentrt.llm import DeadlineExceeded, Overloaded, ProviderError, RateLimited
from agentrt.llm._ratelimit import TokenBucket
from agentrt.messages import MessageError
from agentrt.redact import redact_text
from agentrt.runtime import Runtime
from agentrt.runtime._httpguard import HttpGuard, HttpSite
from agentrt.serve._config import NAME_PATTERN, RateLimit, ServeConfig
from agentrt.serve._wire import (
    ChatRequest,
    Chunks,
    _Refused,
    completion,
    completion_id,
    encode,
    error_body,
    finish_reason,
    new_messages,
    now,
    parse_request,
    turn_content,
    usage,
)

__all__ = ["Server"]

_log = logging.getLogger("agentrt.serve")
_CHAT = "/v1/chat/completions"
_MODELS = "/v1/models"
_ANONYMOUS = ""  # the tenant of an unauthenticated (loopback) caller
_MAX_CONVERSATION = 256
_FINAL = frozenset({400, 401, 404, 409, 413, 421})  # the same request fails the same way
_JSON = {"Content-Type": "application/json"}
_SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
}


@dataclass(frozen=True, slots=True)
class _Model:
    name: str
    agent_class: type[Agent] | None  # a class: one agent per conversation
    agent_id: str | None  # a named agent
    tenants: frozenset[str] | None  # None: every tenant
    created: int


@dataclass(slots=True)
class _Caller:
    tenant: str
    bucket: TokenBucket | None
    requests: int = 0
    limited: int = 0


class Server:
    """Serves ``runtime``'s agents over OpenAI's chat-completions API (module docs).

    ``expose`` the models first (before or after ``start``), then ``start()`` (or
    ``async with Server(...)``) binds ``config.host:config.port`` (``ConfigError`` naming
    ``serve.port`` when it cannot); ``url`` is then ``http://host:port/v1`` for an
    OpenAI client's ``base_url``. ``aclose()`` stops serving and closes every connection
    (the runtime stays up). ``stats()``: requests by status, in flight, per tenant.
    """

    def __init__(self, runtime: Runtime, config: ServeConfig | None = None) -> None:
        if not isinstance(runtime, Runtime):
            raise ConfigError("runtime", f"must be a Runtime, got {type(runtime).__name__}")
        self.runtime = runtime
        self.config = config if config is not None else ServeConfig()
        cfg = self.config
        tokens = {t.secret.reveal(): t.name for t in cfg.tenants}
        self._guard: HttpGuard[str] = HttpGuard(cfg.host, cfg.allowed_hosts, tokens)
        self._callers: dict[str, _Caller] = {
            t.name: _Caller(t.name, _bucket(t.rate)) for t in cfg.tenants
        }
        if not cfg.tenants:
            self._callers[_ANONYMOUS] = _Caller(_ANONYMOUS, _bucket(cfg.rate))
        self._ignore = frozenset(cfg.ignore_fields)
        self._models: dict[str, _Model] = {}
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._site = HttpSite(
            cfg.host, cfg.port, what="agentrt serve", port_key="serve.port",
            logger=_log, count=self._count, backlog=1024,
        )  # fmt: skip
        self.in_flight = 0
        self.statuses: Counter[int] = Counter()

    # -- models ----------------------------------------------------------------------------

    def expose(
        self,
        name: str,
        target: type[Agent] | str,
        *,
        tenants: tuple[str, ...] | None = None,
        **options: Any,
    ) -> None:
        """Serve ``target`` as model ``name``: an ``Agent`` subclass (one agent per
        conversation, activated on demand with ``options`` as spawn options, through a
        route per tenant) or the id of an agent (spawned, or named by a route) that
        answers every conversation itself. ``tenants`` (default: all) restricts who sees
        it. Raises ``ConfigError`` (a bad or repeated name, an unknown tenant, options
        for a named agent) or ``NotAnAgent``."""
        if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
            raise ConfigError("model", f"must match {NAME_PATTERN.pattern}, got {name!r}")
        if name in self._models:
            raise ConfigError("model", f"{name!r} is exposed already")
        known = set(self._callers)
        allowed = None if tenants is None else frozenset(tenants)
        for tenant in allowed or ():
            if tenant not in known:
                raise ConfigError("tenants", f"unknown tenant {tenant!r}; known: {sorted(known)}")
        created = now()
        if isinstance(target, str):
            if options:
                raise ConfigError("options", "a named agent has its own options already")
            check_agent_id(target)
            self._models[name] = _Model(name, None, target, allowed, created)
            return
        for tenant in sorted(allowed if allowed is not None else known):
            spawn = dict(options)
            if tenant != _ANONYMOUS:
                spawn["tenant"] = tenant
            self.runtime.route(self._prefix(tenant, name), target, **spawn)
        self._models[name] = _Model(name, target, None, allowed, created)

    @staticmethod
    def _prefix(tenant: str, model: str) -> str:
        return f"serve/{model}/" if tenant == _ANONYMOUS else f"serve/{tenant}/{model}/"

    def models(self, tenant: str | None = None) -> list[str]:
        """The model names ``tenant`` may use (None: every model)."""
        return [
            m.name
            for m in self._models.values()
            if tenant is None or m.tenants is None or tenant in m.tenants
        ]

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (the OS's choice when configured as 0)."""
        return self._site.port

    @property
    def url(self) -> str:
        """``http://host:port/v1``: an OpenAI client's ``base_url``."""
        return self._site.url + "/v1"

    async def start(self) -> None:
        """Bind and serve (once). Raises ``ConfigError`` naming ``serve.port``."""
        await self._site.start(partial(_handle, self), max_body_bytes=self.config.max_body_bytes)

    async def aclose(self) -> None:
        """Stop serving and close every connection (idempotent)."""
        await self._site.aclose()

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _count(self, status: int) -> None:
        self.statuses[status] += 1

    def stats(self) -> dict[str, Any]:
        """``{"url", "models", "in_flight", "statuses", "tenants"}`` (per tenant: requests
        and how many its rate limit refused; the unauthenticated caller is ``""``)."""
        return {
            "url": self.url if self._site.running else None,
            "models": self.models(),
            "in_flight": self.in_flight,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "tenants": {
                c.tenant: {"requests": c.requests, "rate_limited": c.limited}
                for c in self._callers.values()
            },
        }

    def __repr__(self) -> str:
        where = self.url if self._site.running else "not started"
        auth = f"{len(self.config.tenants)} tenants" if self.config.tenants else "loopback"
        return f"<Server {where} models={self.models()} auth={auth}>"

    # -- requests --------------------------------------------------------------------------

    def _admit(self, caller: _Caller) -> None:
        """The tenant's rate, then the in-flight bound; ``_Refused`` (429) when over."""
        caller.requests += 1
        bucket = caller.bucket
        if bucket is not None:
            wait = bucket.delay(1)
            if wait > 0:
                caller.limited += 1
                raise _Refused(
                    429,
                    "rate limit reached for your token; retry after the Retry-After seconds",
                    code="rate_limit_exceeded",
                    retry_after=wait,
                )
            bucket.take(1)
        if self.in_flight >= self.config.max_in_flight:
            raise _Refused(
                429,
                f"the server is at its limit of {self.config.max_in_flight} requests in "
                "flight; retry after the Retry-After seconds",
                code="server_busy",
                retry_after=self.config.retry_after_s,
            )

    def _target(self, request: ChatRequest, tenant: str, header_id: str | None) -> tuple[str, str]:
        """``(agent id, conversation id)`` of a request; ``_Refused`` for an unknown
        model (404) or a bad conversation id (400)."""
        model = self._models.get(request.model)
        if model is None or (model.tenants is not None and tenant not in model.tenants):
            raise _Refused(
                404,
                f"the model {request.model!r} does not exist (GET /v1/models lists them)",
                param="model",
                code="model_not_found",
            )
        if model.agent_id is not None:
            return model.agent_id, model.agent_id
        if header_id is not None:
            conversation, param = header_id, "X-Agent-Id"
        elif request.user is not None:
            conversation, param = request.user, "user"
        else:
            if len(request.messages) > 1:
                raise _Refused(
                    400,
                    f"messages: a history of {len(request.messages)} messages needs a "
                    "conversation id (the X-Agent-Id header or the user field); without one "
                    "each request starts a new conversation",
                    param="messages",
                    code="missing_conversation",
                )
            conversation, param = completion_id(), ""
        if (
            not conversation
            or len(conversation) > _MAX_CONVERSATION
            or not conversation.isprintable()
        ):
            raise _Refused(
                400,
                f"{param}: a conversation id must be 1..{_MAX_CONVERSATION} printable characters",
                param=param,
                code="invalid_value",
            )
        return self._prefix(tenant, model.name) + conversation, conversation

    async def _content(self, request: ChatRequest, agent_id: str) -> Any:
        """What to send the agent: the request's one message, or the new messages after
        the stored conversation (read through ``Runtime.history``)."""
        if len(request.messages) == 1:
            return request.messages[0].content
        history = await self.runtime.history(agent_id, timeout=self.config.timeout_s or 30.0)
        return turn_content(new_messages(request.messages, history))


def _bucket(rate: RateLimit | None) -> TokenBucket | None:
    if rate is None:
        return None
    return TokenBucket(rate.per_s * 60.0, capacity=rate.capacity)


def _refusal(exc: BaseException, retry_after_s: float) -> _Refused:
    """The HTTP answer to what a turn raised."""
    cause = exc.cause if isinstance(exc, TurnFailed) and not isinstance(exc, AgentCrashed) else exc
    if isinstance(cause, _Refused):
        return cause
    if isinstance(cause, MailboxFull):
        return _Refused(
            429,
            "the agent's mailbox is full; retry after the Retry-After seconds",
            code="mailbox_full",
            retry_after=retry_after_s,
        )
    if isinstance(cause, RateLimited | Overloaded):
        wait = cause.retry_after if isinstance(cause, RateLimited) else None
        return _Refused(
            429,
            "the LLM budget is exhausted (rate limited or overloaded); retry after the "
            "Retry-After seconds",
            code="llm_busy",
            retry_after=wait if wait is not None and wait > 0 else retry_after_s,
        )
    if isinstance(exc, TurnTimeout) or isinstance(cause, DeadlineExceeded | TimeoutError):
        return _Refused(504, "the agent did not answer before the deadline", code="timeout")
    if isinstance(exc, AgentNotFound):
        return _Refused(404, str(exc), param="model", code="model_not_found")
    if isinstance(cause, MessageError):
        return _Refused(400, str(cause), param="messages", code="invalid_value")
    if isinstance(cause, ProviderError):
        return _Refused(502, "the LLM provider failed to answer", code="upstream_error")
    if isinstance(exc, AgentCrashed):
        return _Refused(
            500, "the agent crashed during the turn (it restarts)", code="agent_crashed"
        )
    return _Refused(500, "the turn failed (see the server's log)", code="turn_failed")


def _answer(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> web.Response:
    # the Content-Type as a header: aiohttp's content_type= parses and rebuilds it each time
    return web.Response(status=status, body=body, headers={**_JSON, **(headers or {})})


def _error(exc: _Refused) -> web.Response:
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="agentrt"'
    if exc.status in _FINAL:  # OpenAI's SDKs would retry a 409 otherwise
        headers["X-Should-Retry"] = "false"
    return _answer(exc.status, error_body(exc.status, exc.message, exc.param, exc.code), headers)


async def _handle(server: Server, request: web.BaseRequest) -> web.StreamResponse:
    """Every request: ``Host``, then the token, then the route (no router: three paths);
    every error in OpenAI's shape."""
    guard = server._guard
    response: web.StreamResponse
    try:
        headers = request.headers
        if not guard.host_allowed(headers.get("Host")):
            raise _Refused(
                421, "this server does not serve that Host (see ServeConfig.allowed_hosts)"
            )
        tenant = _ANONYMOUS
        if guard.authenticated:
            found = guard.identify(headers.get("Authorization"))
            if found is None:
                raise _Refused(
                    401,
                    "invalid or missing API key: send 'Authorization: Bearer <token>'",
                    code="invalid_api_key",
                )
            tenant = found
        path = request.raw_path.partition("?")[0]
        method = request.method
        if path == _CHAT:
            _allow(method, "POST")
            response = await _chat(server, request, tenant)
        elif path == _MODELS:
            _allow(method, "GET")
            response = _models(server, tenant)
        elif path.startswith(_MODELS + "/"):
            _allow(method, "GET")
            response = _model(server, tenant, unquote(path[len(_MODELS) + 1 :]))
        else:
            raise _Refused(404, f"no such path: {path[:200]!r} (see docs/serve.md)")
    except _Refused as exc:
        response = _error(exc)
    except web.HTTPException as exc:  # 413 from read(): the body is over max_body_bytes
        code = "request_too_large" if exc.status == 413 else None
        response = _error(_Refused(exc.status, exc.reason, code=code))
    except Exception:  # a failing view: this request fails, the server goes on
        _log.exception("agentrt serve: %s %s failed", request.method, request.path)
        response = _error(_Refused(500, "internal error (see the server's log)"))
    server.statuses[response.status] += 1
    return response


def _allow(method: str, allowed: str) -> None:
    if method != allowed and not (allowed == "GET" and method == "HEAD"):
        raise _Refused(405, f"method {method} not allowed here; use {allowed}")


def _models(server: Server, tenant: str) -> web.Response:
    data = [
        {
            "id": name,
            "object": "model",
            "created": server._models[name].created,
            "owned_by": "agentrt",
        }
        for name in server.models(tenant)
    ]
    return _answer(200, encode({"object": "list", "data": data}))


def _model(server: Server, tenant: str, name: str) -> web.Response:
    if name not in server.models(tenant):
        raise _Refused(
            404, f"the model {name!r} does not exist", param="model", code="model_not_found"
        )
    created = server._models[name].created
    return _answer(
        200, encode({"id": name, "object": "model", "created": created, "owned_by": "agentrt"})
    )


async def _chat(server: Server, request: web.BaseRequest, tenant: str) -> web.StreamResponse:
    server._admit(server._callers[tenant])
    server.in_flight += 1
    try:
        body = await request.read()
        cfg = server.config
        chat = parse_request(body, ignore=server._ignore, system=cfg.system_messages)
        agent_id, conversation = server._target(chat, tenant, request.headers.get("X-Agent-Id"))
        headers = {"X-Agent-Id": conversation}
        if len(chat.messages) == 1:
            return await _turn(request, server, chat, agent_id, chat.messages[0].content, headers)
        lock = _lock(server, agent_id)
        try:
            async with lock:
                content = await _guarded(server._content(chat, agent_id), cfg.retry_after_s)
                return await _turn(request, server, chat, agent_id, content, headers)
        finally:
            _unlock(server, agent_id)
    finally:
        server.in_flight -= 1


def _lock(server: Server, agent_id: str) -> asyncio.Lock:
    lock, users = server._locks.get(agent_id, (None, 0))
    if lock is None:
        lock = asyncio.Lock()
    server._locks[agent_id] = (lock, users + 1)
    return lock


def _unlock(server: Server, agent_id: str) -> None:
    lock, users = server._locks[agent_id]
    if users <= 1:
        del server._locks[agent_id]
    else:
        server._locks[agent_id] = (lock, users - 1)


async def _guarded(work: Awaitable[Any], retry_after_s: float) -> Any:
    try:
        return await work
    except (_Refused, asyncio.CancelledError):
        raise
    except Exception as exc:
        raise _refused(exc, retry_after_s) from None


def _refused(exc: BaseException, retry_after_s: float) -> _Refused:
    """``_refusal``, and one log line (redacted, no traceback) for a 500 or 502: what
    failed on the server's side, which the client's answer does not say."""
    refused = _refusal(exc, retry_after_s)
    if refused.status in (500, 502):
        _log.warning(
            "agentrt serve: a turn failed (%d): %s", refused.status, redact_text(repr(exc))[:500]
        )
    return refused


async def _turn(
    request: web.BaseRequest,
    server: Server,
    chat: ChatRequest,
    agent_id: str,
    content: Any,
    headers: dict[str, str],
) -> web.StreamResponse:
    rt = server.runtime
    cfg = server.config
    sender = chat.messages[-1].name
    cid, created = completion_id(), now()
    if not chat.stream:
        try:
            reply: Reply = await rt.ask(agent_id, content, timeout=cfg.timeout_s, sender=sender)
        except Exception as exc:  # as _guarded, without a coroutine more per request
            raise _refused(exc, cfg.retry_after_s) from None
        return _answer(200, completion(reply, chat.model, cid, created), headers)
    try:
        turn = rt.stream(agent_id, content, timeout=cfg.timeout_s, sender=sender)
    except Exception as exc:
        raise _refused(exc, cfg.retry_after_s) from None
    deltas = aiter(turn)
    # the first delta (or the failure) before the status line: errors keep their status
    first: str | None = await _guarded(anext(deltas, None), cfg.retry_after_s)
    response = web.StreamResponse(status=200, headers={**_SSE_HEADERS, **headers})
    await response.prepare(request)
    model, with_usage = chat.model, chat.include_usage
    # the role chunk goes with the first delta, and the end in one piece: fewer sends
    chunk = Chunks(cid, created, model, usage_field=with_usage)
    opening = chunk({"role": "assistant", "content": "", "refusal": None})
    try:
        if first is not None:
            opening += chunk({"content": first})
            await response.write(opening)
            async for delta in deltas:
                await response.write(chunk({"content": delta}))
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception as exc:  # after the status line: OpenAI's error event, then the end
        refused = _refused(exc, cfg.retry_after_s)
        body = error_body(refused.status, refused.message, refused.param, refused.code)
        await response.write_eof(b"data: " + body + b"\n\n")
        return response
    final = turn.reply
    assert final is not None  # the iteration ended normally
    reply = final
    ending = [opening] if first is None else []
    if first is None and reply.text:  # an agent that answered without streaming
        ending.append(chunk({"content": reply.text}))
    finish = finish_reason(reply)
    ending.append(chunk({}, finish))
    if with_usage:
        ending.append(chunk.usage(usage(reply)))
    ending.append(b"data: [DONE]\n\n")
    await response.write_eof(b"".join(ending))
    return response

"""An OpenAI-compatible mock LLM HTTP server (``agentrt mock-llm``), built on aiohttp.web.

It speaks ``POST /v1/chat/completions`` (JSON, and SSE ending with ``data: [DONE]``, with
``stream_options.include_usage``), ``POST /v1/embeddings`` (string or list input) and
``GET /v1/models``, answers errors with OpenAI's error body, and replies
deterministically (see :mod:`agentrt.llm.mockreply`: echo, ``[[words:N]]``,
``[[tool:NAME {args}]]`` tool calls).

Faults, from :class:`MockServerConfig` (random, seeded) or scripted per request:

- latency: ``latency_ms`` + uniform ``jitter_ms``, plus ``per_token_ms`` per output token
  (streamed replies pace their chunks by it);
- ``error_rate_500``/``error_rate_503``/``error_rate_429``: fraction of requests failing
  with that status (429s carry ``Retry-After: retry_after_s``);
- ``rate_limit_rps``: above this rate, 429 with ``Retry-After: retry_after_s``;
- ``hang_rate``: fraction of requests that never answer (until the client gives up);
- ``malformed``: ``invalid_json``, ``missing_fields``, ``unknown_finish`` or
  ``truncated_sse`` for every chat response;
- ``max_inflight``: requests served at once (others wait; None, the default: no limit):
  models a server whose cost is per HTTP request, e.g. one GPU batch slot per request;
- scripted: ``state.fail_next`` (a deque of statuses or fault names consumed one per
  request), the ``x-mock-fault`` request header, or ``POST /mock/faults`` with
  ``{"fail_next": [503, 429], "config": {...}, "drop_connections": true}``. Fault
  names: the ``malformed`` modes, ``hang``, ``error_200`` (a 200 whose body is an
  error object), ``json_stream`` (a plain JSON completion to a stream request),
  ``bad_usage`` (negative token counts),
  ``context`` (a context-length error in ``error_dialect``), ``reset`` (the connection
  closed without an answer).

What real proxies do (issue 14):

- ``profiles``: per-model overrides of these fields, chosen by the request's ``model``
  (``{"mock-500": {"error_rate_500": 1.0}}``), as a multi-model proxy behaves;
- ``retry_header``: the form of "wait" sent with 429s and admission 503s
  (:data:`~agentrt.llm.mockfaults.RetryHeader`);
- ``drop_after_error``: after an error answer, the keep-alive connection is dropped
  without ``Connection: close`` (the next request sent on it finds it closed);
- ``admission_limit``: above this many chat requests in flight, 503 with Retry-After;
- ``context_window`` + ``error_dialect``: a prompt over the window gets that server's
  context-length error;
- ``usage_details``: usage reports cached and reasoning tokens.

Counters at ``GET /mock/stats`` (also ``state.stats()`` in process); ``POST /mock/reset``
zeroes them.

Example (in a test)::

    async with serve_mock_llm(MockServerConfig(latency_ms=5)) as server:
        ...  # point a provider at server.url ("http://127.0.0.1:<port>/v1")
        assert server.state.counts["chat"] == 1
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.llm.mockfaults import (
    DIALECTS,
    RETRY_HEADERS,
    ErrorDialect,
    RetryHeader,
    context_error,
    retry_headers,
)
from agentrt.llm.mockreply import mock_embedding, mock_reply
from agentrt.llm.mockwire import completion_body, prompt_tokens, stream_events
from agentrt.llm.tokens import estimate_tokens

__all__ = [
    "MalformedMode",
    "MockLLMServer",
    "MockServerConfig",
    "MockServerState",
    "build_app",
    "serve_mock_llm",
]

MalformedMode = Literal["invalid_json", "missing_fields", "unknown_finish", "truncated_sse"]
_MALFORMED = ("invalid_json", "missing_fields", "unknown_finish", "truncated_sse")
_FAULTS = (*_MALFORMED, "hang", "error_200", "json_stream", "bad_usage", "context", "reset")


_Ms = Annotated[float, Bounds(low=0, high=3_600_000, unit=" ms")]
_Fraction = Annotated[float, Bounds(low=0, high=1, note="is a fraction")]


@dataclass(frozen=True, kw_only=True)
class MockServerConfig:
    """Behaviour of the mock server; every default is a well-behaved, instant server.

    Example: ``MockServerConfig(latency_ms=50, error_rate_503=0.01, rate_limit_rps=500)``
    """

    latency_ms: _Ms = 0.0
    jitter_ms: _Ms = 0.0
    per_token_ms: _Ms = 0.0
    error_rate_500: _Fraction = 0.0
    error_rate_503: _Fraction = 0.0
    error_rate_429: _Fraction = 0.0
    rate_limit_rps: Annotated[float, Bounds(low=0, high=1e9)] = 0.0
    retry_after_s: Annotated[float, Bounds(low=0, high=86_400, unit=" s")] = 1.0
    hang_rate: _Fraction = 0.0
    malformed: MalformedMode | None = None
    max_inflight: Annotated[int, Bounds(low=1, high=1_000_000)] | None = None
    embedding_dim: Annotated[int, Bounds(low=1, high=65_536)] = 8
    seed: int = 0
    retry_header: RetryHeader = "retry-after"
    drop_after_error: bool = False
    admission_limit: Annotated[int, Bounds(low=0, high=1_000_000)] = 0
    context_window: Annotated[int, Bounds(low=0, high=100_000_000)] = 0
    error_dialect: ErrorDialect = "openai"
    usage_details: bool = False
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            check_fields(self)
        except ConfigError as exc:
            raise ConfigError(f"mock_llm.{exc.key}", exc.problem) from None
        if self.malformed is not None and self.malformed not in _FAULTS:
            raise ConfigError("mock_llm.malformed", f"unknown mode {self.malformed!r}")
        if self.retry_header not in RETRY_HEADERS:
            raise ConfigError("mock_llm.retry_header", f"unknown form {self.retry_header!r}")
        if self.error_dialect not in DIALECTS:
            raise ConfigError("mock_llm.error_dialect", f"unknown dialect {self.error_dialect!r}")
        for model, overrides in self.profiles.items():
            try:
                replace(self, **{**overrides, "profiles": {}})
            except TypeError as exc:
                raise ConfigError(f"mock_llm.profiles[{model}]", str(exc)) from None

    def for_model(self, model: str) -> MockServerConfig:
        """This config with the profile of ``model`` applied (itself without one)."""
        overrides = self.profiles.get(model)
        if not overrides:
            return self
        return replace(self, **{**overrides, "profiles": {}})


class MockServerState:
    """Counters and scripted faults of one running mock server.

    ``counts`` keys: ``http`` (every request), ``chat``, ``stream``, ``embeddings``,
    ``embedding_inputs``, ``status_<code>``, ``fault_<name>``. ``open_connections`` is the
    number of client connections currently open.
    """

    def __init__(self, config: MockServerConfig) -> None:
        self.config = config
        self.counts: Counter[str] = Counter()
        self.fail_next: deque[int | str] = deque()
        self.requests_seen: deque[dict[str, Any]] = deque(maxlen=64)
        self.random = random.Random(config.seed)
        self.closing = asyncio.Event()
        self._slots = asyncio.Semaphore(config.max_inflight) if config.max_inflight else None
        self._buckets: dict[str, tuple[float, float]] = {}  # model -> (level, stamp)
        self._configs: dict[str, MockServerConfig] = {}
        self.doomed: dict[object, None] = {}  # connections to drop at their next request
        self.inflight = 0
        self._runner: web.AppRunner | None = None

    def attach(self, runner: web.AppRunner) -> None:
        """Count connections of ``runner`` (called once the runner is set up)."""
        self._runner = runner

    @property
    def open_connections(self) -> int:
        """Client connections currently open to this server."""
        server = self._runner.server if self._runner else None
        return len(server.connections) if server else 0

    def reconfigure(self, config: MockServerConfig) -> None:
        """Replace the fault configuration (counters are kept)."""
        self.config = config
        self._configs.clear()
        self._slots = asyncio.Semaphore(config.max_inflight) if config.max_inflight else None

    def config_for(self, model: str) -> MockServerConfig:
        """The configuration a request for ``model`` is served with (its profile)."""
        config = self._configs.get(model)
        if config is None:
            config = self.config.for_model(model)
            if len(self._configs) < 1024:
                self._configs[model] = config
        return config

    def drop_idle_connections(self) -> int:
        """Act as a proxy that closed its keep-alive connections without telling the
        client: every open connection is dropped when its next request arrives. Returns
        how many were doomed."""
        server = self._runner.server if self._runner else None
        connections = list(server.connections) if server else []
        for protocol in connections:
            self.doom(protocol.transport)
        return len(connections)

    def doom(self, transport: object) -> None:
        """Drop ``transport``'s connection when its next request arrives (bounded)."""
        if len(self.doomed) >= 4096:
            self.doomed.pop(next(iter(self.doomed)))
        self.doomed[transport] = None

    def stats(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "open_connections": self.open_connections}

    def over_rate(self, cfg: MockServerConfig, model: str) -> bool:
        """Token bucket of ``rate_limit_rps`` per model (burst one second's worth)."""
        rate = cfg.rate_limit_rps
        if not rate:
            return False
        now = time.monotonic()
        level, stamp = self._buckets.get(model, (max(1.0, rate), now))
        level = min(rate, level + (now - stamp) * rate)
        limited = level < 1
        self._buckets[model] = (level if limited else level - 1, now)
        return limited

    def next_fault(self, header: str | None, cfg: MockServerConfig) -> int | str | None:
        """The fault for this request: header, then script, then random rates."""
        if header:
            return int(header) if header.isdigit() else header
        if self.fail_next:
            return self.fail_next.popleft()
        rnd = self.random
        if cfg.hang_rate and rnd.random() < cfg.hang_rate:
            return "hang"
        if cfg.error_rate_500 and rnd.random() < cfg.error_rate_500:
            return 500
        if cfg.error_rate_503 and rnd.random() < cfg.error_rate_503:
            return 503
        if cfg.error_rate_429 and rnd.random() < cfg.error_rate_429:
            return 429
        return cfg.malformed

    async def delay(self, output_tokens: int, cfg: MockServerConfig | None = None) -> None:
        cfg = cfg or self.config
        ms = cfg.latency_ms + output_tokens * cfg.per_token_ms
        if cfg.jitter_ms:
            ms += self.random.uniform(0, cfg.jitter_ms)
        if ms > 0:
            await asyncio.sleep(ms / 1000)


_json = msgspec.json.Encoder()
_decode = msgspec.json.Decoder()
_STATE = web.AppKey("state", MockServerState)


def _error(
    status: int, message: str, kind: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return web.Response(
        status=status, body=_json.encode(body), content_type="application/json", headers=headers
    )


def _error_for(
    state: MockServerState, status: int, cfg: MockServerConfig, request: web.Request
) -> web.Response:
    """An error answer (429s carry ``cfg.retry_header``); with ``drop_after_error`` the
    connection is dropped when its next request comes, without ``Connection: close``."""
    state.counts[f"status_{status}"] += 1
    if cfg.drop_after_error:
        state.doom(request.transport)
    if status == 429:
        headers = retry_headers(cfg.retry_header, cfg.retry_after_s)
        return _error(429, "rate limit exceeded", "rate_limit_error", headers)
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return _error(status, f"mock error {status}", kind)


def _busy(state: MockServerState, cfg: MockServerConfig, request: web.Request) -> web.Response:
    """Admission control: 503 with a Retry-After (in ``cfg.retry_header`` form)."""
    state.counts["status_503"] += 1
    state.counts["admission_503"] += 1
    if cfg.drop_after_error:
        state.doom(request.transport)
    headers = retry_headers(cfg.retry_header, cfg.retry_after_s)
    return _error(503, "server busy: admission control", "server_error", headers)


def _dropped(state: MockServerState, request: web.Request) -> bool:
    """Close the connection without answering when it was doomed by an earlier error."""
    transport = request.transport
    if transport is None or transport not in state.doomed:
        return False
    del state.doomed[transport]
    state.counts["dropped_connections"] += 1
    transport.close()
    return True


async def _read_json(request: web.Request) -> dict[str, Any]:
    try:
        body = _decode.decode(await request.read())
    except msgspec.DecodeError as exc:
        raise web.HTTPBadRequest(text=f"invalid JSON body: {exc}") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="JSON body must be an object")
    return body


def _last_turn(body: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        raise web.HTTPBadRequest(text="'messages' must be a non-empty list of objects")
    last = messages[-1]
    content = last.get("content") or ""
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    tools = body.get("tools") or []
    names = tuple(t.get("function", {}).get("name", "") for t in tools if isinstance(t, dict))
    return str(last.get("role", "user")), str(content), names


async def _stream(
    request: web.Request, cfg: MockServerConfig, events: list[bytes]
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    pace = cfg.per_token_ms / 1000
    for event in events:
        await response.write(event)
        if pace:
            await asyncio.sleep(pace)
    await response.write_eof()
    return response


async def _gate(
    state: MockServerState, request: web.Request, cfg: MockServerConfig, model: str, fault: Any
) -> web.Response | None:
    """Apply rate limit, admission control and status/hang faults; a response when the
    request fails here."""
    if state.over_rate(cfg, model):
        return _error_for(state, 429, cfg, request)
    if cfg.admission_limit and state.inflight >= cfg.admission_limit:
        return _busy(state, cfg, request)
    if isinstance(fault, int):
        return _error_for(state, fault, cfg, request)
    if fault == "hang":
        state.counts["fault_hang"] += 1
        await state.closing.wait()  # until the client gives up or the server stops
        return _error_for(state, 503, cfg, request)
    return None


def _too_long(cfg: MockServerConfig, body: dict[str, Any], fault: Any) -> web.Response | None:
    """The context-length error of ``cfg.error_dialect`` when the prompt is over
    ``cfg.context_window`` tokens (or the ``context`` fault asks for it)."""
    prompt = prompt_tokens(body)
    if fault != "context" and not (cfg.context_window and prompt > cfg.context_window):
        return None
    error = context_error(cfg.error_dialect, prompt, cfg.context_window or prompt - 1)
    return web.Response(status=400, body=_json.encode(error), content_type="application/json")


async def _chat(request: web.Request) -> web.StreamResponse:
    state = request.app[_STATE]
    state.counts["http"] += 1
    if _dropped(state, request):
        return web.Response(status=503)  # never sent: the connection is closed
    body = await _read_json(request)
    state.requests_seen.append(body)
    role, content, tools = _last_turn(body)
    model = str(body.get("model", "mock"))
    cfg = state.config_for(model)
    fault = state.next_fault(request.headers.get("x-mock-fault"), cfg)
    if fault == "reset":
        state.counts["fault_reset"] += 1
        state.doom(request.transport)
        _dropped(state, request)
        return web.Response(status=503)
    if (failed := await _gate(state, request, cfg, model, fault)) is not None:
        return failed
    if isinstance(fault, str):
        state.counts[f"fault_{fault}"] += 1
    if (refused := _too_long(cfg, body, fault)) is not None:
        state.counts["status_400"] += 1
        return refused
    reply = mock_reply(role, content, tools)
    state.inflight += 1
    try:
        async with state._slots or contextlib.nullcontext():
            if body.get("stream") and fault not in ("json_stream", "error_200"):
                state.counts["stream"] += 1
                await state.delay(0, cfg)
                return await _stream(
                    request, cfg, stream_events(body, reply, fault, cfg.usage_details)
                )
            state.counts["chat"] += 1
            await state.delay(estimate_tokens(reply.content), cfg)
            data = completion_body(body, reply, fault, cfg.usage_details)
            return web.Response(body=data, content_type="application/json")
    finally:
        state.inflight -= 1


async def _embeddings(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    state.counts["http"] += 1
    body = await _read_json(request)
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
        return _error(400, "'input' must be a string or a list of strings", "invalid_request_error")
    cfg = state.config_for(str(body.get("model", "mock-embed")))
    fault = state.next_fault(request.headers.get("x-mock-fault"), cfg)
    if failed := await _gate(state, request, cfg, str(body.get("model")), fault):
        return failed
    async with state._slots or contextlib.nullcontext():
        state.counts["embeddings"] += 1
        state.counts["embedding_inputs"] += len(inputs)
        await state.delay(0, cfg)
    dim = cfg.embedding_dim
    data = [
        {"object": "embedding", "index": i, "embedding": mock_embedding(t, dim)}
        for i, t in enumerate(inputs)
    ]
    tokens = sum(estimate_tokens(t) for t in inputs)
    out = {
        "object": "list",
        "data": data,
        "model": body.get("model", "mock-embed"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return web.Response(body=_json.encode(out), content_type="application/json")


async def _models(request: web.Request) -> web.Response:
    data = [{"id": m, "object": "model", "owned_by": "agentrt"} for m in ("mock", "mock-embed")]
    return web.json_response({"object": "list", "data": data})


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[_STATE].stats())


async def _reset(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    state.counts.clear()
    state.fail_next.clear()
    return web.json_response({"ok": True})


async def _faults(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    body = await _read_json(request)
    state.fail_next.extend(body.get("fail_next") or [])
    if body.get("drop_connections"):
        state.drop_idle_connections()
    if changes := body.get("config"):
        try:
            state.reconfigure(replace(state.config, **changes))
        except (TypeError, ConfigError) as exc:
            raise web.HTTPBadRequest(text=f"bad config: {exc}") from exc
    return web.json_response({"ok": True, "fail_next": list(state.fail_next)})


def build_app(state: MockServerState) -> web.Application:
    """The aiohttp application serving the mock API over ``state``."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[_STATE] = state
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_post("/v1/embeddings", _embeddings)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/health", _health)
    app.router.add_get("/mock/stats", _stats)
    app.router.add_post("/mock/reset", _reset)
    app.router.add_post("/mock/faults", _faults)
    return app


@dataclass
class MockLLMServer:
    """A running mock server: its ``url`` (ending in ``/v1``), ``port`` and ``state``."""

    url: str
    port: int
    state: MockServerState


def _bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``port=0``: a free port chosen by the OS)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def serve_mock_llm(
    config: MockServerConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[MockLLMServer]:
    """Run the mock server in this event loop (``port=0``: a free port) until the block
    exits; then hung requests are released and every connection is closed."""
    state = MockServerState(config or MockServerConfig())
    runner = web.AppRunner(
        build_app(state), access_log=None, handler_cancellation=True, shutdown_timeout=1.0
    )
    await runner.setup()
    state.attach(runner)
    sock = _bind_socket(host, port)
    site = web.SockSite(runner, sock)
    await site.start()
    bound = sock.getsockname()[1]
    try:
        yield MockLLMServer(url=f"http://{host}:{bound}/v1", port=bound, state=state)
    finally:
        state.closing.set()
        await runner.cleanup()

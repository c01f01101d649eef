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
  ``{"fail_next": [503, 429], "config": {...}}``.

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
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.llm.mockreply import MockReply, mock_embedding, mock_reply
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
_FAULTS = ("invalid_json", "missing_fields", "unknown_finish", "truncated_sse", "hang")


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

    def __post_init__(self) -> None:
        try:
            check_fields(self)
        except ConfigError as exc:
            raise ConfigError(f"mock_llm.{exc.key}", exc.problem) from None
        if self.malformed is not None and self.malformed not in _FAULTS:
            raise ConfigError("mock_llm.malformed", f"unknown mode {self.malformed!r}")


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
        self._bucket = float(max(1.0, config.rate_limit_rps))
        self._bucket_at = time.monotonic()
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
        self._slots = asyncio.Semaphore(config.max_inflight) if config.max_inflight else None

    def stats(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "open_connections": self.open_connections}

    def over_rate(self) -> bool:
        """Token bucket of ``rate_limit_rps`` (burst one second's worth)."""
        rate = self.config.rate_limit_rps
        if not rate:
            return False
        now = time.monotonic()
        self._bucket = min(rate, self._bucket + (now - self._bucket_at) * rate)
        self._bucket_at = now
        if self._bucket < 1:
            return True
        self._bucket -= 1
        return False

    def next_fault(self, header: str | None) -> int | str | None:
        """The fault for this request: header, then script, then random rates."""
        if header:
            return int(header) if header.isdigit() else header
        if self.fail_next:
            return self.fail_next.popleft()
        cfg, rnd = self.config, self.random
        if cfg.hang_rate and rnd.random() < cfg.hang_rate:
            return "hang"
        if cfg.error_rate_500 and rnd.random() < cfg.error_rate_500:
            return 500
        if cfg.error_rate_503 and rnd.random() < cfg.error_rate_503:
            return 503
        if cfg.error_rate_429 and rnd.random() < cfg.error_rate_429:
            return 429
        return cfg.malformed

    async def delay(self, output_tokens: int) -> None:
        cfg = self.config
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


def _error_for(state: MockServerState, status: int) -> web.Response:
    state.counts[f"status_{status}"] += 1
    if status == 429:
        retry = f"{state.config.retry_after_s:g}"
        return _error(429, "rate limit exceeded", "rate_limit_error", {"Retry-After": retry})
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return _error(status, f"mock error {status}", kind)


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


def _usage(body: dict[str, Any], reply: MockReply) -> dict[str, int]:
    prompt = sum(
        4 + estimate_tokens(str(m.get("content") or ""))
        for m in body["messages"]
        if isinstance(m, dict)
    )
    completion = max(1, estimate_tokens(reply.content) + 8 * len(reply.tool_calls))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _wire_calls(reply: MockReply) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in reply.tool_calls
    ]


def _completion(body: dict[str, Any], reply: MockReply, fault: Any) -> bytes:
    if fault == "invalid_json":
        return b'{"id": "chatcmpl-mock", "choices": [{"index": 0, "message": {'
    if fault == "missing_fields":
        return _json.encode({"id": "chatcmpl-mock", "object": "chat.completion"})
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if reply.tool_calls:
        message["tool_calls"] = _wire_calls(reply)
    finish = "banana" if fault == "unknown_finish" else reply.finish
    return _json.encode(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "mock"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": _usage(body, reply),
        }
    )


def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> bytes:
    event = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + _json.encode(event) + b"\n\n"


def _stream_events(body: dict[str, Any], reply: MockReply, fault: Any) -> list[bytes]:
    model = str(body.get("model", "mock"))
    events = [_chunk(model, {"role": "assistant", "content": ""}, None)]
    words = reply.content.split(" ") if reply.content else []
    events += [
        _chunk(model, {"content": w if i == 0 else " " + w}, None) for i, w in enumerate(words)
    ]
    for i, call in enumerate(reply.tool_calls):
        head = {"index": i, "id": call.id, "type": "function"}
        half = len(call.arguments) // 2
        first = {**head, "function": {"name": call.name, "arguments": call.arguments[:half]}}
        rest = {"index": i, "function": {"arguments": call.arguments[half:]}}
        events += [_chunk(model, {"tool_calls": [first]}, None)]
        events += [_chunk(model, {"tool_calls": [rest]}, None)]
    if fault == "truncated_sse":
        return [*events[: max(1, len(events) - 1)], b'data: {"id": "chatcmpl-mock", "choi']
    finish = "banana" if fault == "unknown_finish" else reply.finish
    events.append(_chunk(model, {}, finish))
    if (body.get("stream_options") or {}).get("include_usage"):
        usage: dict[str, Any] = {"id": "chatcmpl-mock", "object": "chat.completion.chunk"}
        usage |= {"model": model, "choices": [], "usage": _usage(body, reply)}
        events.append(b"data: " + _json.encode(usage) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


async def _stream(
    request: web.Request, state: MockServerState, events: list[bytes]
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    pace = state.config.per_token_ms / 1000
    for event in events:
        await response.write(event)
        if pace:
            await asyncio.sleep(pace)
    await response.write_eof()
    return response


async def _gate(state: MockServerState, fault: Any) -> web.Response | None:
    """Apply rate limit and status/hang faults; a response when the request fails here."""
    if state.over_rate():
        return _error_for(state, 429)
    if isinstance(fault, int):
        return _error_for(state, fault)
    if fault == "hang":
        state.counts["fault_hang"] += 1
        await state.closing.wait()  # until the client gives up or the server stops
        return _error_for(state, 503)
    return None


async def _chat(request: web.Request) -> web.StreamResponse:
    state = request.app[_STATE]
    state.counts["http"] += 1
    body = await _read_json(request)
    state.requests_seen.append(body)
    role, content, tools = _last_turn(body)
    fault = state.next_fault(request.headers.get("x-mock-fault"))
    if (failed := await _gate(state, fault)) is not None:
        return failed
    if isinstance(fault, str):
        state.counts[f"fault_{fault}"] += 1
    reply = mock_reply(role, content, tools)
    async with state._slots or contextlib.nullcontext():
        if body.get("stream"):
            state.counts["stream"] += 1
            await state.delay(0)
            return await _stream(request, state, _stream_events(body, reply, fault))
        state.counts["chat"] += 1
        await state.delay(estimate_tokens(reply.content))
        return web.Response(body=_completion(body, reply, fault), content_type="application/json")


async def _embeddings(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    state.counts["http"] += 1
    body = await _read_json(request)
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
        return _error(400, "'input' must be a string or a list of strings", "invalid_request_error")
    if failed := await _gate(state, state.next_fault(request.headers.get("x-mock-fault"))):
        return failed
    async with state._slots or contextlib.nullcontext():
        state.counts["embeddings"] += 1
        state.counts["embedding_inputs"] += len(inputs)
        await state.delay(0)
    dim = state.config.embedding_dim
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

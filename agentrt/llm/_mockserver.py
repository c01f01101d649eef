"""An OpenAI- and Anthropic-compatible mock LLM HTTP server (``agentrt mock-llm``), built
on aiohttp.web.

It speaks ``POST /v1/chat/completions`` (JSON, and SSE ending with ``data: [DONE]``, with
``stream_options.include_usage``), Anthropic's ``POST /v1/messages`` (JSON and its named
SSE events, :mod:`agentrt.llm._mockanthropic`), ``POST /v1/embeddings`` (string or list
input) and ``GET /v1/models``, answers errors with OpenAI's error body, and replies
deterministically (see :mod:`agentrt.llm._mockreply`: echo, ``[[words:N]]``,
``[[tool:NAME {args}]]`` tool calls). Both chat dialects accept content parts (text and
images) and refuse a malformed message or part with a 400 naming the field
(:mod:`agentrt.llm._mockparts`). The configuration is :mod:`agentrt.llm._mockconfig`, the
counters and scripted faults :mod:`agentrt.llm._mockstate`.

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
  (:data:`~agentrt.llm._mockfaults.RetryHeader`);
- ``drop_after_error``: after an error answer, the keep-alive connection is dropped
  without ``Connection: close`` (the next request sent on it finds it closed);
- ``admission_limit``: above this many chat requests in flight, 503 with Retry-After;
- ``context_window`` + ``error_dialect``: a prompt over the window gets that server's
  context-length error;
- ``usage_details``: usage reports cached and reasoning tokens.

Counters at ``GET /mock/stats`` (also ``state.stats()`` in process); ``POST /mock/reset``
zeroes them, drops scripted faults and restarts the seeded random ones (jitter, random
errors) from ``seed``, so a run after a reset sees what a run on a fresh server sees.

Example (in a test)::

    async with serve_mock_llm(MockServerConfig(latency_ms=5)) as server:
        ...  # point a provider at server.url ("http://127.0.0.1:<port>/v1")
        assert server.state.counts["chat"] == 1
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import msgspec
from aiohttp import web

from agentrt.errors import ConfigError
from agentrt.llm._mockanthropic import error_body, message_body, message_events
from agentrt.llm._mockconfig import MalformedMode, MockServerConfig
from agentrt.llm._mockfaults import context_error, retry_headers
from agentrt.llm._mockparts import Dialect, LastTurn, WireError, read_turn
from agentrt.llm._mockreply import mock_embedding, mock_reply
from agentrt.llm._mockstate import MockServerState
from agentrt.llm._mockwire import completion_body, stream_events
from agentrt.llm._tokens import estimate_tokens

__all__ = [
    "MalformedMode",
    "MockLLMServer",
    "MockServerConfig",
    "MockServerState",
    "build_app",
    "serve_mock_llm",
]

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


def _too_long(cfg: MockServerConfig, prompt: int, fault: Any) -> web.Response | None:
    """The context-length error of ``cfg.error_dialect`` when the ``prompt`` is over
    ``cfg.context_window`` tokens (or the ``context`` fault asks for it)."""
    if fault != "context" and not (cfg.context_window and prompt > cfg.context_window):
        return None
    error = context_error(cfg.error_dialect, prompt, cfg.context_window or prompt - 1)
    return web.Response(status=400, body=_json.encode(error), content_type="application/json")


def _refused(dialect: Dialect, error: WireError) -> web.Response:
    """A malformed request's 400, in the error shape of ``dialect``."""
    if dialect == "anthropic":
        body = error_body("invalid_request_error", error.message)
    else:
        body = {
            "error": {
                "message": error.message,
                "type": "invalid_request_error",
                "param": error.param,
                "code": None,
            }
        }
    return web.Response(status=400, body=_json.encode(body), content_type="application/json")


async def _reply(
    request: web.Request,
    state: MockServerState,
    cfg: MockServerConfig,
    dialect: Dialect,
    served: tuple[dict[str, Any], LastTurn, Any],
) -> web.StreamResponse:
    """The answer to a request that passed every fault: JSON or SSE, in ``dialect``."""
    body, turn, fault = served
    reply = mock_reply(turn.role, turn.text, turn.tools)
    details, prompt = cfg.usage_details, turn.prompt_tokens
    if body.get("stream") and fault not in ("json_stream", "error_200"):
        state.counts["stream"] += 1
        await state.delay(0, cfg)
        if dialect == "anthropic":
            return await _stream(request, cfg, message_events(body, prompt, reply, details))
        return await _stream(request, cfg, stream_events(body, prompt, reply, fault, details))
    state.counts["chat"] += 1
    await state.delay(estimate_tokens(reply.content), cfg)
    if dialect == "anthropic":
        data = message_body(body, prompt, reply, details)
    else:
        data = completion_body(body, prompt, reply, fault, details)
    return web.Response(body=data, content_type="application/json")


async def _serve_chat(request: web.Request, dialect: Dialect) -> web.StreamResponse:
    state = request.app[_STATE]
    state.counts["http"] += 1
    if _dropped(state, request):
        return web.Response(status=503)  # never sent: the connection is closed
    body = await _read_json(request)
    state.requests_seen.append(body)
    try:
        turn = read_turn(body, dialect)
    except WireError as exc:
        state.counts["status_400"] += 1
        return _refused(dialect, exc)
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
    if (refused := _too_long(cfg, turn.prompt_tokens, fault)) is not None:
        state.counts["status_400"] += 1
        return refused
    state.inflight += 1
    try:
        async with state.slots or contextlib.nullcontext():
            return await _reply(request, state, cfg, dialect, (body, turn, fault))
    finally:
        state.inflight -= 1


async def _chat(request: web.Request) -> web.StreamResponse:
    return await _serve_chat(request, "openai")


async def _messages(request: web.Request) -> web.StreamResponse:
    request.app[_STATE].counts["anthropic"] += 1
    return await _serve_chat(request, "anthropic")


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
    async with state.slots or contextlib.nullcontext():
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
    state.random.seed(state.config.seed)
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
    app.router.add_post("/v1/messages", _messages)
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

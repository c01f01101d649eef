"""The introspection endpoint: a runtime's telemetry over HTTP, for ``agentrt top``.

A small aiohttp.web server the runtime starts as a supervised service when
``TelemetryConfig.endpoint`` is set (and closes first on shutdown). Every route is a
``GET`` answering JSON:

- ``/``: the route list;
- ``/summary``: ``Telemetry.summary()`` (node-wide figures and targets);
- ``/snapshot``: ``Telemetry.snapshot()`` (the summary plus every layer's stats);
- ``/agents?by=p95&limit=50``: ``{"by", "limit", "total", "agents": [...]}``, the
  ``limit`` agents highest by ``by`` (a key of ``TOP_KEYS``: p95, turns, errors, cost,
  tokens, bytes, mailbox, restarts); ``limit`` is 1..10,000 (default 50);
- ``/agents/{id}``: ``Telemetry.agent(id)`` (the id percent-encoded).

Errors are JSON too, ``{"error": "..."}``: 400 for a bad or unknown query parameter (its
name in ``"parameter"`` and in the message), 401 when a token is configured and the
request does not carry it as ``Authorization: Bearer <token>`` (checked before anything
else, in constant time), 404 for an unknown agent or route, 405 for another method, 500
when computing the view failed (logged once with the route; the endpoint goes on).

Binding: loopback (127.0.0.1) by default. A non-loopback address without a token is
refused (``ConfigError``, by ``EndpointConfig`` and again here). The token is never
logged (no access log) and never shown in a repr.

``Host`` allow-list (checked first, before the token): a request must name a loopback
host (``localhost``, 127.0.0.0/8, ``[::1]``), the bound ``host``, or one of
``EndpointConfig.allowed_hosts``, with any port; with a token, any IP literal as well.
Anything else, or no ``Host`` at all, is answered 421 (``{"error", "host"}``): a page
that rebinds its DNS name to 127.0.0.1 cannot read a tokenless endpoint.

A request the HTTP parser rejects (a request line or header over 8 KiB, a malformed
line) is answered 400 by aiohttp and logged as one warning line naming the client and
the problem, without a traceback; ``stats()`` counts it under ``"400"``.

Example::

    cfg = RuntimeConfig(telemetry=TelemetryConfig(endpoint=EndpointConfig(port=8787)))
    async with Runtime(cfg) as rt:
        print(rt.endpoint_url)            # http://127.0.0.1:8787
        # in a shell: agentrt top --url http://127.0.0.1:8787
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from aiohttp import web

from agentrt.errors import ConfigError
from agentrt.runtime._config import EndpointConfig, _is_loopback
from agentrt.runtime._httpguard import HttpGuard, HttpSite
from agentrt.telemetry import TOP_KEYS, Telemetry

__all__ = ["MAX_LIMIT", "IntrospectionEndpoint", "open_endpoint"]

#: The most agents ``/agents`` returns at once.
MAX_LIMIT = 10_000
_DEFAULT_LIMIT = 50
_ROUTES = ["/summary", "/snapshot", "/agents?by=p95&limit=50", "/agents/{id}"]
_json = msgspec.json.Encoder()
_log = logging.getLogger("agentrt.runtime.endpoint")
_ENDPOINT: web.AppKey[IntrospectionEndpoint] = web.AppKey("endpoint")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _BadParameter(ValueError):
    """A query parameter is wrong: ``parameter`` names it."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"bad parameter {parameter!r}: {problem}")
        self.parameter = parameter


def _top_params(query: Mapping[str, str]) -> tuple[str, int]:
    """``(by, limit)`` of an ``/agents`` query (defaults p95 and 50); raises
    ``_BadParameter`` naming an unknown, repeated or invalid parameter."""
    seen: Counter[str] = Counter(name for name, _ in query.items())
    for name, count in seen.items():
        if name not in ("by", "limit"):
            raise _BadParameter(name, "unknown parameter; known: by, limit")
        if count > 1:
            raise _BadParameter(name, "given more than once")
    by = query.get("by", "p95")
    if by not in TOP_KEYS:
        raise _BadParameter("by", f"unknown ordering {by!r}; choose from {sorted(TOP_KEYS)}")
    raw = query.get("limit", str(_DEFAULT_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        raise _BadParameter("limit", f"must be an integer, got {raw!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise _BadParameter("limit", f"must be within 1..{MAX_LIMIT}, got {limit}")
    return by, limit


def _respond(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=_json.encode(body),
        content_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _error(status: int, message: str, **extra: Any) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="agentrt"'} if status == 401 else None
    return _respond(status, {"error": message, **extra}, headers)


class IntrospectionEndpoint:
    """Serves ``telemetry`` over HTTP as configured by ``config`` (see the module docs).

    ``token`` (None: no authentication; only allowed on a loopback address) is the bearer
    token every request must carry. ``start()`` binds (``ConfigError`` naming
    ``telemetry.endpoint.port`` when the address cannot be bound); ``aclose()`` closes
    every connection and leaves no task behind. ``stats()``: requests by status.
    """

    def __init__(
        self, telemetry: Telemetry, config: EndpointConfig, *, token: str | None = None
    ) -> None:
        if token is not None and not token:
            raise ConfigError("telemetry.endpoint.token_env", "the token must not be empty")
        if token is None and not _is_loopback(config.host):
            raise ConfigError(
                "telemetry.endpoint.host",
                f"{config.host!r} is not a loopback address: a token is required to bind it",
            )
        self.telemetry = telemetry
        self.config = config
        tokens = {token: True} if token is not None else {}
        self._guard = HttpGuard(config.host, config.allowed_hosts, tokens)
        self._site = HttpSite(
            config.host, config.port, what="introspection endpoint",
            port_key="telemetry.endpoint.port", logger=_log, count=self._count,
        )  # fmt: skip
        self.requests = 0
        self.statuses: Counter[int] = Counter()

    @property
    def authenticated(self) -> bool:
        """True when requests must carry the token."""
        return self._guard.authenticated

    @property
    def port(self) -> int:
        """The bound port (the OS's choice when configured as 0)."""
        return self._site.port

    @property
    def url(self) -> str:
        """``http://host:port`` of the running endpoint (IPv6 hosts bracketed)."""
        return self._site.url

    def authorized(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header value carries the token (constant time)."""
        return not self._guard.authenticated or self._guard.identify(header) is not None

    def host_allowed(self, header: str | None) -> bool:
        """Whether a request's ``Host`` header names this endpoint (see the module docs)."""
        return self._guard.host_allowed(header)

    async def start(self) -> None:
        """Bind and serve (once)."""
        await self._site.start(self._app())

    def _count(self, status: int) -> None:
        self.statuses[status] += 1

    async def aclose(self) -> None:
        """Stop serving and close every connection (idempotent)."""
        await self._site.aclose()

    def stats(self) -> dict[str, Any]:
        """``{"url", "authenticated", "requests", "statuses", "open_connections"}``."""
        return {
            "url": self.url if self._site.running else None,
            "authenticated": self.authenticated,
            "requests": self.requests,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "open_connections": self._site.open_connections,
        }

    def __repr__(self) -> str:
        where = self.url if self._site.running else "not started"
        auth = "bearer token" if self.authenticated else "none (loopback)"
        return f"<IntrospectionEndpoint {where} auth={auth}>"

    # -- the application -------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=4096, middlewares=[_guard])
        app[_ENDPOINT] = self
        app.router.add_get("/", _index)
        app.router.add_get("/summary", _summary)
        app.router.add_get("/snapshot", _snapshot)
        app.router.add_get("/agents", _agents)
        app.router.add_get("/agents/{agent_id:.+}", _agent)
        return app


@web.middleware
async def _guard(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Authentication first, then the route; every error becomes a JSON body."""
    endpoint = request.app[_ENDPOINT]
    endpoint.requests += 1
    response: web.StreamResponse
    host = request.headers.get("Host")
    if not endpoint.host_allowed(host):
        response = _error(
            421, "this endpoint does not serve that Host (see EndpointConfig.allowed_hosts)",
            host=host,
        )  # fmt: skip
    elif not endpoint.authorized(request.headers.get("Authorization")):
        response = _error(401, "unauthorized: send 'Authorization: Bearer <token>'")
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = _error(exc.status, exc.reason)
        except Exception:  # a failing view: this request fails, the endpoint goes on
            _log.exception("introspection endpoint: %s %s failed", request.method, request.path)
            response = _error(500, "internal error (see the runtime's log)")
    endpoint.statuses[response.status] += 1
    return response


def _telemetry(request: web.Request) -> Telemetry:
    return request.app[_ENDPOINT].telemetry


async def _index(request: web.Request) -> web.Response:
    return _respond(200, {"service": "agentrt introspection", "routes": _ROUTES})


async def _summary(request: web.Request) -> web.Response:
    return _respond(200, _telemetry(request).summary())


async def _snapshot(request: web.Request) -> web.Response:
    return _respond(200, _telemetry(request).snapshot())


async def _agents(request: web.Request) -> web.Response:
    try:
        by, limit = _top_params(request.query)
    except _BadParameter as exc:
        return _error(400, str(exc), parameter=exc.parameter)
    telemetry = _telemetry(request)
    agents = telemetry.top(limit, by=by)
    return _respond(
        200, {"by": by, "limit": limit, "total": telemetry.agent_count(), "agents": agents}
    )


async def _agent(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    view = _telemetry(request).agent(agent_id)
    if view is None:
        return _error(404, f"no agent {agent_id!r}", agent=agent_id)
    return _respond(200, view)


async def open_endpoint(
    config: EndpointConfig, telemetry: Telemetry, *, token: str | None = None
) -> IntrospectionEndpoint:
    """Start the endpoint ``config`` describes over ``telemetry``, requiring ``token``
    when given (the runtime reads it from ``os.environ[config.token_env]`` before it
    boots, like the LLM pool's API keys). Raises ``ConfigError`` (see
    ``IntrospectionEndpoint``)."""
    endpoint = IntrospectionEndpoint(telemetry, config, token=token)
    await endpoint.start()
    return endpoint

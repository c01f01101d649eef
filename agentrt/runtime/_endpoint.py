"""The introspection endpoint: a runtime's telemetry over HTTP, for ``agentrt top``.

A small aiohttp.web server the runtime starts as a supervised service when
``TelemetryConfig.endpoint`` is set (and closes first on shutdown). The data routes are
``GET`` answering JSON:

- ``/``: the route list;
- ``/summary``: ``Telemetry.summary()`` (node-wide figures and targets);
  ``?max_age=2`` accepts the sampler's last one when taken at most that many seconds
  ago (0..60; default 0: computed now);
- ``/snapshot``: ``Telemetry.snapshot()`` (the summary plus every layer's stats);
- ``/alerts``: ``Telemetry.alerts()`` (the active alerts and the recent transitions);
- ``/agents?by=p95&limit=50``: ``{"by", "limit", "offset", "order", "total", "matched",
  "agents": [...]}``, one page of the agents ordered by ``by`` (a key of ``TOP_KEYS``:
  p95, turns, errors, cost, tokens, bytes, mailbox, restarts), highest first
  (``order=desc``, the default) or lowest (``asc``), from ``offset`` (default 0);
  ``limit`` is 1..10,000 (default 50). Filters (with a runtime): ``q`` (a substring, or
  a glob with ``*``/``?``, of the id or the agent's class) and ``state`` (live,
  passivated, down); ``matched`` counts the agents they let through, ``total`` all. The
  page is cut on the server (``Telemetry.page``): a 100,000-agent node sends 50 rows.
  ``max_age`` (seconds, 0..60, default 0) accepts the same page computed at most that
  long ago (the last 64 distinct pages are kept): the dashboard's periodic refreshes
  pass the sampling interval, so one pass over the agents serves several of them;
- ``/agents/{id}``: ``Telemetry.agent(id)`` (the id percent-encoded), with a runtime
  also its ``recent_turns`` (with their LLM and tool steps), ``conversation`` (sizes by
  tier; None when not live) and ``supervisor_path``;
- ``/nodes``: one row per node of the runtime's ``Directory`` (``NodeInfo``), and under
  ``stats`` the cluster statistics (``Telemetry.cluster()``: per node and the merged
  totals, stale nodes marked; a one-node view without a cluster; ``{"error": ...}``
  when Redis cannot be read);
- ``/tree``: the supervision tree (each supervisor's restarts, intensity use, children);
- ``/llm``: per LLM provider: requests, errors by class, rate-limit waits, tokens, cost
  and, per model, its circuit breakers' state;
- ``/history``: ``{"interval_s", "points": [...]}``, the node's figures sampled every
  ``SAMPLE_S`` seconds over the last hour (turns/s, p50/p95/p99, agents, RSS, loop lag,
  LLM queue and spend; see ``_Sampler``);
- ``/events``: server-sent events, one ``sample`` event per new point (its ``data``:
  ``{"point", "summary"}``), a comment every 15 s to keep proxies from closing it; at
  most ``MAX_STREAMS`` at once (503 beyond).

Routes that need a runtime (``views``) answer 404 on a bare ``Telemetry``. Two actions,
``POST /agents/{id}/passivate`` and ``POST /agents/{id}/restart`` (``{"ok": bool}``),
need the token: on an endpoint without one they answer 403.

The web dashboard is ``/ui/`` (static files shipped in the package: ``_dashboard/``;
Alpine.js and uPlot vendored with their licences, no build step). Its files carry no
data, so they are served without the token (the Host check still applies); the pages
fetch every figure from the routes above with the token the user typed in (kept in the
tab's ``sessionStorage``).

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

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import Any

import msgspec
from aiohttp import web

from agentrt.errors import AgentRTError, ConfigError
from agentrt.runtime._config import EndpointConfig, _is_loopback
from agentrt.runtime._httpguard import HttpGuard, HttpSite
from agentrt.runtime._views import AGENT_STATES, RuntimeViews
from agentrt.telemetry import TOP_KEYS, Telemetry

__all__ = ["MAX_LIMIT", "MAX_STREAMS", "SAMPLE_S", "IntrospectionEndpoint", "open_endpoint"]

#: The most agents ``/agents`` returns at once.
MAX_LIMIT = 10_000
#: Seconds between two points of ``/history`` (an hour of them is kept).
SAMPLE_S = 2.0
#: ``/events`` streams open at once, at most.
MAX_STREAMS = 32
_HISTORY = int(3600 / SAMPLE_S)
_HEARTBEAT_S = 15.0
_DEFAULT_LIMIT = 50
_MAX_OFFSET = 1_000_000
_ROUTES = [
    "/summary",
    "/snapshot",
    "/alerts",
    "/agents?by=p95&limit=50&offset=0&order=desc&q=&state=",
    "/agents/{id}",
    "/nodes",
    "/tree",
    "/llm",
    "/history",
    "/events",
    "/ui/",
]
_UI_FILES = {  # name -> content type: the only files /ui/ serves
    "index.html": "text/html",
    "app.js": "text/javascript",
    "app.css": "text/css",
    "vendor/alpine.min.js": "text/javascript",
    "vendor/uPlot.iife.min.js": "text/javascript",
    "vendor/uPlot.min.css": "text/css",
}
_UI_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Alpine.js evaluates its attribute expressions with Function(): 'unsafe-eval'
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' "
        "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
    ),
}
_json = msgspec.json.Encoder()
_log = logging.getLogger("agentrt.runtime.endpoint")
_ENDPOINT: web.AppKey[IntrospectionEndpoint] = web.AppKey("endpoint")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _BadParameter(ValueError):
    """A query parameter is wrong: ``parameter`` names it."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"bad parameter {parameter!r}: {problem}")
        self.parameter = parameter


_AGENTS_PARAMS = ("by", "limit", "offset", "order", "q", "state", "max_age")
#: the most seconds ``max_age`` may accept
MAX_AGE_S = 60.0
_MEMO_SIZE = 64


def _top_params(query: Mapping[str, str]) -> tuple[str, int]:
    """``(by, limit)`` of an ``/agents`` query (defaults p95 and 50); raises
    ``_BadParameter`` naming an unknown, repeated or invalid parameter."""
    params = _page_params(query)
    return params["by"], params["limit"]


def _page_params(query: Mapping[str, str]) -> dict[str, Any]:
    """Every parameter of an ``/agents`` query, defaults filled in (see the module docs);
    raises ``_BadParameter`` naming an unknown, repeated or invalid parameter."""
    seen: Counter[str] = Counter(name for name, _ in query.items())
    for name, count in seen.items():
        if name not in _AGENTS_PARAMS:
            raise _BadParameter(name, f"unknown parameter; known: {', '.join(_AGENTS_PARAMS)}")
        if count > 1:
            raise _BadParameter(name, "given more than once")
    by = query.get("by", "p95")
    if by not in TOP_KEYS:
        raise _BadParameter("by", f"unknown ordering {by!r}; choose from {sorted(TOP_KEYS)}")
    limit = _int_param(query, "limit", _DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_param(query, "offset", 0, 0, _MAX_OFFSET)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise _BadParameter("order", f"must be 'asc' or 'desc', got {order!r}")
    q = query.get("q", "").strip()
    if len(q) > 200:
        raise _BadParameter("q", f"must be at most 200 characters, got {len(q)}")
    state = query.get("state", "")
    if state and state not in AGENT_STATES:
        raise _BadParameter("state", f"unknown state {state!r}; choose from {list(AGENT_STATES)}")
    return {"by": by, "limit": limit, "offset": offset, "order": order, "q": q, "state": state}


def _max_age(query: Mapping[str, str]) -> float:
    """The ``max_age`` parameter: seconds (0..``MAX_AGE_S``; default 0) a view computed
    earlier may be old and still be served instead of a fresh one."""
    if sum(1 for name, _ in query.items() if name == "max_age") > 1:
        raise _BadParameter("max_age", "given more than once")
    raw = query.get("max_age", "0")
    try:
        value = float(raw)
    except ValueError:
        raise _BadParameter("max_age", f"must be a number of seconds, got {raw!r}") from None
    if not 0 <= value <= MAX_AGE_S:  # NaN fails both
        raise _BadParameter("max_age", f"must be within 0..{MAX_AGE_S:g} s, got {raw!r}")
    return value


def _int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise _BadParameter(name, f"must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise _BadParameter(name, f"must be within {low}..{high}, got {value}")
    return value


def _respond(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=_json.encode(body),
        content_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _respond_bytes(body: bytes) -> web.Response:
    return web.Response(
        status=200,
        body=body,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _error(status: int, message: str, **extra: Any) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="agentrt"'} if status == 401 else None
    return _respond(status, {"error": message, **extra}, headers)


class IntrospectionEndpoint:
    """Serves ``telemetry`` over HTTP as configured by ``config`` (see the module docs).

    ``token`` (None: no authentication; only allowed on a loopback address) is the bearer
    token every request must carry. ``views``: the runtime's views (nodes, tree, LLM,
    agent detail, actions); None: those routes answer 404. ``start()`` binds
    (``ConfigError`` naming ``telemetry.endpoint.port`` when the address cannot be bound)
    and starts the history sampler; ``aclose()`` ends the event streams, closes every
    connection and leaves no task behind. ``stats()``: requests by status.
    """

    def __init__(
        self,
        telemetry: Telemetry,
        config: EndpointConfig,
        *,
        token: str | None = None,
        views: RuntimeViews | None = None,
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
        self.views = views
        self.sampler = _Sampler(telemetry)
        self.streams = 0
        #: the last answers of the costly views, for requests that accept a recent one
        #: (``max_age``): key -> (monotonic time, body); at most ``_MEMO_SIZE``
        self._memo: dict[str, tuple[float, bytes]] = {}
        tokens = {token: True} if token is not None else {}
        self._guard = HttpGuard(config.host, config.allowed_hosts, tokens)
        self._site = HttpSite(
            config.host, config.port, what="introspection endpoint",
            port_key="telemetry.endpoint.port", logger=_log, count=self._count,
        )  # fmt: skip
        self.requests = 0
        self.statuses: Counter[int] = Counter()

    def memo_get(self, key: str, max_age: float) -> bytes | None:
        """The answer to ``key`` computed at most ``max_age`` seconds ago, or None."""
        found = self._memo.get(key)
        if found is None or time.monotonic() - found[0] > max_age:
            return None
        return found[1]

    def memo_put(self, key: str, body: bytes) -> None:
        """Keep the answer to ``key`` (the oldest kept answer goes beyond the bound)."""
        memo = self._memo
        memo.pop(key, None)
        if len(memo) >= _MEMO_SIZE:
            del memo[next(iter(memo))]
        memo[key] = (time.monotonic(), body)

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
        if self._site.running:
            return
        await self._site.start(self._app())
        self.sampler.start()

    def _count(self, status: int) -> None:
        self.statuses[status] += 1

    async def aclose(self) -> None:
        """Stop serving and close every connection (idempotent)."""
        await self.sampler.aclose()  # wakes the event streams: they end
        await self._site.aclose()

    def stats(self) -> dict[str, Any]:
        """``{"url", "authenticated", "requests", "statuses", "open_connections",
        "streams"}`` (``streams``: ``/events`` clients connected now)."""
        return {
            "url": self.url if self._site.running else None,
            "authenticated": self.authenticated,
            "requests": self.requests,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "open_connections": self._site.open_connections,
            "streams": self.streams,
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
        app.router.add_get("/alerts", _alerts)
        app.router.add_get("/agents", _agents)
        app.router.add_post("/agents/{agent_id:.+}/{action:passivate|restart}", _action)
        app.router.add_get("/agents/{agent_id:.+}", _agent)
        app.router.add_get("/nodes", _nodes)
        app.router.add_get("/tree", _tree)
        app.router.add_get("/llm", _llm)
        app.router.add_get("/history", _history)
        app.router.add_get("/events", _events)
        app.router.add_get("/ui", _ui_redirect)
        app.router.add_get("/ui/{path:.*}", _ui)
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
    elif not request.path.startswith("/ui") and not endpoint.authorized(
        request.headers.get("Authorization")
    ):
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
    try:
        max_age = _max_age(request.query)
    except _BadParameter as exc:
        return _error(400, str(exc), parameter=exc.parameter)
    sampler = request.app[_ENDPOINT].sampler
    if max_age and sampler.summary is not None and sampler.age() <= max_age:
        return _respond(200, sampler.summary)  # the sampler's, taken at most max_age ago
    return _respond(200, _telemetry(request).summary())


async def _snapshot(request: web.Request) -> web.Response:
    return _respond(200, _telemetry(request).snapshot())


async def _alerts(request: web.Request) -> web.Response:
    return _respond(200, _telemetry(request).alerts())


async def _agents(request: web.Request) -> web.Response:
    try:
        p = _page_params(request.query)
        max_age = _max_age(request.query)
    except _BadParameter as exc:
        return _error(400, str(exc), parameter=exc.parameter)
    p.pop("max_age", None)
    endpoint = request.app[_ENDPOINT]
    key = "/agents?" + "&".join(f"{k}={v}" for k, v in sorted(p.items()))
    if max_age:
        hit = endpoint.memo_get(key, max_age)
        if hit is not None:
            return _respond_bytes(hit)
    telemetry = _telemetry(request)
    views = endpoint.views
    where = None
    if p["q"] or p["state"]:
        if views is None:
            name = "q" if p["q"] else "state"
            return _error(400, f"bad parameter {name!r}: filters need a runtime", parameter=name)
        where = views.where(p["q"], p["state"])
    matched, agents = telemetry.page(
        p["by"], offset=p["offset"], limit=p["limit"], ascending=p["order"] == "asc", where=where
    )
    total = telemetry.agent_count()
    body = _json.encode({**p, "total": total, "matched": matched, "agents": agents})
    endpoint.memo_put(key, body)
    return _respond_bytes(body)


async def _agent(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    view = _telemetry(request).agent(agent_id)
    if view is None:
        return _error(404, f"no agent {agent_id!r}", agent=agent_id)
    views = request.app[_ENDPOINT].views
    if views is not None:
        view.update(views.agent_detail(agent_id))
    return _respond(200, view)


def _views(request: web.Request) -> RuntimeViews:
    views = request.app[_ENDPOINT].views
    if views is None:
        raise web.HTTPNotFound(reason=f"{request.path} needs a runtime (this endpoint has none)")
    return views


async def _action(request: web.Request) -> web.Response:
    endpoint = request.app[_ENDPOINT]
    agent_id, action = request.match_info["agent_id"], request.match_info["action"]
    if not endpoint.authenticated:
        return _error(
            403,
            f"{action} needs a token: this endpoint has none (set telemetry.endpoint.token_env)",
        )
    views = _views(request)
    if views.directory.slot(agent_id) is None:
        return _error(404, f"no agent {agent_id!r}", agent=agent_id)
    done = await (views.passivate(agent_id) if action == "passivate" else views.restart(agent_id))
    _log.info(
        "introspection endpoint: %s of agent %r: %s",
        action,
        agent_id,
        done,
        extra={"agent_id": agent_id},
    )
    return _respond(200, {"agent": agent_id, "action": action, "ok": done})


async def _nodes(request: web.Request) -> web.Response:
    rows = _views(request).nodes()
    try:
        stats: dict[str, Any] = (await _telemetry(request).cluster()).as_dict()
    except AgentRTError as exc:  # ClusterUnavailable: the rows still answer
        stats = {"error": str(exc)}
    return _respond(200, {"nodes": rows, "stats": stats})


async def _tree(request: web.Request) -> web.Response:
    return _respond(200, await _views(request).tree())


async def _llm(request: web.Request) -> web.Response:
    return _respond(200, _views(request).llm())


async def _history(request: web.Request) -> web.Response:
    sampler = request.app[_ENDPOINT].sampler
    return _respond(200, {"interval_s": SAMPLE_S, "points": list(sampler.points)})


async def _events(request: web.Request) -> web.StreamResponse:
    endpoint = request.app[_ENDPOINT]
    if endpoint.streams >= MAX_STREAMS:
        return _error(503, f"too many event streams (at most {MAX_STREAMS})")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    endpoint.streams += 1
    try:
        await response.prepare(request)
        await response.write(b": agentrt\n\n")
        sampler = endpoint.sampler
        while not sampler.closed:
            sample = await sampler.next(_HEARTBEAT_S)
            if sample is None:
                await response.write(b": keep-alive\n\n")
            else:
                await response.write(b"event: sample\ndata: " + sample + b"\n\n")
    except ConnectionResetError:
        pass  # the client went away (a cancellation, when aiohttp noticed first, goes on up)
    finally:
        endpoint.streams -= 1
    return response


async def _ui_redirect(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": "/ui/", **_UI_HEADERS})


async def _ui(request: web.Request) -> web.Response:
    path = request.match_info["path"] or "index.html"
    content_type = _UI_FILES.get(path)
    if content_type is None:
        return _error(404, f"no dashboard file {path!r}")
    return web.Response(
        body=_ui_file(path), content_type=content_type, charset="utf-8", headers=_UI_HEADERS
    )


_ui_cache: dict[str, bytes] = {}


def _ui_file(path: str) -> bytes:
    """A dashboard file's bytes (read from the package once)."""
    data = _ui_cache.get(path)
    if data is None:
        data = _ui_cache[path] = (
            resources.files("agentrt.runtime").joinpath("_dashboard", path).read_bytes()
        )
    return data


class _Sampler:
    """The node's figures every ``SAMPLE_S`` seconds, an hour of them kept, for
    ``/history`` and ``/events``. One ``summary()`` per sample, shared by every stream
    (so a dashboard's cost does not grow with its viewers). Each point: ``t`` (wall
    clock), ``turns_per_s`` and ``errors_per_s`` since the previous point, ``p50``/
    ``p95``/``p99`` (ms, the recent window), ``live``/``passivated`` agents, ``rss``
    (bytes), ``loop_lag_ms`` (the last), ``llm_active``/``llm_waiting``, ``cost``
    (total spent)."""

    def __init__(self, telemetry: Telemetry, interval: float = SAMPLE_S) -> None:
        self.telemetry = telemetry
        self.interval = interval
        self.points: deque[dict[str, Any]] = deque(maxlen=_HISTORY)
        self.closed = False
        self._task: asyncio.Task[None] | None = None
        self._waiters: list[asyncio.Future[bytes | None]] = []
        self._last: tuple[float, int, int] | None = None
        #: the last sample's ``summary()`` and when it was taken (``time.monotonic``)
        self.summary: dict[str, Any] | None = None
        self._summary_at = 0.0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        self.closed = True
        self._wake(None)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def age(self) -> float:
        """Seconds since the last sample (inf before the first)."""
        return time.monotonic() - self._summary_at if self.summary is not None else math.inf

    async def next(self, timeout: float) -> bytes | None:
        """The next sample's event data (JSON), or None after ``timeout`` seconds or once
        closed."""
        if self.closed:
            return None
        fut: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return None
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)

    def _wake(self, data: bytes | None) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(data)

    async def _run(self) -> None:
        while True:
            try:
                self.sample()
            except Exception:  # a failing view: no point this time, the sampler goes on
                _log.exception("introspection endpoint: sampling the node failed")
            await asyncio.sleep(self.interval)

    def sample(self) -> dict[str, Any]:
        """Take one point now (and send it to the event streams)."""
        summary = self.telemetry.summary()
        self.summary, self._summary_at = summary, time.monotonic()
        now = time.time()
        turns = summary["turns"]
        done, failed = turns["ok"] + turns["failed"], turns["failed"]
        last, self._last = self._last, (now, done, failed)
        if last is None or now <= last[0]:
            rate = errors = 0.0
        else:
            rate = (done - last[1]) / (now - last[0])
            errors = (failed - last[2]) / (now - last[0])
        recent = summary["turn_latency_ms"]["recent"]
        agents = summary.get("agents") or {}
        llm = summary.get("llm") or {}
        point = {
            "t": round(now, 3),
            "turns_per_s": round(rate, 3),
            "errors_per_s": round(errors, 3),
            "p50": recent.get("p50_ms", 0.0),
            "p95": recent.get("p95_ms", 0.0),
            "p99": recent.get("p99_ms", 0.0),
            "live": agents.get("live", 0),
            "passivated": agents.get("passivated", 0),
            "rss": summary["rss_bytes"],
            "loop_lag_ms": (summary.get("loop_lag_ms") or {}).get("last", 0.0),
            "llm_active": llm.get("queue_active", 0),
            "llm_waiting": llm.get("queue_waiting", 0),
            "cost": llm.get("cost", 0.0),
        }
        self.points.append(point)
        if self._waiters:
            self._wake(_json.encode({"point": point, "summary": summary}))
        return point


async def open_endpoint(
    config: EndpointConfig,
    telemetry: Telemetry,
    *,
    token: str | None = None,
    views: RuntimeViews | None = None,
) -> IntrospectionEndpoint:
    """Start the endpoint ``config`` describes over ``telemetry``, requiring ``token``
    when given (the runtime reads it from ``os.environ[config.token_env]`` before it
    boots, like the LLM pool's API keys). Raises ``ConfigError`` (see
    ``IntrospectionEndpoint``)."""
    endpoint = IntrospectionEndpoint(telemetry, config, token=token, views=views)
    await endpoint.start()
    return endpoint

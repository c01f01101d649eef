"""The front door of agentrt's small HTTP servers: ``Host`` allow-list, bearer tokens,
listening sockets and the parser's error log.

Shared by the introspection endpoint (``agentrt.runtime._endpoint``) and ``agentrt
serve`` (``agentrt.serve``), so both check a request the same way:

- ``Host`` allow-list (:meth:`HttpGuard.host_allowed`): a request must name a loopback
  host (``localhost``, 127.0.0.0/8, ``[::1]``), the bound host, or one of the allowed
  hosts, with any port; with tokens, any IP literal as well. A page that rebinds its DNS
  name to 127.0.0.1 therefore cannot read a tokenless server.
- Bearer tokens (:meth:`HttpGuard.identify`): ``Authorization: Bearer <token>`` is
  compared, in constant time, with the SHA-256 digest of every configured token (no early
  exit, so the time does not tell which token nearly matched); the token maps to a value
  (the endpoint: ``True``; ``serve``: the tenant). Only digests are kept.
- :class:`HttpSite` serves an aiohttp app, or a low-level handler (one coroutine per
  request, no router or middleware: ``agentrt serve``'s hot path), on ``host:port``
  (port 0: the OS's choice) without an access log; :class:`ParserLog` turns a request
  aiohttp's parser rejects (an oversized or malformed line) into one warning line without
  a traceback, counted by the caller.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from agentrt.errors import ConfigError, NotRunning
from agentrt.redact import redact_text
from agentrt.runtime._config import _is_loopback

__all__ = ["HttpGuard", "HttpSite", "LowLevelHandler", "ParserLog", "host_of", "listen"]

V = TypeVar("V")
#: A request handler served without an ``Application`` (``HttpSite.start``).
LowLevelHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


class HttpGuard(Generic[V]):
    """Who may talk to a server bound to ``host``: the ``Host`` names it answers to
    (``allowed_hosts`` besides loopback and ``host``) and ``tokens`` (token -> the value
    :meth:`identify` returns for it; empty: no authentication)."""

    __slots__ = ("_hosts", "_seen", "_tokens")

    def __init__(self, host: str, allowed_hosts: Iterable[str], tokens: Mapping[str, V]) -> None:
        names = {host, *allowed_hosts}
        self._hosts = frozenset(n.strip("[]").rstrip(".").lower() for n in names)
        self._seen: dict[str, bool] = {}  # Host header -> allowed (the last few hundred)
        self._tokens = [(_digest(token), value) for token, value in tokens.items()]

    @property
    def authenticated(self) -> bool:
        """True when requests must carry a token."""
        return bool(self._tokens)

    def identify(self, header: str | None) -> V | None:
        """The value of the token an ``Authorization`` header carries, or None (no
        header, another scheme, an unknown token). Compares with every token."""
        scheme, _, given = (header or "").partition(" ")
        if scheme.lower() != "bearer":
            given = ""
        digest = _digest(given.strip())
        found: V | None = None
        for known, value in self._tokens:
            if hmac.compare_digest(digest, known):
                found = value
        return found

    def host_allowed(self, header: str | None) -> bool:
        """Whether a request's ``Host`` header names this server (see the module docs).
        Answers for the headers seen last are remembered (clients repeat theirs)."""
        if header is None:
            return False
        known = self._seen.get(header)
        if known is None:
            known = self._host_allowed(header)
            if len(self._seen) >= 256:
                self._seen.clear()
            self._seen[header] = known
        return known

    def _host_allowed(self, header: str) -> bool:
        name = host_of(header)
        if not name:
            return False
        if name in self._hosts or _is_loopback(name):
            return True
        return self.authenticated and _is_ip(name)


def host_of(header: str | None) -> str:
    """The host name of a ``Host`` header, lowercased, without port, brackets or a
    trailing dot ('' when absent or malformed)."""
    if not header:
        return ""
    header = header.strip()
    if header.startswith("["):  # [v6]:port
        v6, sep, _ = header[1:].partition("]")
        return v6.lower() if sep else ""
    name = header.rpartition(":")[0] if ":" in header else header
    return name.rstrip(".").lower()


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class ParserLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger: a request its parser rejects (``HttpProcessingError``:
    an oversized or malformed line) is one warning line on ``logger`` naming ``what``
    (e.g. "introspection endpoint"), not a traceback, and ``count(status)`` is called."""

    def __init__(self, logger: logging.Logger, what: str, count: Callable[[int], None]) -> None:
        super().__init__(logger, {})
        self._what = what
        self._count = count

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, HttpProcessingError):
            self._count(exc.code or 400)
            client = args[0] if args else "?"
            problem = redact_text(str(exc.message))[:200]
            self.logger.warning(
                "%s: rejected a malformed request from %s (%d): %s",
                self._what, client, exc.code or 400, problem,
            )  # fmt: skip
            return
        super().exception(msg, *args, **kwargs)


def listen(host: str, port: int, backlog: int = 128) -> socket.socket:
    """A listening, non-blocking TCP socket (``port=0``: a free port chosen by the OS).
    Raises ``OSError``."""
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    sock = socket.socket(family)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bare, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class HttpSite:
    """An aiohttp app served on ``host:port`` (see the module docs). ``what`` names the
    server in log lines and errors, ``port_key`` the configuration key a bind failure
    names (``ConfigError``); ``count(status)`` is told of each request aiohttp's parser
    rejects."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        what: str,
        port_key: str,
        logger: logging.Logger,
        count: Callable[[int], None],
        backlog: int = 128,
    ) -> None:
        self.host, self._want = host, port
        self._what, self._port_key = what, port_key
        self._logger, self._count, self._backlog = logger, count, backlog
        self._runner: web.BaseRunner | None = None
        self._port: int | None = None

    @property
    def running(self) -> bool:
        """True between ``start`` and ``aclose``."""
        return self._runner is not None

    @property
    def port(self) -> int:
        """The bound port (the OS's choice when configured as 0)."""
        if self._port is None:
            raise NotRunning(self._what, f"the {self._what} is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port`` (IPv6 hosts bracketed)."""
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def open_connections(self) -> int:
        """Connections open now."""
        server = self._runner.server if self._runner is not None else None
        return len(server.connections) if server is not None else 0

    async def start(
        self, app: web.Application | LowLevelHandler, *, max_body_bytes: int = 1 << 20
    ) -> None:
        """Bind and serve ``app`` (once): an ``Application``, or a low-level handler
        called with each request (whose body is then bounded by ``max_body_bytes``: a
        bigger one makes ``read()`` raise a 413 ``HTTPException``). ``ConfigError``
        naming ``port_key`` when the address cannot be bound."""
        if self._runner is not None:
            return
        log = ParserLog(self._logger, self._what, self._count)
        runner: web.BaseRunner
        if isinstance(app, web.Application):
            runner = web.AppRunner(
                app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0, logger=log
            )
        else:
            loop = asyncio.get_running_loop()

            def request(
                message: Any, payload: Any, protocol: Any, writer: Any, task: Any
            ) -> web.BaseRequest:
                return web.BaseRequest(
                    message, payload, protocol, writer, task, loop, client_max_size=max_body_bytes
                )

            server = web.Server(
                app, request_factory=request, handler_cancellation=True, access_log=None,
                logger=log,
            )  # fmt: skip
            runner = web.ServerRunner(server, shutdown_timeout=1.0)
        await runner.setup()
        try:
            sock = listen(self.host, self._want, self._backlog)
        except OSError as exc:
            await runner.cleanup()
            where = f"{self.host}:{self._want}"
            raise ConfigError(
                self._port_key, f"cannot listen on {where}: {exc.strerror or exc}"
            ) from exc
        self._runner = runner
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()

    async def aclose(self) -> None:
        """Stop serving and close every connection (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

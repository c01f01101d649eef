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
- :func:`listen` binds a socket (port 0: the OS's choice); :class:`ParserLog` turns a
  request aiohttp's parser rejects (an oversized or malformed line) into one warning line
  without a traceback, counted by the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from aiohttp.http_exceptions import HttpProcessingError

from agentrt.redact import redact_text
from agentrt.runtime._config import _is_loopback

__all__ = ["HttpGuard", "ParserLog", "host_of", "listen"]

V = TypeVar("V")


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


class HttpGuard(Generic[V]):
    """Who may talk to a server bound to ``host``: the ``Host`` names it answers to
    (``allowed_hosts`` besides loopback and ``host``) and ``tokens`` (token -> the value
    :meth:`identify` returns for it; empty: no authentication)."""

    __slots__ = ("_hosts", "_tokens")

    def __init__(self, host: str, allowed_hosts: Iterable[str], tokens: Mapping[str, V]) -> None:
        names = {host, *allowed_hosts}
        self._hosts = frozenset(n.strip("[]").rstrip(".").lower() for n in names)
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
        """Whether a request's ``Host`` header names this server (see the module docs)."""
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

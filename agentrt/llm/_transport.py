"""The HTTP transport under the pool's ``httpx.AsyncClient``.

httpx stays the client API (requests, responses, timeouts, streaming), but its default
transport (httpcore) spends most of its CPU in connection-pool bookkeeping under high
concurrency (encode/httpx issue 3215). :class:`AiohttpTransport` is a small
``httpx.AsyncBaseTransport`` over an ``aiohttp.ClientSession``; docs/llm.md records the
measurements behind the choice (httpcore vs this transport vs ``httpx-aiohttp`` vs raw
aiohttp).

Behaviour:

- one ``aiohttp.TCPConnector`` per transport, at most ``max_connections`` connections
  (``0``: unlimited), idle keep-alive connections reused;
- bodies are decompressed by aiohttp (``Content-Encoding`` is then dropped from the
  httpx response so httpx does not decode twice);
- response bodies are streamed: each chunk is handed to httpx as it arrives
  (``StreamReader.iter_any``), so SSE events are not buffered;
- aiohttp errors become the httpx errors they mean: ``ConnectTimeout``, ``ConnectError``,
  ``ReadTimeout``, ``ReadError``, ``RemoteProtocolError``, ``PoolTimeout`` (waiting for a
  connection), ``UnsupportedProtocol``;
- ``aclose()`` closes every connection; a response closed before its end closes its
  connection instead of returning it to the pool;
- a *stale* pooled connection (the server closed an idle keep-alive connection without
  ``Connection: close``, a known proxy behaviour, so sending on it fails before any
  answer) is retried at once, once, on a fresh connection: the request never reached
  the server, so this is not a failure (counted in ``stats()["stale_retries"]``);
- ``send_bytes(max_body=...)`` and :func:`read_response` stop reading at a limit and
  raise :class:`BodyTooLarge` (the connection is closed, not reused).

The pool's non-streaming calls go through the byte-level ``ByteSender`` protocol
(``send_bytes``: method, URL, headers, body in; status, headers, body out), which skips
building httpx objects. ``AiohttpTransport`` implements it natively; any other httpx
transport is adapted by ``HttpxBytes`` (``byte_sender`` picks), so a user's transport
that defines ``send_bytes`` takes the fast path too. Streams go through ``open_bytes``
(status and headers in an :class:`Opened` answer, the body read as it arrives), which
``AiohttpTransport`` also implements natively (``agentrt.llm._httpxbytes``).

Example::

    async with create_client("aiohttp", max_connections=100) as client:
        r = await client.get("http://127.0.0.1:8000/health")
"""

from __future__ import annotations

import contextlib
import errno
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Protocol

import aiohttp
import httpx

from agentrt.errors import AgentRTError, InvalidArgument, NotRunning
from agentrt.llm._config import TransportKind

__all__ = [
    "AiohttpTransport",
    "BodyTooLarge",
    "ByteSender",
    "Opened",
    "create_client",
    "raw_chunks",
    "read_response",
]


class ByteSender(Protocol):
    """A transport's byte-level request: what the pool's non-streaming calls use."""

    async def send_bytes(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        *,
        connect_timeout: float | None = None,
        max_body: int = 0,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send ``body`` and read the whole answer: ``(status, headers, body)``, headers
        case-insensitive. Transport failures raise ``httpx.TransportError``s; a body over
        ``max_body`` bytes (0: no limit) raises :class:`BodyTooLarge`."""
        ...

    async def open_bytes(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        *,
        connect_timeout: float | None = None,
    ) -> Opened:
        """Send ``body`` and return once the answer's status and headers arrived (the
        pool's streams); the caller reads or iterates the body, then closes it."""
        ...


class Opened(Protocol):
    """An answer whose status and headers arrived, its body still to come (a stream)."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Case-insensitive."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk as it arrives (decoded; transport errors as httpx's)."""
        ...

    async def read(self, limit: int = 0) -> bytes:
        """The whole body (at most ``limit`` bytes, 0: any; else :class:`BodyTooLarge`)."""
        ...

    async def aclose(self) -> None:
        """Release the connection (closed instead when the body was not read to its end)."""
        ...


class BodyTooLarge(AgentRTError, ValueError):
    """A response body was longer than ``limit`` bytes (reading stopped there). A
    ``ByteSender`` raises it when ``max_body`` is passed; the pool reports it as
    ``ResponseTooLarge``."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"response body larger than {limit} bytes")
        self.limit = limit


def _stale(exc: BaseException) -> bool:
    """Did sending fail the way a server-closed idle connection fails (no answer at all)?"""
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return True
    return isinstance(exc, aiohttp.ClientOSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE)


@contextlib.contextmanager
def _mapped_errors(phase: str) -> Iterator[None]:
    """Re-raise aiohttp errors as httpx transport errors (``phase``: request or read)."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timed out") from exc
    except aiohttp.SocketTimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "read timed out") from exc
    except aiohttp.ServerTimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "timed out") from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc)) from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx.RemoteProtocolError(f"server disconnected during {phase}") from exc
    except aiohttp.ClientPayloadError as exc:
        raise httpx.RemoteProtocolError(f"incomplete body: {exc}") from exc
    except aiohttp.ClientResponseError as exc:
        raise httpx.RemoteProtocolError(f"bad response: {exc.message}") from exc
    except (aiohttp.ClientOSError, aiohttp.ClientConnectionError) as exc:
        raise httpx.ReadError(str(exc) or f"connection error during {phase}") from exc
    except aiohttp.InvalidURL as exc:
        raise httpx.UnsupportedProtocol(str(exc)) from exc


class _ResponseStream(httpx.AsyncByteStream):
    """The body of one aiohttp response, chunk by chunk as it arrives; also the
    :class:`Opened` answer of :meth:`AiohttpTransport.open_bytes`."""

    __slots__ = ("_response",)

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    def chunks(self) -> AsyncIterator[bytes]:
        return self.__aiter__()

    async def read(self, limit: int = 0) -> bytes:
        return await _read_body(self._response, limit)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped_errors("read"):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def read_all(self, limit: int = 0) -> bytes:
        """The whole body (at most ``limit`` bytes, 0: any); releases the connection."""
        return await _read_body(self._response, limit)

    async def aclose(self) -> None:
        response = self._response
        if response.content.at_eof():
            response.release()
        else:  # abandoned mid-body: the connection cannot be reused
            response.close()


async def _read_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body of ``response``, refusing more than ``limit`` bytes (0: no limit).

    A declared ``Content-Length`` within the limit is read in one call (the hot path);
    otherwise chunks are counted as they come. Over the limit the connection is closed
    and :class:`BodyTooLarge` raised. Errors are mapped to httpx's.
    """
    length = response.content_length
    with _mapped_errors("read"):
        try:
            if not limit or (length is not None and length <= limit):
                return await response.read()
            if length is not None:
                raise BodyTooLarge(limit)
            parts = bytearray()
            while chunk := await response.content.readany():
                parts += chunk
                if len(parts) > limit:
                    raise BodyTooLarge(limit)
            return bytes(parts)
        except BaseException:
            response.close()
            raise
        finally:
            response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport sending requests through one ``aiohttp.ClientSession``.

    The session is created on first use (it must be created inside the running loop).
    ``max_connections=0`` means no connection limit; ``keepalive_s`` is how long an idle
    connection is kept.
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        keepalive_s: float = 30.0,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._max_connections = max_connections
        self._keepalive_s = keepalive_s
        self._ssl: ssl.SSLContext | bool = httpx.create_ssl_context() if verify is True else verify
        self._session: aiohttp.ClientSession | None = None
        self._fresh: aiohttp.ClientSession | None = None
        self.stale_retries = 0
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}
        self._connect_timeouts: dict[float | None, aiohttp.ClientTimeout] = {}
        self._closed = False

    def _open_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise NotRunning("transport", "transport is closed")
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            keepalive_timeout=self._keepalive_s,
            ssl=self._ssl,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar()
        )
        return self._session

    def _fresh_session(self) -> aiohttp.ClientSession:
        """A session whose every request opens a new connection (for stale retries)."""
        if self._fresh is None:
            connector = aiohttp.TCPConnector(limit=0, force_close=True, ssl=self._ssl)
            self._fresh = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._fresh

    async def _request(self, method: str, url: str, **kwargs: Any) -> aiohttp.ClientResponse:
        """``session.request`` whose stale pooled connection is retried once, at once, on a
        fresh connection (see the module doc)."""
        session = self._session or self._open_session()
        with _mapped_errors("request"):
            try:
                return await session.request(method, url, allow_redirects=False, **kwargs)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if not _stale(exc) or self._closed or not isinstance(kwargs["data"], bytes):
                    raise
            self.stale_retries += 1
            return await self._fresh_session().request(method, url, allow_redirects=False, **kwargs)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        timeout = self._timeout(timeouts.get("pool"), timeouts.get("connect"), timeouts.get("read"))
        stream = request.stream
        body: Any
        if isinstance(stream, httpx.ByteStream):  # in-memory body (also from stream=...)
            body = b"".join(stream) or None
        else:
            try:
                body = request.content or None
            except httpx.RequestNotRead:
                body = stream
        response = await self._request(
            request.method,
            str(request.url),
            headers=request.headers.multi_items(),
            data=body,
            timeout=timeout,
        )
        headers: Any = response.raw_headers
        if "Content-Encoding" in response.headers:  # aiohttp decoded the body already
            headers = [(k, v) for k, v in headers if k.lower() != b"content-encoding"]
        return httpx.Response(
            status_code=response.status,
            headers=headers,
            stream=_ResponseStream(response),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    def _timeout(
        self, pool: float | None, connect: float | None, read: float | None
    ) -> aiohttp.ClientTimeout:
        key = (pool, connect, read)
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(
                total=None, connect=pool, sock_connect=connect, sock_read=read
            )
            if len(self._timeouts) < 64:
                self._timeouts[key] = timeout
        return timeout

    async def send_bytes(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        *,
        connect_timeout: float | None = None,
        max_body: int = 0,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send a request with an in-memory body and read the whole answer, without
        building ``httpx.Request``/``httpx.Response`` objects.

        The pool's fast path for non-streaming calls (building the two httpx objects costs
        ~20 us per request, ~12% of throughput at 1,000 concurrent requests; docs/llm.md).
        Same connection pool, same error mapping (httpx exceptions) and stale-connection
        retry as :meth:`handle_async_request`. Returns ``(status, headers, body)``;
        headers are case-insensitive. A body over ``max_body`` bytes (0: no limit) raises
        :class:`BodyTooLarge`.
        """
        timeout = self._connect_timeouts.get(connect_timeout)
        if timeout is None:
            timeout = self._timeout(None, connect_timeout, None)
            if len(self._connect_timeouts) < 64:
                self._connect_timeouts[connect_timeout] = timeout
        response = await self._request(method, url, headers=headers, data=body, timeout=timeout)
        data = await _read_body(response, max_body)
        return response.status, response.headers, data

    async def open_bytes(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        *,
        connect_timeout: float | None = None,
    ) -> Opened:
        """Send a request with an in-memory body; the answer once its status and headers
        arrived, its body read straight from aiohttp (no httpx objects). Same connection
        pool, error mapping and stale-connection retry as :meth:`send_bytes`."""
        timeout = self._connect_timeouts.get(connect_timeout)
        if timeout is None:
            timeout = self._timeout(None, connect_timeout, None)
        response = await self._request(method, url, headers=headers, data=body, timeout=timeout)
        return _ResponseStream(response)

    def stats(self) -> dict[str, int]:
        """Connections in use and idle, and stale connections retried
        (``{"active": n, "idle": n, "stale_retries": n}``)."""
        connector = self._session.connector if self._session else None
        if connector is None or connector.closed:
            return {"active": 0, "idle": 0, "stale_retries": self.stale_retries}
        idle = getattr(connector, "_conns", {})
        return {
            "active": len(getattr(connector, "_acquired", ())),
            "idle": sum(len(v) for v in idle.values()),
            "stale_retries": self.stale_retries,
        }

    async def aclose(self) -> None:
        """Close the session and every connection. Idempotent."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
        if self._fresh is not None:
            await self._fresh.close()


async def read_response(response: httpx.Response, limit: int = 0) -> bytes:
    """The whole body of ``response`` (at most ``limit`` bytes, 0: any), then close it.

    Over :class:`AiohttpTransport` this reads in one call (skipping httpx's per-chunk
    iterator layers, a measurable saving per request); over any other transport it reads
    the chunks, counting them. Over the limit: :class:`BodyTooLarge`.
    """
    stream = response.stream
    if isinstance(stream, _ResponseStream):
        return await stream.read_all(limit)
    try:
        if not limit:
            return await response.aread()
        parts = bytearray()
        async for chunk in response.aiter_bytes():
            parts += chunk
            if len(parts) > limit:
                raise BodyTooLarge(limit)
        return bytes(parts)
    finally:
        await response.aclose()


def raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body of a streamed ``response``, chunk by chunk as it arrives (decoded).

    Over :class:`AiohttpTransport` the chunks come straight from aiohttp (which decoded
    them already), skipping httpx's three iterator layers per chunk; over any other
    transport, ``response.aiter_bytes()``. Close the response after."""
    stream = response.stream
    if isinstance(stream, _ResponseStream):
        return stream.__aiter__()
    return response.aiter_bytes()


def create_client(
    kind: TransportKind,
    *,
    max_connections: int = 100,
    timeout: httpx.Timeout | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` over the chosen transport.

    ``max_connections=0`` means unlimited. Redirects are not followed; environment proxy
    settings are ignored (``trust_env=False``), as an LLM pool talks to configured URLs.
    """
    limit = max_connections or None
    transport: httpx.AsyncBaseTransport
    if kind == "aiohttp":
        transport = AiohttpTransport(max_connections=max_connections)
    elif kind == "httpx":
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
        )
    else:
        raise InvalidArgument("kind", f"unknown transport kind {kind!r}")
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout or httpx.Timeout(120.0, connect=10.0),
        headers=headers,
        trust_env=False,
        follow_redirects=False,
    )

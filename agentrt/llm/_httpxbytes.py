"""The byte-level protocol (:class:`~agentrt.llm._transport.ByteSender`) over any httpx
transport: :class:`HttpxBytes` builds the ``httpx.Request`` a transport needs and reads
its ``httpx.Response``; :func:`byte_sender` picks the transport itself when it speaks the
protocol natively (:class:`~agentrt.llm._transport.AiohttpTransport` does)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx

from agentrt.llm._transport import ByteSender, Opened, raw_chunks, read_response

__all__ = ["HttpxBytes", "byte_sender"]


class _HttpxOpened:
    """:class:`Opened` over an ``httpx.Response``."""

    __slots__ = ("_response",)

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    def chunks(self) -> AsyncIterator[bytes]:
        return raw_chunks(self._response)

    async def read(self, limit: int = 0) -> bytes:
        return await read_response(self._response, limit)

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxBytes:
    """``ByteSender`` over any ``httpx.AsyncBaseTransport`` (builds the httpx request and
    response the transport needs; a transport's own ``send_bytes`` is used when it has
    one). Parsed URLs are kept, up to 256."""

    __slots__ = ("_extensions", "_own_send", "_transport", "_urls")

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport
        own = getattr(transport, "send_bytes", None)
        self._own_send = own if callable(own) else None
        self._urls: dict[str, tuple[httpx.URL, tuple[str, str]]] = {}
        self._extensions: dict[float | None, dict[str, Any]] = {}

    def _request(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        connect_timeout: float | None,
    ) -> httpx.Request:
        prepared = self._urls.get(url)
        if prepared is None:
            parsed = httpx.URL(url)
            prepared = (parsed, ("host", parsed.netloc.decode("ascii")))
            if len(self._urls) < 256:
                self._urls[url] = prepared
        extensions = self._extensions.get(connect_timeout)
        if extensions is None:  # the caller's deadline bounds the rest
            timeouts = {"connect": connect_timeout, "read": None, "write": None, "pool": None}
            extensions = self._extensions[connect_timeout] = {"timeout": timeouts}
        return httpx.Request(
            method,
            prepared[0],
            headers=[prepared[1], *headers, ("content-length", str(len(body)))],
            stream=httpx.ByteStream(body),
            extensions=extensions,
        )

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
        if self._own_send is not None:
            sent: tuple[int, Mapping[str, str], bytes] = await self._own_send(
                method, url, headers, body, connect_timeout=connect_timeout, max_body=max_body
            )
            return sent
        request = self._request(method, url, headers, body, connect_timeout)
        response = await self._transport.handle_async_request(request)
        data = await read_response(response, max_body)
        return response.status_code, response.headers, data

    async def open_bytes(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        *,
        connect_timeout: float | None = None,
    ) -> Opened:
        request = self._request(method, url, headers, body, connect_timeout)
        return _HttpxOpened(await self._transport.handle_async_request(request))


def byte_sender(transport: httpx.AsyncBaseTransport) -> ByteSender:
    """``transport`` itself when it has ``send_bytes`` and ``open_bytes``, else an
    ``HttpxBytes`` over it (which still uses the transport's own ``send_bytes``)."""
    if callable(getattr(transport, "send_bytes", None)) and callable(
        getattr(transport, "open_bytes", None)
    ):
        sender: ByteSender = transport  # type: ignore[assignment]
        return sender
    return HttpxBytes(transport)

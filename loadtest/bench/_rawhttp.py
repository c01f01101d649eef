"""A load generator's HTTP/1.1 client at the cost of a few microseconds per request (as
``wrk`` is): one keep-alive connection per worker, the request written as bytes, the
answer read up to its ``Content-Length`` (or, for a chunked answer such as an SSE
stream, its last chunk) without parsing headers or body. For benchmarks whose two arms
must pay alike for their load generator; an answer it cannot read raises ``ValueError``.

Example::

    conn = await RawConnection.open("127.0.0.1", 8000)
    status = await conn.post("/v1/chat/completions", b'{"model": ...}', {"X-Agent-Id": "a"})
    conn.close()
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping

__all__ = ["RawConnection"]

_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:\s*chunked", re.IGNORECASE)


class RawConnection(asyncio.Protocol):
    """One keep-alive connection; one request at a time (:meth:`post`)."""

    def __init__(self, host: str, port: int) -> None:
        self._host = f"{host}:{port}".encode()
        self._buf = bytearray()
        self._done: asyncio.Future[int] | None = None
        self._transport: asyncio.Transport | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        """Connect (``OSError`` when the server does not accept)."""
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: cls(host, port), host, port)
        return conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # a TCP transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(exc or ConnectionResetError("the server closed"))

    def data_received(self, data: bytes) -> None:
        self._buf += data
        done = self._done
        if done is None or done.done():
            return
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[: end + 2])
        length = _LENGTH.search(head)
        if length is not None:
            total = end + 4 + int(length.group(1))
            if len(buf) < total:
                return
        elif _CHUNKED.search(head) is not None:
            if not buf.endswith(b"\r\n0\r\n\r\n"):
                return
            total = len(buf)
        else:
            done.set_exception(ValueError(f"an answer without a length: {head[:200]!r}"))
            return
        del buf[:total]
        done.set_result(int(head[9:12]))

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> int:
        """Send one POST and wait for its whole answer; its status."""
        transport = self._transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host.decode()}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{lines}\r\n"
        ).encode() + body
        self._done = asyncio.get_running_loop().create_future()
        transport.write(request)
        return await self._done

    def close(self) -> None:
        """Close the connection."""
        if self._transport is not None:
            self._transport.close()

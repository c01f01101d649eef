"""A reverse HTTP proxy that buffers nothing, for tests of streamed answers.

``StreamingProxy(upstream)`` listens on a free loopback port and forwards every request
(method, path, query, body, headers but ``Host``) to ``upstream`` with aiohttp's client;
the answer's body is passed on piece by piece as it arrives (``iter_any``), each piece
written at once, as nginx does with ``proxy_buffering off``. ``Host`` is rewritten to the
upstream's, as a proxy does by default. ``pieces`` counts the body pieces forwarded.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

__all__ = ["StreamingProxy"]

_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


class StreamingProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.pieces = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def __aenter__(self) -> StreamingProxy:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        body = await request.read()
        async with self._session.request(
            request.method, self.upstream + request.rel_url.path_qs, headers=headers, data=body
        ) as upstream:
            out = web.StreamResponse(status=upstream.status)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP:
                    out.headers[key] = value
            await out.prepare(request)
            async for piece in upstream.content.iter_any():
                self.pieces += 1
                await out.write(piece)
            await out.write_eof()
            return out

"""A loopback TCP proxy a test can cut, hang and restore, in front of a real server.

``up`` forwards bytes both ways; ``down`` closes every connection and stops listening
(new connects are refused, as from a stopped server); ``hang`` accepts connections and
swallows what they send without ever answering (a server that hangs). The port stays the
same throughout, and the server behind keeps its data (unlike stopping a redis-server
started without persistence).

Example::

    async with TcpProxy(6379) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        await proxy.down()
        await proxy.up()
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Literal

Mode = Literal["up", "down", "hang"]


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.mode: Mode = "down"
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> TcpProxy:
        await self.up()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.down()

    async def up(self) -> None:
        """Forward new connections to the target."""
        await self._listen("up")

    async def hang(self) -> None:
        """Drop live connections; accept new ones and never answer them."""
        await self._listen("hang")

    async def down(self) -> None:
        """Drop every connection and stop listening: connects are refused."""
        self.mode = "down"
        await self._drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _listen(self, mode: Mode) -> None:
        await self._drop()
        self.mode = mode
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def _drop(self) -> None:
        links, self._links = self._links, set()
        for task in links:
            task.cancel()
        await asyncio.gather(*links, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer, self.mode))
        self._links.add(task)
        task.add_done_callback(self._links.discard)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, mode: Mode
    ) -> None:
        try:
            if mode == "hang":
                while await reader.read(65_536):
                    pass
                return
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
    while data := await reader.read(65_536):
        writer.write(data)
        await writer.drain()
    writer.close()

"""A ``redis-server`` child process that tests and load scenarios own.

The server binds 127.0.0.1 on a free port, keeps nothing on disk and can be stopped and
started again on the same port (an outage window). Starting fails loudly with
:class:`RedisServerError` when the binary is missing or the server does not answer.

These methods block (a few milliseconds to start, up to ``timeout``); inside an event loop
call them through ``asyncio.to_thread``.

Example::

    server = RedisServer()
    server.start()
    try:
        url = server.url          # "redis://127.0.0.1:<port>/0"
        server.stop()             # outage begins
        server.start()            # same port again
    finally:
        server.stop()
"""

from __future__ import annotations

from agentrt.errors import AgentRTError
from agentrt.testing._server_process import ServerProcess, answers

__all__ = ["RedisServer", "RedisServerError", "redis_answers"]


class RedisServerError(AgentRTError, RuntimeError):
    """A managed redis-server could not be started or did not answer."""


def redis_answers(host: str = "127.0.0.1", port: int = 6379, timeout: float = 0.5) -> bool:
    """Return True when a Redis server at ``host:port`` answers ``PING`` with ``PONG``."""
    return answers(host, port, b"PING\r\n", b"+PONG", timeout)


class RedisServer(ServerProcess):
    """A redis-server process on 127.0.0.1 owned by the caller.

    ``port`` defaults to a free port chosen at construction, so ``url`` is stable across
    stop/start. ``binary`` is looked up on ``PATH``.
    """

    error = RedisServerError
    install_hint = "apt-get install -y redis-server"

    def __init__(
        self, *, port: int | None = None, binary: str = "redis-server", timeout: float = 5.0
    ) -> None:
        super().__init__(port=port, binary=binary, timeout=timeout)

    @property
    def url(self) -> str:
        """The ``redis://`` URL of this server (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def _arguments(self, path: str, directory: str) -> list[str]:
        return [
            path,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", directory,
            "--logfile", "",
        ]  # fmt: skip

    def _answers(self) -> bool:
        return redis_answers(port=self.port, timeout=0.2)

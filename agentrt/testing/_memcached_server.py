"""A ``memcached`` child process that tests and benchmarks own (as :class:`RedisServer`).

It binds 127.0.0.1 on a free port (TCP only, 64 MiB) and can be stopped and started again
on the same port (an outage window); starting fails loudly with
:class:`MemcachedServerError` when the binary is missing or the server does not answer.
Run as root, it runs as root (``-u root``: memcached refuses root otherwise). These methods
block; inside an event loop call them through ``asyncio.to_thread``.

Example::

    with MemcachedServer() as server:
        url = server.url          # "memcached://127.0.0.1:<port>"
"""

from __future__ import annotations

import os

from agentrt.errors import AgentRTError
from agentrt.testing._server_process import ServerProcess, answers

__all__ = ["MemcachedServer", "MemcachedServerError", "memcached_answers"]


class MemcachedServerError(AgentRTError, RuntimeError):
    """A managed memcached could not be started or did not answer."""


def memcached_answers(host: str = "127.0.0.1", port: int = 11211, timeout: float = 0.5) -> bool:
    """Return True when a memcached at ``host:port`` answers ``version``."""
    return answers(host, port, b"version\r\n", b"VERSION ", timeout)


class MemcachedServer(ServerProcess):
    """A memcached process on 127.0.0.1 owned by the caller (``max_item_bytes`` is its
    ``-I``, default 1 MiB)."""

    error = MemcachedServerError
    install_hint = "apt-get install -y memcached"

    def __init__(
        self,
        *,
        port: int | None = None,
        binary: str = "memcached",
        timeout: float = 5.0,
        max_item_bytes: int = 1 << 20,
    ) -> None:
        super().__init__(port=port, binary=binary, timeout=timeout)
        self.max_item_bytes = max_item_bytes

    @property
    def url(self) -> str:
        """The ``memcached://`` URL of this server."""
        return f"memcached://127.0.0.1:{self.port}"

    def _arguments(self, path: str, directory: str) -> list[str]:
        args = [path, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "64"]
        args += ["-I", str(self.max_item_bytes)]
        if self.max_item_bytes < 1 << 20:  # memcached wants its slab chunks no larger
            args += ["-o", f"slab_chunk_max={self.max_item_bytes // 2}"]
        if os.geteuid() == 0:
            args += ["-u", "root"]
        return args

    def _answers(self) -> bool:
        return memcached_answers(port=self.port, timeout=0.2)

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

import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

from agentrt.errors import AgentRTError

__all__ = ["RedisServer", "RedisServerError", "redis_answers"]


class RedisServerError(AgentRTError, RuntimeError):
    """A managed redis-server could not be started or did not answer."""


def redis_answers(host: str = "127.0.0.1", port: int = 6379, timeout: float = 0.5) -> bool:
    """Return True when a Redis server at ``host:port`` answers ``PING`` with ``PONG``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A redis-server process on 127.0.0.1 owned by the caller.

    ``port`` defaults to a free port chosen at construction, so ``url`` is stable across
    stop/start. ``binary`` is looked up on ``PATH``.
    """

    def __init__(
        self, *, port: int | None = None, binary: str = "redis-server", timeout: float = 5.0
    ) -> None:
        self.port = port if port is not None else _free_port()
        self.binary = binary
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of this server (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the server and wait until it answers ``PING``; no-op when running."""
        if self.running:
            return
        path = shutil.which(self.binary)
        if path is None:
            raise RedisServerError(
                f"{self.binary!r} not found on PATH: install redis-server "
                "(apt-get install -y redis-server)"
            )
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="agentrt-redis-")
        args = [
            path,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self._dir.name,
            "--logfile", "",
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                self._proc = None
                raise RedisServerError(f"redis-server on port {self.port} exited: {err.strip()}")
            if redis_answers(port=self.port, timeout=0.2):
                return
            time.sleep(0.01)
        self.stop()
        raise RedisServerError(f"redis-server on port {self.port} did not answer PING in time")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``); no-op when stopped."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"RedisServer(port={self.port}, {state})"

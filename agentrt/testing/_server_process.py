"""A server child process (redis-server, memcached) that tests and load scenarios own.

The server binds 127.0.0.1 on a free port, keeps nothing on disk and can be stopped and
started again on the same port (an outage window). Starting fails loudly with the
subclass's error when the binary is missing or the server does not answer. These methods
block (a few milliseconds to start, up to ``timeout``); inside an event loop call them
through ``asyncio.to_thread``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType
from typing import Self

from agentrt.errors import AgentRTError

__all__ = ["ServerProcess", "answers", "free_port"]


def answers(host: str, port: int, request: bytes, reply: bytes, timeout: float) -> bool:
    """True when the server at ``host:port`` answers ``request`` with a line starting
    with ``reply``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(request)
            return sock.recv(64).startswith(reply)
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """Start/stop/close of one server process; subclasses say how to run and probe it.

    ``port`` defaults to a free port chosen at construction, so the URL is stable across
    stop/start. ``binary`` is looked up on ``PATH``.
    """

    error: type[AgentRTError] = AgentRTError
    install_hint = ""

    def __init__(self, *, port: int | None, binary: str, timeout: float) -> None:
        self.port = port if port is not None else free_port()
        self.binary = binary
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def _arguments(self, path: str, directory: str) -> list[str]:
        raise NotImplementedError

    def _answers(self) -> bool:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The running child process's id, None when not running."""
        return self._proc.pid if self.running and self._proc is not None else None

    def start(self) -> None:
        """Start the server and wait until it answers; no-op when running."""
        if self.running:
            return
        path = shutil.which(self.binary)
        if path is None:
            raise self.error(f"{self.binary!r} not found on PATH: install it ({self.install_hint})")
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix=f"agentrt-{self.binary}-")
        self._proc = subprocess.Popen(
            self._arguments(path, self._dir.name),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                self._proc = None
                raise self.error(f"{self.binary} on port {self.port} exited: {err.strip()}")
            if self._answers():
                return
            time.sleep(0.01)
        self.stop()
        raise self.error(f"{self.binary} on port {self.port} did not answer in time")

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

    def __enter__(self) -> Self:
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
        return f"{type(self).__name__}(port={self.port}, {state})"

"""The MCP demo server (tests/tools/mcp_demo_server.py) as an HTTP server process on a
loopback port: streamable HTTP (optionally behind a bearer token) or the legacy HTTP+SSE
transport. Restartable on the same port (``stop`` then ``start``)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from agentrt.testing._server_process import free_port

DEMO = str(Path(__file__).parent.parent / "tools" / "mcp_demo_server.py")


class HttpServer:
    """``mode`` "http" (``/mcp``; ``token`` requires ``Authorization: Bearer <token>``)
    or "sse" (``/sse``)."""

    def __init__(self, mode: str = "http", token: str | None = None) -> None:
        self.mode = mode
        self.token = token
        self.port = free_port()
        path = "/sse" if mode == "sse" else "/mcp"
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [sys.executable, DEMO, self.mode, str(self.port)]
        if self.token is not None:
            args.append(self.token)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"MCP HTTP server exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("MCP HTTP server did not listen within 20 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

"""Test helpers for the LLM layer: the in-process mock provider, the mock HTTP server in
this event loop, and the mock HTTP server in its own process.

- :class:`~agentrt.llm.MockProvider`: a deterministic, scriptable in-process backend.
- :func:`~agentrt.llm.serve_mock_llm`: ``async with serve_mock_llm(config) as server``
  runs the OpenAI-compatible mock server on a free port of this loop (``server.url``,
  ``server.state`` for counters and scripted faults).
- :class:`MockLLMProcess`: the same server in its own process
  (``python -m agentrt.cli mock-llm``), for benchmarks and load tests where the server
  must not share the client's event loop or core.

Example::

    async with MockLLMProcess(latency_ms=50) as server:
        ...  # point a provider at server.url
        counters = await server.stats()
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import aiohttp

from agentrt.errors import AgentRTError
from agentrt.llm import MockProvider, MockServerConfig, serve_mock_llm

__all__ = ["MockLLMError", "MockLLMProcess", "MockProvider", "MockServerConfig", "serve_mock_llm"]


class MockLLMError(AgentRTError, RuntimeError):
    """The mock LLM server process did not start (its first line and stderr are quoted)."""


class MockLLMProcess:
    """Run ``agentrt mock-llm`` in a child process until :meth:`stop` (or the block) ends.

    Keyword flags become command-line options: ``latency_ms=50`` -> ``--latency-ms 50``,
    ``malformed="invalid_json"`` -> ``--malformed invalid_json``. ``port=0`` (default) lets
    the OS choose; :attr:`url` is known once :meth:`start` returned. ``start`` fails with
    RuntimeError when the server does not answer within ``startup_timeout_s`` (90 s: a
    loaded machine can take over 30 s to start a Python process).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float = 90.0,
        **flags: Any,
    ) -> None:
        self.host = host
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.flags = flags
        self.url = ""
        self._process: asyncio.subprocess.Process | None = None
        self._drains: list[asyncio.Task[None]] = []

    def command(self) -> list[str]:
        """The command line the child runs."""
        cmd = [sys.executable, "-m", "agentrt.cli", "mock-llm"]
        cmd += ["--host", self.host, "--port", str(self.port)]
        for key, value in self.flags.items():
            option = "--" + key.replace("_", "-")
            if value is True:
                cmd.append(option)
            elif value not in (None, False):
                cmd += [option, str(value)]
        return cmd

    async def start(self) -> str:
        """Spawn the server and wait until it answers ``GET /health``; returns the URL."""
        self._process = await asyncio.create_subprocess_exec(
            *self.command(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        assert self._process.stdout is not None
        try:
            async with asyncio.timeout(self.startup_timeout_s):
                line = (await self._process.stdout.readline()).decode().strip()
                if not line.startswith("mock-llm listening on "):
                    err = b""
                    if self._process.stderr is not None:
                        err = await self._process.stderr.read()
                    raise MockLLMError(f"mock-llm did not start: {line!r} {err.decode()[-500:]}")
                self.url = line.rsplit(" ", 1)[1]
                self._drain_pipes()
                await self._wait_healthy()
        except BaseException:
            await self.stop()
            raise
        return self.url

    def _drain_pipes(self) -> None:
        """Read the child's stdout and stderr to the end in the background: a long-lived
        server whose pipes nobody reads would block on its next write once the pipe's
        buffer (64 KiB) is full."""
        assert self._process is not None
        for pipe in (self._process.stdout, self._process.stderr):
            if pipe is not None:
                self._drains.append(asyncio.create_task(_discard(pipe)))

    async def _wait_healthy(self) -> None:
        health = self.url.removesuffix("/v1") + "/health"
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(health) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)

    async def stats(self) -> dict[str, Any]:
        """The server's counters (``GET /mock/stats``)."""
        return await self._call("GET", "/mock/stats")

    async def faults(self, *, fail_next: list[int | str] | None = None, **config: Any) -> None:
        """Script faults (``fail_next``) or change the server config at run time."""
        await self._call("POST", "/mock/faults", {"fail_next": fail_next or [], "config": config})

    async def reset(self) -> None:
        """Zero the server's counters, drop scripted faults and restart the seeded random
        ones (as on a fresh server)."""
        await self._call("POST", "/mock/reset", {})

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        url = self.url.removesuffix("/v1") + path
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, url, json=body) as response,
        ):
            response.raise_for_status()
            data: dict[str, Any] = await response.json()
            return data

    async def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after 5 s) and reap it."""
        process, self._process = self._process, None
        drains, self._drains = self._drains, []
        for task in drains:
            task.cancel()
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            async with asyncio.timeout(5):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def __aenter__(self) -> MockLLMProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


async def _discard(pipe: asyncio.StreamReader) -> None:
    while await pipe.read(65536):
        pass

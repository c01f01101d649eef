"""Cluster node processes for tests: ``agentrt node`` subprocesses, each in its own process
group, killed (the whole group) when the test ends, whatever happened.

Example::

    with NodeProcs(redis_url, prefix, latency_ms=200) as nodes:
        nodes.start("n0"); nodes.ready("n0", timeout=20)
        nodes.signal("n0", signal.SIGKILL)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from agentrt.loadtest._cluster_procs import wait_joined

__all__ = ["NodeProcs"]


class NodeProcs:
    """Node processes of one test cluster (``prefix`` namespaces every key)."""

    def __init__(
        self,
        redis_url: str,
        prefix: str,
        *,
        latency_ms: float = 0.0,
        ttl_ms: int = 400,
        renew_ms: int = 100,
        routes: tuple[str, ...] = ("k-=agentrt:Agent",),
        stats_ms: int = 2_000,
    ) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self.latency_ms = latency_ms
        self.ttl_ms = ttl_ms
        self.renew_ms = renew_ms
        self.routes = routes
        self.stats_ms = stats_ms
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._all: list[subprocess.Popen[bytes]] = []
        self._logs = Path(tempfile.mkdtemp(prefix="agentrt-nodes-"))

    def __enter__(self) -> NodeProcs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, node_id: str) -> None:
        """Start node ``node_id`` (its stderr goes to a log file: :meth:`log`)."""
        cmd = [
            sys.executable, "-m", "agentrt.cli", "node",
            "--redis", self.redis_url, "--cluster", "t", "--prefix", self.prefix + "cl:",
            "--store-prefix", self.prefix + "mem:", "--node-id", node_id,
            "--ttl-ms", str(self.ttl_ms), "--renew-ms", str(self.renew_ms),
            "--mock-latency-ms", str(self.latency_ms), "--stats-ms", str(self.stats_ms),
        ]  # fmt: skip
        for route in self.routes:
            cmd += ["--route", route]
        err = open(self._logs / f"{node_id}.log", "ab")  # noqa: SIM115 (owned by the child)
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, start_new_session=True, env=os.environ.copy()
        )
        err.close()
        self.procs[node_id] = proc
        self._all.append(proc)

    def ready(self, node_id: str, timeout: float) -> None:
        """Wait until node ``node_id`` printed that it joined (``TimeoutError`` after
        ``timeout`` s; ``RuntimeError`` when it exited)."""
        wait_joined(self.procs[node_id], node_id, timeout, lambda: self.log(node_id))

    def signal(self, node_id: str, sig: int) -> None:
        """Send ``sig`` to node ``node_id``'s process group."""
        os.killpg(self.procs[node_id].pid, sig)

    def reap(self, node_id: str, timeout: float = 10.0) -> None:
        """Wait for killed node ``node_id`` to be gone."""
        self.procs[node_id].wait(timeout=timeout)

    def log(self, node_id: str) -> str:
        """What node ``node_id`` wrote to stderr (all its incarnations)."""
        return (self._logs / f"{node_id}.log").read_text(errors="replace")

    def close(self) -> None:
        """SIGKILL every process group started (a paused one too), reap them, delete the
        logs."""
        for proc in self._all:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self._all:
            try:
                proc.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                pass
            if proc.stdout is not None:
                proc.stdout.close()
        shutil.rmtree(self._logs, ignore_errors=True)

"""The processes of a ``[cluster]`` run: its redis-server, its ``agentrt node`` processes
and the load generator, each in its own process group, all stopped by :meth:`close`
(SIGKILL to every group still there, a paused one too), whatever happened.

Node stderr goes to ``<workdir>/<node>.log``; a node is ready once it printed
``joined cluster`` (``TimeoutError`` after the spec's ``join_timeout``,
``RuntimeError`` naming its log's tail when it exited first).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from agentrt.loadtest._cluster_spec import ClusterSpec
from agentrt.testing._redis_server import RedisServer

__all__ = ["ClusterProcs", "DurableRedisServer"]


class DurableRedisServer(RedisServer):
    """A :class:`RedisServer` that keeps its data across a stop and a start (an
    append-only file, fsync'ed at every write): a restart, not a wipe."""

    def _arguments(self, path: str, directory: str) -> list[str]:
        args = super()._arguments(path, directory)
        at = args.index("--appendonly")
        args[at + 1] = "yes"
        return [*args, "--appendfsync", "always"]


class ClusterProcs:
    """Node processes of one run (``spec`` names the cluster, ``redis_url`` its Redis)."""

    def __init__(
        self, spec: ClusterSpec, redis_url: str, workdir: Path, mock_latency_s: float
    ) -> None:
        self.spec = spec
        self.redis_url = redis_url
        self.workdir = workdir
        self.mock_latency_ms = mock_latency_s * 1000
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}
        self.started: list[subprocess.Popen[bytes]] = []
        self._count = 0

    def start_node(self, node_id: str | None = None) -> str:
        """Start one more node (ids ``node-1``, ``node-2``...), or node ``node_id`` again
        (a restart: it joins with a new epoch); its id."""
        if node_id is None:
            self._count += 1
            node_id = f"node-{self._count}"
        spec = self.spec
        cmd = [
            sys.executable, "-m", "agentrt.cli", "node", "--redis", self.redis_url,
            "--cluster", spec.name, "--prefix", spec.prefix, "--store-prefix", spec.store_prefix,
            "--node-id", node_id, "--ttl-ms", str(round(float(spec.ttl) * 1000)),
            "--renew-ms", str(round(float(spec.renew) * 1000)),
            "--mock-latency-ms", str(self.mock_latency_ms),
            "--route", f"{spec.agent_prefix}={spec.agent_class}",
            "--parent-pid", str(os.getpid()),  # it exits when this process dies
        ]  # fmt: skip
        if spec.rebalance is not None:
            rebalance = round(float(spec.rebalance) * 1000)
            cmd += ["--rebalance-ms", str(rebalance)] if rebalance else ["--no-rebalance"]
        with open(self.workdir / f"{node_id}.log", "ab") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, start_new_session=True)
        self.nodes[node_id] = proc
        self.started.append(proc)
        return node_id

    def ready(self, node_id: str) -> None:
        """Block until ``node_id`` joined (module docs)."""
        wait_joined(
            self.nodes[node_id], node_id, float(self.spec.join_timeout), lambda: self.log(node_id)
        )

    def log(self, node_id: str) -> str:
        """What node ``node_id`` wrote to stderr."""
        path = self.workdir / f"{node_id}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def signal(self, node_id: str, sig: int) -> None:
        """Send ``sig`` to node ``node_id``'s process group."""
        os.killpg(self.nodes[node_id].pid, sig)

    def kill(self, node_id: str) -> None:
        """SIGKILL node ``node_id``, reap it, forget it."""
        proc = self.nodes.pop(node_id)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10.0)

    def drain(self, node_id: str) -> None:
        """SIGTERM node ``node_id`` (it drains, then exits), wait for it to exit (within
        the spec's ``join_timeout``: ``TimeoutError`` naming it), forget it."""
        proc = self.nodes[node_id]
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            code = proc.wait(timeout=float(self.spec.join_timeout))
        except subprocess.TimeoutExpired:
            raise TimeoutError(
                f"node {node_id} did not drain and exit within {float(self.spec.join_timeout):g} s"
            ) from None
        del self.nodes[node_id]
        if code != 0:
            raise RuntimeError(
                f"node {node_id} exited {code} on drain: {self.log(node_id)[-2000:]}"
            )

    def exited_on_their_own(self) -> list[str]:
        """Nodes (not killed by a fault) whose process is gone."""
        return [n for n, proc in self.nodes.items() if proc.poll() is not None]

    def close(self) -> None:
        """SIGKILL every process group started here and reap them all."""
        stop_all(self.started)


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGKILL the process group of each of ``procs`` still running (paused ones too),
    then reap them (10 s each at most)."""
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for proc in procs:
        try:
            proc.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            pass
        if proc.stdout is not None:
            proc.stdout.close()


def wait_joined(
    proc: subprocess.Popen[bytes], node_id: str, timeout: float, log: Callable[[], str]
) -> None:
    """Block until the ``agentrt node`` process ``proc`` printed that it joined its cluster:
    ``TimeoutError`` after ``timeout`` s, ``RuntimeError`` quoting the end of ``log()``
    (its stderr) when it exited first."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"node {node_id} did not join within {timeout:g} s")
            if sel.select(left):
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"node {node_id} exited: {log()[-2000:]}")
                if b"joined cluster" in line:
                    return

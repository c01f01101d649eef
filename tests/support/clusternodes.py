"""Cluster node processes for tests: ``agentrt node`` processes, each in its own session
and process group, all SIGKILLed when the test ends, whatever happened.

The nodes are forked by one zygote per :class:`NodeProcs` (``support/nodezygote.py``),
which imported the node's modules once: a node costs its own start (a fork, a runtime, a
join), not ~1 CPU-s of imports. Each node is still a process of its own running
``agentrt.cli.main(["node", ...])``; it exits when the test process dies (the zygote
SIGKILLs its nodes when its stdin closes, and each node watches its parent:
``--parent-pid``).

Example::

    with NodeProcs(redis_url, prefix, latency_ms=200) as nodes:
        nodes.start("n0"); nodes.ready("n0", timeout=20)
        nodes.signal("n0", signal.SIGKILL)
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["NodeProcs"]

_ZYGOTE = Path(__file__).with_name("nodezygote.py")


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
        self.procs: dict[str, int] = {}  # node id -> pid of its latest incarnation
        self._started: list[int] = []  # every incarnation's pid
        self._gone: set[int] = set()  # pids seen exited: never signalled again
        self._offsets: dict[str, int] = {}  # where its latest incarnation's log starts
        self._logs = Path(tempfile.mkdtemp(prefix="agentrt-nodes-"))
        self._zygote: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> NodeProcs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fork(self, argv: list[str], log: Path) -> int:
        assert self._zygote is not None
        assert self._zygote.stdin is not None
        self._zygote.stdin.write(json.dumps({"argv": argv, "log": str(log)}).encode() + b"\n")
        self._zygote.stdin.flush()
        answer = self._answer(30.0)
        if not answer.isdigit():
            raise RuntimeError(f"node zygote did not fork: {answer!r} {self._zygote_log()}")
        return int(answer)

    def _ensure_zygote(self) -> int:
        """The zygote's pid (started on first use)."""
        if self._zygote is None:
            with open(self._logs / "zygote.log", "ab") as err:
                self._zygote = subprocess.Popen(
                    [sys.executable, str(_ZYGOTE)], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=err, start_new_session=True,
                )  # fmt: skip
            if self._answer(60.0) != b"zygote ready":
                raise RuntimeError(f"node zygote did not start: {self._zygote_log()}")
        assert self._zygote.poll() is None, self._zygote_log()
        return self._zygote.pid

    def _answer(self, timeout: float) -> bytes:
        assert self._zygote is not None
        assert self._zygote.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._zygote.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise TimeoutError(f"node zygote silent for {timeout:g} s")
        return self._zygote.stdout.readline().strip()

    def _zygote_log(self) -> str:
        return (self._logs / "zygote.log").read_text(errors="replace")[-2000:]

    def start(self, node_id: str) -> None:
        """Start node ``node_id`` (its stdout and stderr go to a log file: :meth:`log`)."""
        zygote = self._ensure_zygote()
        argv = [
            "node", "--redis", self.redis_url, "--cluster", "t", "--prefix", self.prefix + "cl:",
            "--store-prefix", self.prefix + "mem:", "--node-id", node_id,
            "--ttl-ms", str(self.ttl_ms), "--renew-ms", str(self.renew_ms),
            "--mock-latency-ms", str(self.latency_ms), "--stats-ms", str(self.stats_ms),
            "--parent-pid", str(zygote),
        ]  # fmt: skip
        for route in self.routes:
            argv += ["--route", route]
        log = self._logs / f"{node_id}.log"
        log.touch()
        self._offsets[node_id] = log.stat().st_size
        pid = self._fork(argv, log)
        self.procs[node_id] = pid
        self._started.append(pid)

    def alive(self, node_id: str) -> bool:
        """Whether node ``node_id``'s latest incarnation still runs (a paused one does)."""
        return self._alive(self.procs[node_id])

    def _alive(self, pid: int) -> bool:
        if pid in self._gone:
            return False
        try:
            os.kill(pid, 0)  # the zygote reaps its children at once (SIGCHLD)
        except ProcessLookupError:
            self._gone.add(pid)
            return False
        return True

    def start_all(self, node_ids: Iterable[str], timeout: float = 30.0) -> None:
        """Start every node of ``node_ids``, then wait until each joined (:meth:`ready`)."""
        ids = list(node_ids)
        for node_id in ids:
            self.start(node_id)
        for node_id in ids:
            self.ready(node_id, timeout)

    def ready(self, node_id: str, timeout: float) -> None:
        """Wait until node ``node_id`` printed that it joined (``TimeoutError`` after
        ``timeout`` s; ``RuntimeError`` quoting its log when it exited)."""
        deadline = time.monotonic() + timeout
        while True:
            with open(self._logs / f"{node_id}.log", "rb") as f:
                f.seek(self._offsets[node_id])
                if b"joined cluster" in f.read():
                    return
            if not self.alive(node_id):
                raise RuntimeError(f"node {node_id} exited: {self.log(node_id)[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {node_id} did not join within {timeout:g} s")
            time.sleep(0.02)

    def signal(self, node_id: str, sig: int) -> None:
        """Send ``sig`` to node ``node_id``'s process group."""
        pid = self.procs[node_id]
        assert pid not in self._gone, f"node {node_id} already exited"
        os.killpg(pid, sig)

    def reap(self, node_id: str, timeout: float = 10.0) -> None:
        """Wait for killed node ``node_id`` to be gone (``TimeoutError`` after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while self.alive(node_id):
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {node_id} still runs after {timeout:g} s")
            time.sleep(0.01)

    def log(self, node_id: str) -> str:
        """What node ``node_id`` wrote to stdout and stderr (all its incarnations)."""
        return (self._logs / f"{node_id}.log").read_text(errors="replace")

    def close(self) -> None:
        """SIGKILL every node started (a paused one too), wait until they are gone, stop
        the zygote, delete the logs."""
        pids = [pid for pid in self._started if self._alive(pid)]
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10.0
        while any(self._alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._zygote is not None:
            assert self._zygote.stdin is not None
            assert self._zygote.stdout is not None
            self._zygote.stdin.close()  # it SIGKILLs any node left and exits
            try:
                self._zygote.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                os.killpg(self._zygote.pid, signal.SIGKILL)
                self._zygote.wait(timeout=10.0)
            self._zygote.stdout.close()
        shutil.rmtree(self._logs, ignore_errors=True)

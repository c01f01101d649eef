"""``agentrt cluster up``: N node processes, a crashed one restarted, all stopped on SIGTERM."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time

import redis

_STARTED = re.compile(r"^agentrt cluster: node (\S+) pid (\d+)$")


def _starts(proc: subprocess.Popen[bytes], want: int, timeout: float) -> list[tuple[str, int]]:
    """The next ``want`` "node ID pid PID" lines of ``cluster up`` (the nodes' own lines,
    on the same stdout, are skipped)."""
    assert proc.stdout is not None
    out: list[tuple[str, int]] = []
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while len(out) < want:
            left = deadline - time.monotonic()
            assert left > 0, f"only {out} within {timeout} s"
            if sel.select(left):
                line = proc.stdout.readline().decode()
                assert line, f"cluster up exited: {out}"
                match = _STARTED.match(line.strip())
                if match:
                    pid = int(match.group(2))
                    assert pid > 1
                    out.append((match.group(1), pid))
    return out


def _alive(client: redis.Redis, key: str) -> int:
    import json

    members = client.hgetall(key)
    return sum(
        1
        for k, v in members.items()
        if k.startswith(b"node:") and json.loads(v)["status"] == "alive"
    )


def _cluster_up(url: str, prefix: str, cluster: str, *, nodes: int) -> subprocess.Popen[bytes]:
    """``agentrt cluster up`` of ``nodes`` nodes with a short TTL, in its own session."""
    cmd = [
        sys.executable, "-m", "agentrt.cli", "cluster", "up", "--nodes", str(nodes),
        "--redis", url, "--cluster", cluster, "--prefix", prefix,
        "--store-prefix", prefix + "mem:", "--ttl-ms", "400", "--renew-ms", "100",
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, start_new_session=True)


def test_cluster_up_restarts_a_crashed_node_and_stops_all(
    redis_url: str, redis_prefix: str
) -> None:
    up = _cluster_up(redis_url, redis_prefix, "up", nodes=2)
    pids: list[int] = []
    client = redis.Redis.from_url(redis_url)
    members = f"{redis_prefix}up:{{members}}"
    try:
        pids += [pid for _, pid in _starts(up, 2, 20)]
        assert len(pids) == 2
        deadline = time.monotonic() + 30
        while _alive(client, members) < 2:
            assert time.monotonic() < deadline, "2 nodes did not join"
            time.sleep(0.05)
        os.killpg(pids[0], signal.SIGKILL)
        ((node, pid),) = _starts(up, 1, 20)  # the replacement
        assert node == "up-1"
        pids.append(pid)
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=20) == 0
        for pid in pids[1:]:  # every node stopped with it
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError(f"node pid {pid} still running")
    finally:
        for pid in [up.pid, *pids]:
            if pid <= 1:
                continue
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        up.wait(timeout=10)
        if up.stdout is not None:
            up.stdout.close()
        client.close()


def _gone(pid: int) -> bool:
    """Whether ``pid`` exited (a zombie its new parent did not reap yet counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_node_exits_when_cluster_up_is_killed(redis_url: str, redis_prefix: str) -> None:
    up = _cluster_up(redis_url, redis_prefix, "orphan", nodes=1)
    pids: list[int] = []
    client = redis.Redis.from_url(redis_url)
    try:
        pids += [pid for _, pid in _starts(up, 1, 20)]
        deadline = time.monotonic() + 30
        while _alive(client, f"{redis_prefix}orphan:{{members}}") < 1:
            assert time.monotonic() < deadline, "the node did not join"
            time.sleep(0.05)
        os.kill(up.pid, signal.SIGKILL)  # no chance to stop its node
        up.wait(timeout=10)
        deadline = time.monotonic() + 30
        while not _gone(pids[0]):
            assert time.monotonic() < deadline, "the node outlived its killed parent"
            time.sleep(0.05)
    finally:
        for pid in [up.pid, *pids]:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        up.wait(timeout=10)
        if up.stdout is not None:
            up.stdout.close()
        client.close()

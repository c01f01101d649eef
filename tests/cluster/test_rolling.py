"""``agentrt cluster restart --rolling`` under load: 3 nodes of ``agentrt cluster up``
restarted one at a time (each drained, started again, rejoined) while a client node in
this process keeps asking; no turn fails, every conversation holds each turn once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from support.clusterload import TurnLoad, logs_once

from agentrt import Runtime, RuntimeConfig
from agentrt.cli import main
from agentrt.cluster import ClusterConfig
from agentrt.runtime._config import StoreConfig


@pytest.fixture
async def up(redis_url: str, redis_prefix: str, tmp_path: Path) -> AsyncIterator[list[str]]:
    """``cluster up --nodes 3``; the flags ``restart`` needs to find it."""
    where = ["--redis", redis_url, "--cluster", "roll", "--prefix", redis_prefix + "cl:",
             "--state-dir", str(tmp_path)]  # fmt: skip
    cmd = [sys.executable, "-m", "agentrt.cli", "cluster", "up", "--nodes", "3", *where,
           "--store-prefix", redis_prefix + "mem:", "--ttl-ms", "1000", "--renew-ms", "100",
           "--route", "k-=agentrt:Agent", "--mock-latency-ms", "20"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        yield where
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        client = aioredis.Redis.from_url(redis_url)
        try:  # every node stopped with it: none renews its liveness any more
            keys = [k async for k in client.scan_iter(match=f"{redis_prefix}cl:roll:*alive*")]
            for _ in range(100):
                if not keys or not await client.exists(*keys):
                    break
                await asyncio.sleep(0.1)
            assert not keys or not await client.exists(*keys), "a node outlived cluster up"
        finally:
            await client.aclose()


async def test_rolling_restart_of_three_nodes_under_load_fails_no_turn(
    up: list[str], redis_url: str, redis_prefix: str
) -> None:
    cluster = ClusterConfig(
        name="roll", redis_url=redis_url, prefix=redis_prefix + "cl:", node_id="caller",
        ttl_ms=2_000, renew_ms=100, placeable=False,
    )  # fmt: skip
    store = StoreConfig(kind="redis", url=redis_url, prefix=redis_prefix + "mem:")
    async with Runtime(RuntimeConfig(store=store), cluster=cluster) as rt:
        node = rt.directory.cluster  # type: ignore[attr-defined]
        await node.membership.wait_for(4, timeout=60)
        ids = [f"k-{i}" for i in range(30)]
        load = TurnLoad([rt], ids, workers=3)  # always turns in flight, at a bounded rate
        try:
            async with asyncio.timeout(240):
                while load.answered < 60:
                    await asyncio.sleep(0.05)
                code = await asyncio.to_thread(main, ["cluster", "restart", "--rolling", *up])
                assert code == 0
                answered = load.answered
                while load.answered < answered + 60:
                    await asyncio.sleep(0.05)
            await load.stop()
            view = await node.membership.members()
            restarted = [m for m in view.alive() if m.node_id.startswith("roll-")]
            assert len(restarted) == 3
            assert all(m.epoch > 4 for m in restarted)  # each joined again, after the caller
            assert load.failed == []
            await logs_once(rt, load)
        finally:
            await load.stop()


def test_restart_needs_rolling_and_a_running_cluster_up(tmp_path: Path) -> None:
    where = ["--cluster", "none", "--state-dir", str(tmp_path)]
    assert main(["cluster", "restart", *where]) == 2
    assert main(["cluster", "restart", "--rolling", *where]) == 1

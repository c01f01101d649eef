"""A load scenario with the tool cache on a real memcached, alone and as the second
level of ``two_level``: the runs' lookups are read and written there (memcached's own
counters say so). The mock LLM server runs in its own process; nothing here asserts a
timing figure."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from agentrt.cli._loadtest import read_scenario
from agentrt.loadtest import run_scenario
from agentrt.loadtest._environment import run_environment
from agentrt.testing import MemcachedServer, memcached_answers

SHORT = """
name = "memcached-{which}"
turn_timeout = "10s"
[agents]
count = 5
turns = 4
[think_time]
mean = "10ms"
[tools]
mix = {{ lookup = 1.0 }}
keys = 3
[llm.mock]
latency = "5ms"
[runtime]
{runtime}
"""


def scenario_file(tmp_path: Path, runtime: str) -> str:
    path = tmp_path / "short.toml"
    path.write_text(SHORT.format(which=uuid.uuid4().hex[:8], runtime=runtime))
    return str(path)


async def counters(server: MemcachedServer) -> dict[str, int]:
    """memcached's ``stats`` counters (cmd_get, cmd_set, get_hits, ...)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"stats\r\n")
        raw = await reader.readuntil(b"END\r\n")
    finally:
        writer.close()
        await writer.wait_closed()
    found: dict[str, int] = {}
    for line in raw.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "STAT" and parts[2].isdigit():
            found[parts[1]] = int(parts[2])
    return found


@pytest.mark.parametrize(
    "runtime",
    ['cache = "memcached"', 'cache = "two_level"\nl2 = "memcached"'],
    ids=["memcached", "two_level"],
)
async def test_a_scenario_caches_tool_results_on_memcached(
    tmp_path: Path, own_memcached: MemcachedServer, runtime: str
) -> None:
    text = f'{runtime}\nmemcached_url = "{own_memcached.url}"'
    scenario = read_scenario(scenario_file(tmp_path, text), {})
    report = (await run_scenario(scenario)).report
    account = report["accounting"]
    assert account["reconciled"], account
    assert account["sent"] == account["answered"] > 0
    assert report["figures"]["cache_hit_ratio"] > 0  # 3 keys, 20 lookups: repeats hit
    stats = await counters(own_memcached)
    assert stats["cmd_set"] > 0  # the results were written to memcached
    assert stats["cmd_get"] > 0


async def test_the_runner_starts_a_memcached_when_the_scenario_names_none(
    tmp_path: Path,
) -> None:
    path = scenario_file(tmp_path, 'cache = "two_level"\nl2 = "memcached"')
    scenario = read_scenario(path, {})
    async with run_environment(scenario) as env:
        cache = env.runtime.cache
        host_port = cache.memcached.url.removeprefix("memcached://")
        port = int(host_port.rsplit(":", 1)[1])
        assert (cache.kind, cache.l2) == ("two_level", "memcached")
        assert await asyncio.to_thread(memcached_answers, "127.0.0.1", port)
    assert not await asyncio.to_thread(memcached_answers, "127.0.0.1", port)  # stopped

"""A scenario's Redis password appears in no report, log line or printed output
(issue 13 §5). A real run against the real Redis: the URL carries credentials that
Redis accepts (the default user has no password, so ``AUTH default <anything>`` passes)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from agentrt.cli import main
from agentrt.cli._loadtest import read_scenario

SECRET = "PW-" + uuid.uuid4().hex


SCENARIO = """
name = "{name}"
turn_timeout = "10s"
[agents]
count = 3
turns = 2
[think_time]
mean = "10ms"
[llm.mock]
latency = "5ms"
[runtime]
store = "redis"
cache = "redis"
redis_url = "{url}"
"""


async def _cleanup(url: str, pattern: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=pattern, count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def test_scenario_redis_password_is_nowhere(
    tmp_path: Path,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_url = redis_url.replace("redis://", f"redis://default:{SECRET}@", 1)
    name = f"secret-{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.toml"
    path.write_text(SCENARIO.format(name=name, url=secret_url))
    scenario = read_scenario(str(path), {})
    assert SECRET not in repr(scenario)
    assert SECRET not in json.dumps(scenario.as_dict())
    out_dir = tmp_path / "out"
    try:
        with caplog.at_level(logging.DEBUG):
            code = main(["loadtest", "run", str(path), "--no-live", "--out", str(out_dir)])
    finally:
        asyncio.run(_cleanup(redis_url, f"agentrt:loadtest:{os.getpid()}:{name}:*"))
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    [report_path] = out_dir.glob("*.json")
    [html_path] = out_dir.glob("*.html")
    report = json.loads(report_path.read_text())
    assert report["scenario"]["settings"]["runtime"]["redis_url"].startswith("redis://default:***@")
    assert report["accounting"]["answered"] > 0  # the credentials were used for real
    for text in (report_path.read_text(), html_path.read_text(), printed.out, printed.err):
        assert SECRET not in text
    assert SECRET not in caplog.text

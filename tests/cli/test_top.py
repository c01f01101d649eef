"""``agentrt top`` against a running runtime's endpoint, and the demo that exposes one."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from support.agents import Helper, fast_config
from support.waiting import eventually

from agentrt._demo import DemoResult, run_demo
from agentrt.cli import build_parser, main
from agentrt.cli._top import Frame, render, run_top
from agentrt.runtime import EndpointConfig, Runtime, RuntimeConfig, TelemetryConfig

ROOT = Path(__file__).resolve().parents[2]
TOKEN_ENV = "AGENTRT_TEST_TOP_TOKEN"
SECRET = "top-secret-token"


def with_endpoint(endpoint: EndpointConfig | None = None) -> RuntimeConfig:
    return replace(fast_config(), telemetry=TelemetryConfig(endpoint=endpoint or EndpointConfig()))


async def populate(rt: Runtime) -> None:
    for agent_id in ("quiet", "busy", "other"):
        await rt.spawn(Helper, id=agent_id)
    for _ in range(3):
        await rt.ask("busy", "hello")
    await rt.ask("other", "hi")


@pytest.fixture
async def rt() -> AsyncIterator[Runtime]:
    async with Runtime(with_endpoint()) as runtime:
        await populate(runtime)
        yield runtime


async def agentrt(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``python -m agentrt.cli ARGS`` without blocking the loop serving the endpoint."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentrt.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None), buffer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed: nothing listens there


async def test_top_once_shows_the_summary_and_the_sorted_agents(rt: Runtime) -> None:
    assert rt.endpoint_url is not None
    code, out, err = await agentrt(
        "top", "--url", rt.endpoint_url, "--once", "--sort", "turns", "--limit", "2"
    )
    assert (code, err) == (0, "")
    assert f"agentrt top · {rt.endpoint_url}" in out
    for label in ("uptime", "agents live / passivated", "turns ok / failed", "RSS",
                  "turn p50 / p95 / p99 (recent)", "memory op p99", "loop lag", "LLM queue",
                  "cache hit ratio", "restarts"):  # fmt: skip
        assert label in out, label
    assert re.search(r"agents live / passivated\s+3 / 0 of 3", out)
    assert re.search(r"turns ok / failed\s+4 / 0", out)
    assert "✓ response_p95_s" in out
    assert "✓ bytes_per_agent" in out
    assert "agents by turns: 2 of 3" in out
    assert "turns ▼" in out
    table = out[out.index("agents by turns") :]
    assert table.index("busy") < table.index("other")
    assert "quiet" not in table  # --limit 2


async def test_top_needs_the_token_when_the_endpoint_has_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, SECRET)
    async with Runtime(with_endpoint(EndpointConfig(token_env=TOKEN_ENV))) as rt:
        await populate(rt)
        url = rt.endpoint_url
        assert url is not None
        code, out, err = await agentrt("top", "--url", url, "--once", "--token-env", TOKEN_ENV)
        assert (code, err) == (0, "")
        assert "agents by p95: 3 of 3" in out
        code, out, err = await agentrt("top", "--url", url, "--once")
        assert code == 1
        assert out == ""
        assert err.count("\n") == 1
        assert "401" in err
        assert "--token-env" in err
        code, _, err = await agentrt("top", "--url", url, "--once", "--token-env", "NOPE_UNSET")
        assert code == 2
        assert "'NOPE_UNSET' is not set" in err
    assert all(SECRET not in text for text in (out, err))


async def test_top_says_when_nothing_listens(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code = await run_top(url, once=True, console=console()[0])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"agentrt top: cannot reach {url}")
    assert err.count("\n") == 1


async def test_top_shows_one_agent_in_detail(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rt.endpoint_url is not None
    view, buffer = console()
    assert await run_top(rt.endpoint_url, agent="busy", once=True, console=view) == 0
    out = buffer.getvalue()
    assert "agent busy" in out
    assert re.search(r"turns / errors\s+│\s+3 / 0", out)
    assert re.search(r"state\s+│\s+idle", out)
    assert "tokens in / out" in out
    # the LLM pool reported the three turns' requests into the same per-agent record
    assert re.search(r"LLM requests / retries\s+│\s+3 / 0", out)
    assert "bytes held" in out
    assert "last turn" in out
    assert "agents by" not in out  # the detail view replaces the table
    assert await run_top(rt.endpoint_url, agent="nobody", once=True, console=view) == 1
    err = capsys.readouterr().err
    assert "404" in err
    assert "no agent 'nobody'" in err


async def test_the_live_view_refreshes_until_the_endpoint_goes_away(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rt = Runtime(with_endpoint())
    await rt.start()
    try:
        await populate(rt)
        url = rt.endpoint_url
        assert url is not None
        endpoint = rt.services.get("endpoint")
        view, _ = console()
        watching = asyncio.create_task(run_top(url, interval=0.1, console=view))
        await eventually(  # until three frames (two requests each) were served
            lambda: endpoint.stats()["requests"] >= 6 or watching.done(), what="three frames"
        )
        assert not watching.done()
        assert endpoint.stats()["statuses"] == {"200": endpoint.stats()["requests"]}
    finally:
        await rt.aclose()
    assert await watching == 1
    err = capsys.readouterr().err
    assert err.startswith(f"agentrt top: cannot reach {url}")


def test_render_tolerates_missing_figures() -> None:
    view, buffer = console()
    frame = Frame(url="http://x", summary={}, agents={"agents": [{"id": "a"}]})
    view.print(render(frame))
    out = buffer.getvalue()
    assert "none configured" in out
    assert "│ a " in out
    assert " - " in out


def test_argument_errors() -> None:
    parser = build_parser()
    for bad in (["--limit", "0"], ["--sort", "colour"], ["--interval", "0"]):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(["top", "--url", "http://127.0.0.1:1", *bad])
        assert info.value.code == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["top"])  # --url or --cluster is required
    with pytest.raises(SystemExit):
        parser.parse_args(["top", "--url", "http://127.0.0.1:1", "--cluster"])  # not both


def test_demo_refuses_an_open_endpoint_without_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["demo", "--agents", "1", "--endpoint-port", "0", "--endpoint-host", "0.0.0.0"]
    assert main(args) == 2
    assert "not a loopback address" in capsys.readouterr().out


async def test_demo_serves_the_endpoint_that_top_watches() -> None:
    log, buffer = console()
    seen: list[str] = []

    async def check(result: DemoResult) -> None:  # the runtime is still up
        url = re.search(r"introspection endpoint: (http://127\.0\.0\.1:\d+)", buffer.getvalue())
        assert url is not None
        view, frame = console()
        assert await run_top(url.group(1), once=True, sort="turns", console=view) == 0
        seen.append(frame.getvalue())

    result = await run_demo(
        agents=4, turns=2, llm_latency_ms=1, crashes=0, think_ms=0, live=False,
        console=log, endpoint=EndpointConfig(), after=check,
    )  # fmt: skip
    assert result.lost == 0
    assert "agents by turns: 4 of 4" in seen[0]
    assert re.search(r"turns ok / failed\s+8 / 0", seen[0])


async def test_the_documented_pair_of_commands() -> None:
    """``agentrt demo --endpoint-port ... --hold`` then ``agentrt top --url ... --once``."""
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agentrt.cli", "demo", "--agents", "5", "--turns", "2",
        "--llm-latency-ms", "1", "--think-ms", "0", "--crashes", "0", "--no-live",
        "--endpoint-port", "0", "--hold",
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert demo.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):  # a guard against a hang, not a measurement
            while not any("holding the runtime open" in line for line in lines):
                line = (await demo.stdout.readline()).decode()
                assert line, f"the demo ended early: {lines}"
                lines.append(line)
        match = re.search(r"introspection endpoint: (\S+)", "".join(lines))
        assert match is not None
        code, out, err = await agentrt("top", "--url", match.group(1), "--once")
        assert (code, err) == (0, "")
        assert "agents by p95: 5 of 5" in out
    finally:
        if demo.returncode is None:
            demo.send_signal(signal.SIGINT)
        await demo.communicate()
    assert demo.returncode == 0  # Ctrl-C ends a held demo cleanly


async def test_top_refuses_an_oversized_answer_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # whatever --url points at, top never reads more than MAX_BODY_BYTES of one answer
    from aiohttp import web

    from agentrt.cli import _top as top

    monkeypatch.setattr(top, "MAX_BODY_BYTES", 4096)
    sent: list[int] = []

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"x": "')
        for _ in range(64):  # 64 x 1 KiB, never finished: top must stop early
            await response.write(b"a" * 1024)
            sent.append(1024)
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", huge)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        code = await run_top(f"http://127.0.0.1:{port}", once=True, console=console()[0])
    finally:
        await runner.cleanup()
    assert code == 1
    err = capsys.readouterr().err
    assert "answered more than 4,096 bytes" in err
    assert err.count("\n") == 1


async def test_top_cluster_fails_clearly_when_redis_cannot_be_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from agentrt.cli._topcluster import run_cluster_top

    code = await run_cluster_top("redis://:secret@127.0.0.1:1/0", name="x", once=True, timeout=2)
    err = capsys.readouterr().err
    assert code == 1
    assert "cannot read cluster 'x' at redis://" in err
    assert "secret" not in err
    assert await run_cluster_top("http://nope", once=True) == 2
    assert "redis_url" in capsys.readouterr().err

"""``agentrt demo`` at the command line: configuration layers, failures a user must see,
bad numbers, Ctrl-C and a busy port (real subprocesses, real sockets)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agentrt.cli import build_parser
from agentrt.cli._demo import load_demo_config

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AGENTRT_")}


def _demo(*argv: str) -> list[str]:
    return ["demo", "--no-live", "--agents", "3", "--turns", "1", "--crashes", "0", *argv]


def test_an_agentrt_variable_no_longer_drops_the_flags() -> None:
    args = build_parser().parse_args(["demo", "--llm-url", "http://127.0.0.1:1/v1"])
    layered = load_demo_config(args, {"AGENTRT_NAME": "foo"})
    assert layered.config.name == "foo"
    provider = layered.config.llm.providers[0]
    assert (provider.kind, provider.base_urls) == ("openai", ("http://127.0.0.1:1/v1",))
    assert layered.source("llm.providers") == "flag"


def test_a_file_overrides_the_demo_settings_and_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "agentrt.toml"
    path.write_text('[agents]\nmax_restarts = 7\n[[llm.providers]]\nname = "f"\nkind = "mock"\n')
    args = build_parser().parse_args(["demo", "--config", str(path), "--agents", "4"])
    layered = load_demo_config(args, {})
    assert layered.config.llm.providers[0].name == "f"
    assert layered.config.agents.max_restarts == 7
    assert layered.config.agents.idle_timeout_s is None  # the demo's own setting, kept
    args = build_parser().parse_args(["demo", "--config", str(path), "--llm-latency-ms", "5"])
    provider = load_demo_config(args, {}).config.llm.providers[0]
    assert (provider.name, provider.mock_latency_ms) == ("mock", 5.0)


@pytest.mark.parametrize(
    "argv",
    [
        ["--think-ms", "nan"],
        ["--llm-latency-ms", "inf"],
        ["--think-ms", "-1"],
        ["--agents", "0"],
        ["--endpoint-port", "-1"],
        ["--crashes", "-2"],
    ],
)
def test_bad_numbers_are_refused_at_the_flag(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["demo", *argv])
    assert info.value.code == 2


def _run(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentrt.cli", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=_env(),
    )


def test_an_unreachable_llm_fails_the_run_and_says_why() -> None:
    result = _run(*_demo("--llm-url", "http://127.0.0.1:1/v1"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 answered, 3 failed" in result.stdout
    assert "failed: TurnFailed (3 turns), first:" in result.stdout
    assert "ProviderUnavailable" in result.stdout  # the cause, by type
    assert "Traceback" not in result.stderr


def test_a_busy_endpoint_port_is_one_clean_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run(*_demo("--endpoint-port", str(port)))
    assert result.returncode == 2
    assert "Address already in use" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert all(len(line) < 600 for line in result.stderr.splitlines())


async def _spawn(*argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentrt.cli",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=_env(),
    )


async def test_ctrl_c_prints_one_line_and_exits_130() -> None:
    proc = await _spawn(*_demo("--agents", "200", "--turns", "1000", "--endpoint-port", "0"))
    try:
        assert proc.stdout is not None
        # The endpoint line is printed once the runtime is up and agents are spawning.
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert b"introspection endpoint" in line
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130, err.decode()
    assert out.decode().strip().endswith("interrupted")
    assert b"Traceback" not in err + out


async def test_a_server_answering_401_fails_the_run_and_says_why() -> None:
    from aiohttp import web

    async def unauthorized(request: web.Request) -> web.Response:
        body = {"error": {"message": "invalid api key", "type": "invalid_request_error"}}
        return web.json_response(body, status=401)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", unauthorized)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        proc = await _spawn(*_demo("--llm-url", f"http://127.0.0.1:{port}/v1"))
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        await runner.cleanup()
    text = out.decode()
    assert proc.returncode == 1, text + err.decode()
    assert "failed: TurnFailed (3 turns), first:" in text
    assert "401" in text or "Auth" in text
    assert b"Traceback" not in err


def test_the_cross_host_recipe_of_docs_telemetry_loads() -> None:
    argv = ["demo", "--endpoint-host", "0.0.0.0", "--endpoint-port", "8787"]
    args = build_parser().parse_args([*argv, "--endpoint-token-env", "AGENTRT_TOP_TOKEN"])
    layered = load_demo_config(args, {"AGENTRT_TOP_TOKEN": "0123abcd"})  # not a config key
    endpoint = layered.config.telemetry.endpoint
    assert endpoint is not None
    assert (endpoint.host, endpoint.port, endpoint.token_env) == (
        "0.0.0.0",
        8787,
        "AGENTRT_TOP_TOKEN",
    )

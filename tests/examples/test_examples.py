"""Every example runs to completion (each is a single runnable file)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentrt.testing import MockLLMProcess

ROOT = Path(__file__).resolve().parents[2]

# script -> (arguments for a short run, text(s) its output must contain). No verdict may
# depend on the machine's speed: where an example shows a deadline or a TTL, the run gives
# it room a loaded machine cannot use up (router: 1.2 s for fast answers and 0.6 s to fan
# in; tool: 7 cached answers within a 2 s TTL).
EXAMPLES: dict[str, tuple[list[str], str | tuple[str, ...]]] = {
    "llm_mock_demo.py": (
        [],
        (
            "chat: echo: hello",
            "tool call: weather {'city': 'Oslo'}",
            'after the tool: tool result: {"temp_c": 3}',
            "stream:w1 w2 w3 w4 w5 w6 w7 w8",
            "embeddings: 16 callers, 1 HTTP call(s)",
        ),
    ),
    "supervised_tree.py": (["--workers", "50", "--jobs", "1000"], "lost           0"),
    "hello_agent.py": (["Hi there"], "greeter  echo: Hi there"),
    "tool_agent.py": (["--agents", "8", "--ttl", "2"], "tool executions  2 "),
    "swarm_crashes.py": (
        ["--agents", "60", "--turns", "3", "--crashes", "5"],
        "still remembers its first message: True",
    ),
    "router_workers.py": (
        ["--deadline", "1.8", "--fan-in-ms", "600"],
        "1 missed the deadline",
    ),
    "streaming.py": (
        ["--words", "12", "--pace-ms", "10"],
        "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12\n",
    ),
}
# run against the mock LLM server in its own process (tests below)
OPENAI_COMPATIBLE = "openai_compatible.py"
BRIDGES = ("bridge_langgraph.py", "bridge_openai_agents.py", "bridge_pydantic_ai.py")


def run_example(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_every_example_is_covered() -> None:
    scripts = {p.name for p in (ROOT / "examples").glob("*.py")}
    assert scripts == set(EXAMPLES) | {OPENAI_COMPATIBLE, *BRIDGES}


# The bridge examples make mypy read LangGraph, LangChain, the Agents SDK, pydantic-ai and
# openai: about 40 s of CPU when its cache is cold (a fresh venv: CI's 3.12 and 3.13 runs),
# well past the suite's 120 s on a loaded machine. With the cache the mypy gate leaves, a
# few seconds. mypy runs in a process of its own: run in the xdist worker (mypy.api), a cold
# run left a heap so large that every later gc.collect() in that worker was slow (the
# tracemalloc tests in tests/memory then took 15-38 s each instead of 1-2 s).
@pytest.mark.timeout(600)
def test_examples_type_check_strictly() -> None:
    """Examples are what users copy: the public API must type-check as they use it
    (e.g. overriding ``Agent.setup`` with the keywords an agent takes)."""
    files = sorted(str(p) for p in (ROOT / "examples").glob("*.py"))
    argv = [sys.executable, "-m", "mypy", "--strict", "--config-file", "pyproject.toml", *files]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=580, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_runs(script: str) -> None:
    args, expected = EXAMPLES[script]
    out = run_example(script, *args)
    for text in (expected,) if isinstance(expected, str) else expected:
        assert text in out


def _llm_env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_")}
    return {**env, **variables}


async def test_openai_compatible_example_goes_over_http_to_the_mock_server() -> None:
    async with MockLLMProcess() as server:
        env = _llm_env(
            LLM_BASE_URL=server.url,
            LLM_MODEL="mock",
            LLM_API_KEY_ENV="EXAMPLE_LLM_TEST_KEY",
            EXAMPLE_LLM_TEST_KEY="not-a-real-key",
        )
        out = await asyncio.to_thread(run_example, OPENAI_COMPATIBLE, "Are you there?", env=env)
        counts = (await server.stats())["counts"]
    assert "assistant  echo: Are you there?" in out
    assert f"server     {server.url}" in out
    assert counts.get("chat", 0) == 1


@pytest.mark.parametrize("script", BRIDGES)
async def test_bridge_example_goes_over_http_through_the_pool(script: str) -> None:
    """Each framework's example, its LLM pointed at the mock server: the framework's
    model calls reach the server through agentrt's pool (two for the tool turn, one for
    the turn after passivation, one streamed), the second turn's context holds the first,
    and the governed tool ran through agentrt's registry."""
    async with MockLLMProcess() as server:
        out = await asyncio.to_thread(run_example, script, "--llm-url", server.url)
        counts = (await server.stats())["counts"]
    assert "turn 1  tool result:" in out
    assert "Oslo" in out
    assert "(2 LLM calls, 1 tool call)" in out
    assert "turn 2  echo: Thanks!" in out
    streamed = re.search(r"turn 3  echo: Stream this, please\.  \(streamed in (\d+) pieces\)", out)
    assert streamed is not None, out
    assert int(streamed.group(1)) > 1
    assert "weather calls through agentrt's tool registry  1" in out  # governed
    assert "LLM requests through the pool  4" in out
    assert counts.get("chat", 0) == 3
    assert counts.get("stream", 0) == 1


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({}, "set LLM_BASE_URL"),
        ({"LLM_BASE_URL": "http://127.0.0.1:9/v1"}, "set LLM_BASE_URL"),
        (
            {
                "LLM_BASE_URL": "http://127.0.0.1:9/v1",
                "LLM_MODEL": "m",
                "LLM_API_KEY_ENV": "EXAMPLE_LLM_UNSET_KEY",
            },
            "environment variable 'EXAMPLE_LLM_UNSET_KEY' is not set",
        ),
    ],
)
def test_openai_compatible_example_refuses_to_guess(
    variables: dict[str, str], message: str
) -> None:
    env = _llm_env(**variables)
    env.pop("EXAMPLE_LLM_UNSET_KEY", None)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / OPENAI_COMPATIBLE)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert proc.stdout == ""

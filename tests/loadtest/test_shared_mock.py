"""A load run told (by ``agentrt loadtest ab``) to use a mock LLM server that is already
running: it uses that server, starts none of its own, leaves it running, and its counters
and seeded faults start from zero as on a fresh server."""

from __future__ import annotations

import pytest

from agentrt.cli._loadtest import read_scenario
from agentrt.llm import MockServerConfig
from agentrt.loadtest._environment import SHARED_MOCK_ENV, run_environment
from agentrt.testing import serve_mock_llm


async def test_a_run_attaches_to_the_shared_mock_and_resets_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = read_scenario("loadtest/gate/gate.toml")
    async with serve_mock_llm(MockServerConfig(seed=5, jitter_ms=10)) as server:
        server.state.counts["chat"] = 7  # an earlier round's
        first = server.state.random.random()
        monkeypatch.setenv(SHARED_MOCK_ENV, server.url)
        async with run_environment(scenario) as env:
            assert env.llm_url == server.url
            assert env.mock is not None
            assert env.mock.url == server.url
            assert server.state.counts["chat"] == 0  # reset: this run counts its own calls
            assert server.state.random.random() == first  # the seeded faults start over
            stats = await env.mock_stats()
            assert stats is not None
        assert (await env.mock.stats())["counts"] == stats["counts"]  # still serving


async def test_without_the_variable_a_run_starts_its_own_mock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SHARED_MOCK_ENV, raising=False)
    scenario = read_scenario("loadtest/gate/gate.toml")
    async with run_environment(scenario) as env:
        assert env.mock is not None
        assert env.mock.url == env.llm_url
        assert (await env.mock.stats())["counts"] == {}
    assert await env.mock_stats() is None  # stopped with the run

"""The Agent recovers once from ContextLengthExceeded (issue 14 §3), over real HTTP: the
mock server refuses prompts over its context window in a server's own words."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from support.agents import fast_config

from agentrt.agent import CONTEXT_SHRUNK_EVENT, Agent, TurnFailed
from agentrt.llm import ContextLengthExceeded, MockServerConfig, PoolConfig, ProviderConfig
from agentrt.runtime import Runtime
from agentrt.testing import serve_mock_llm

LONG = "word " * 60  # about 79 tokens per message as the mock counts them


class Talker(Agent):
    system_prompt = "Be brief."


@pytest.mark.parametrize("dialect", ["openai", "anthropic", "litellm"])
async def test_a_turn_shrinks_its_context_once_and_records_an_event(dialect: Any) -> None:
    window = MockServerConfig(context_window=300, error_dialect=dialect)
    async with serve_mock_llm(window) as server:
        provider = ProviderConfig(name="local", base_urls=(server.url,))
        async with Runtime(replace(fast_config(), llm=PoolConfig(providers=(provider,)))) as rt:
            seen: list[tuple[Any, Any]] = []
            rt.telemetry.events.attach(
                "shrunk", CONTEXT_SHRUNK_EVENT, lambda _n, m, meta, _s: seen.append((m, meta))
            )
            await rt.spawn(Talker, id="t")
            for i in range(2):
                await rt.ask("t", f"{i} {LONG}")
            assert server.state.counts["status_400"] == 0
            reply = await rt.ask("t", f"third {LONG}")  # the whole history is over 300
            assert reply.text == f"echo: third {LONG}"
            assert server.state.counts["status_400"] == 1
            with pytest.raises(TurnFailed) as info:  # one message alone is too long
                await rt.ask("t", LONG * 5)
    assert len(seen) == 2
    measurements, metadata = seen[0]
    assert measurements["tokens_after"] < measurements["tokens_before"]
    assert metadata["agent_id"] == "t"
    assert isinstance(info.value.cause, ContextLengthExceeded)
    assert server.state.counts["status_400"] == 3  # refused, shrunk, refused again: failed

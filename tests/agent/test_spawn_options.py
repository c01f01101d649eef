"""Spawn options are checked when they are given: a bad one is refused by ``spawn`` with
an error naming it, and nothing is registered (it used to be accepted, then crash every
turn)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from support.agents import Helper, fast_config

from agentrt.errors import ConfigError
from agentrt.runtime import Runtime

BAD: list[tuple[str, Any, str]] = [
    ("max_steps", -1, "within 1..1,000"),
    ("max_steps", 2.5, "expected an integer"),
    ("turn_timeout", -1, "> 0"),
    ("turn_timeout", math.nan, "finite"),
    ("temperature", "hot", "expected a number"),
    ("temperature", 5, "within 0..2"),
    ("context_tokens", -5, "within 1..100,000,000"),
    ("max_tokens", 0, "within 1..10,000,000"),
    ("model", "", "non-empty string"),
    ("system_prompt", 3, "expected a string"),
    ("tools", "weather", "list of tool names"),
    ("memory", {"window": 3}, "ConversationConfig"),
    ("llm_cache", True, "ResponseCachePolicy"),
]


@pytest.mark.parametrize(("option", "value", "problem"), BAD, ids=[f"{b[0]}={b[1]!r}" for b in BAD])
async def test_a_bad_spawn_option_is_refused_naming_it(
    option: str, value: Any, problem: str
) -> None:
    async with Runtime(fast_config()) as rt:
        with pytest.raises(ConfigError, match=problem) as info:
            await rt.spawn(Helper, id="a", **{option: value})
        assert info.value.key == option
        with pytest.raises(ConfigError, match=problem):
            await rt.spawn_swarm(Helper, 3, **{option: value})
        assert rt.stats()["agents"]["live"] == 0
        # Nothing was registered: the id is free and a good spawn answers.
        await rt.spawn(Helper, id="a", max_steps=2, temperature=0.5, turn_timeout=30)
        reply = await rt.ask("a", "hello")
        assert reply.text

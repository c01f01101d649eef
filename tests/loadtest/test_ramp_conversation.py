"""The ramp's targets over time and what simulated users say (pure functions)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from agentrt.errors import ConfigError
from agentrt.loadtest._conversation import KeyDraw, TurnSource, think_seconds
from agentrt.loadtest._ramp import Ramp
from agentrt.loadtest._scenario import Scenario
from agentrt.loadtest._sections import AgentsSpec, ConversationSpec, Stage, ThinkTime, ToolsSpec


def test_all_at_once() -> None:
    ramp = Ramp(AgentsSpec(count=50, turns=3))
    assert ramp.target(0.0) == 50
    assert ramp.full(0.0)
    assert ramp.over(0.0, 50)
    assert not ramp.over(100.0, 49)


def test_spawn_rate() -> None:
    ramp = Ramp(AgentsSpec(count=100, spawn_rate=50, duration=10))
    assert [ramp.target(t) for t in (0.0, 0.5, 1.0, 1.99, 5.0)] == [1, 26, 51, 100, 100]
    assert not ramp.full(1.0)
    assert ramp.full(1.99)
    assert not ramp.over(9.9, 100)
    assert ramp.over(10.0, 100)


def test_stages_interpolate_and_ramp_down() -> None:
    stages = (
        Stage(duration="10s", target=100),
        Stage(duration=10, target=100),
        Stage(duration="5s", target=20),
    )
    ramp = Ramp(AgentsSpec(count=100, stages=stages))
    assert ramp.length == 25
    targets = [ramp.target(t) for t in (0.0, 5.0, 10.0, 15.0, 22.5, 25.0, 99.0)]
    assert targets == [0, 50, 100, 100, 60, 20, 20]
    assert not ramp.full(5.0)
    assert ramp.full(10.0)
    assert ramp.over(25.0, 100)
    assert not ramp.over(24.9, 100)


def scenario(**kw: object) -> Scenario:
    return Scenario(name="t", agents=AgentsSpec(count=5, turns=3), **kw)  # type: ignore[arg-type]


def test_tool_mix_is_deterministic_and_carries_directives() -> None:
    source = TurnSource(scenario(tools=ToolsSpec(mix={"lookup": 1.0}, keys=10)))
    first = [source.text(random.Random(1), 0, turn) for turn in range(5)]
    again = [source.text(random.Random(1), 0, turn) for turn in range(5)]
    assert first == again
    assert first[0] == "Hi! I have a few questions."
    assert all("[[tool:lookup " in text for text in first[1:])


def test_mix_weights_are_followed() -> None:
    source = TurnSource(scenario(tools=ToolsSpec(mix={"calc": 3, "chat": 1})))
    rng = random.Random(5)
    texts = [source.text(rng, 0, turn) for turn in range(1, 2001)]
    calc = sum("[[tool:calc " in t for t in texts)
    assert 1350 < calc < 1650  # 75% of 2,000, with room for chance
    assert not any("lookup" in t for t in texts)


def test_repeat_distributions_drive_repeats() -> None:
    rng = random.Random(3)
    zipf = Counter(
        KeyDraw(ToolsSpec(keys=100, repeat="zipf", zipf_s=1.2)).draw(rng) for _ in range(2000)
    )
    uniform = Counter(KeyDraw(ToolsSpec(keys=100, repeat="uniform")).draw(rng) for _ in range(2000))
    unique = KeyDraw(ToolsSpec(keys=100, repeat="unique"))
    assert zipf.most_common(1)[0][0] == "key-0"
    assert zipf.most_common(1)[0][1] > 3 * uniform.most_common(1)[0][1]
    assert len({unique.draw(rng) for _ in range(500)}) == 500


def test_messages_templates_and_generator() -> None:
    script = TurnSource(scenario(conversation=ConversationSpec(messages=("a", "b"))))
    assert [script.text(random.Random(0), 0, t) for t in range(3)] == ["a", "b", "a"]
    conv = ConversationSpec(
        templates=("agent {agent} turn {turn} asks about {product} {key}",),
        variables={"product": ("kettle",)},
    )
    text = TurnSource(scenario(conversation=conv)).text(random.Random(0), 4, 2)
    assert text.startswith("agent 4 turn 2 asks about kettle key-")
    gen = TurnSource(scenario(conversation=ConversationSpec(generator="support.agents:say")))
    assert gen.text(random.Random(0), 1, 2) == "generated 1/2"


def test_generator_must_return_text() -> None:
    source = TurnSource(scenario(conversation=ConversationSpec(generator="support.agents:mute")))
    with pytest.raises(ConfigError, match=r"conversation\.generator"):
        source.text(random.Random(0), 0, 0)


@pytest.mark.parametrize("distribution", ["constant", "uniform", "exponential", "lognormal"])
def test_think_time_distributions(distribution: str) -> None:
    spec = ThinkTime(distribution=distribution, mean="200ms", min="50ms", max="1s")  # type: ignore[arg-type]
    rng = random.Random(9)
    draws = [think_seconds(spec, rng) for _ in range(4000)]
    assert all(0.05 <= d <= 1.0 for d in draws)
    assert sum(draws) / len(draws) == pytest.approx(0.2, rel=0.15)

"""``agentrt loadtest run``'s override flags replace the run's length the file gives."""

from __future__ import annotations

import pytest

from agentrt.cli import build_parser
from agentrt.cli.loadtest import _overrides, read_scenario
from agentrt.errors import ConfigError
from agentrt.loadtest import Scenario


def scenario_from(*argv: str) -> Scenario:
    args = build_parser().parse_args(["loadtest", "run", *argv])
    return read_scenario(args.scenario, _overrides(args))


def test_turns_replace_a_duration() -> None:
    smoke = scenario_from("smoke", "--turns", "3", "--agents", "10")
    assert (smoke.agents.turns, smoke.agents.duration, smoke.agents.count) == (3, None, 10)


def test_duration_and_turns_replace_stages() -> None:
    staged = scenario_from("swarm_1k")
    assert staged.agents.stages
    timed = scenario_from("swarm_1k", "--duration", "20s", "--agents", "200")
    assert (timed.agents.duration, timed.agents.turns, timed.agents.stages) == (20.0, None, ())
    assert timed.agents.count == 200
    counted = scenario_from("swarm_1k", "--turns", "2")
    assert (counted.agents.turns, counted.agents.stages) == (2, ())


def test_a_bad_override_names_its_key() -> None:
    with pytest.raises(ConfigError, match=r"agents\.duration"):
        scenario_from("smoke", "--duration", "soon")

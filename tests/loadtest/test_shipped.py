"""Shipped scenarios are package data, found through importlib.resources."""

from __future__ import annotations

from importlib import resources

import pytest

import agentrt.loadtest
from agentrt.errors import ConfigError
from agentrt.loadtest import load_scenario, shipped_scenario, shipped_scenarios

NAMES = [
    "alert_slowdown",
    "chaos",
    "cluster_chaos",
    "cluster_rebalance",
    "cluster_rolling",
    "fault_mix",
    "repeated_questions",
    "smoke",
    "soak",
    "swarm_10k",
    "swarm_1k",
]


def test_shipped_scenarios_live_inside_the_package() -> None:
    shipped = shipped_scenarios()
    assert list(shipped) == NAMES
    folder = resources.files(agentrt.loadtest).joinpath("scenarios")
    assert all(str(entry).startswith(str(folder)) for entry in shipped.values())
    assert load_scenario(shipped_scenario("smoke")).name == "smoke"


def test_unknown_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="no such shipped scenario") as info:
        shipped_scenario("smok")
    assert "smok" in str(info.value)
    assert all(name in str(info.value) for name in NAMES)

"""One bounded-number declaration checked at every boundary: code, TOML, env, CLI."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pytest

from agentrt._configfile import build, load
from agentrt.actor import NodeConfig
from agentrt.bounds import Bounds, check_fields, field_bounds
from agentrt.cli._args import field_arg
from agentrt.errors import ConfigError
from agentrt.loadtest._quantity import MAX_SECONDS, parse_duration
from agentrt.runtime import AgentsConfig, EndpointConfig, TelemetryConfig
from agentrt.telemetry import Targets


@dataclass(frozen=True, kw_only=True)
class Sample:
    window_s: Annotated[float, Bounds(low=0, open_low=True, high=3600, unit=" s")] = 60.0
    count: Annotated[int, Bounds(low=1, high=1000)] = 10
    limit: Annotated[int, Bounds(low=1)] | None = None

    def __post_init__(self) -> None:
        check_fields(self)


BAD = [
    ("window_s", math.nan, "finite"),
    ("window_s", math.inf, "finite"),
    ("window_s", 0.0, "> 0 and <= 3,600 s"),
    ("window_s", -1.0, "> 0"),
    ("window_s", "hot", "expected a number"),
    ("window_s", True, "expected a number"),
    ("count", 2.5, "expected an integer"),
    ("count", 100_000_000_000, "within 1..1,000"),
    ("limit", 0, ">= 1"),
]


@pytest.mark.parametrize(("name", "value", "problem"), BAD)
def test_the_python_api_refuses_what_the_declaration_refuses(
    name: str, value: object, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem) as info:
        Sample(**{name: value})  # type: ignore[arg-type]
    assert info.value.key == name


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("window_s = nan", "finite"),
        ("window_s = inf", "finite"),
        ("window_s = -inf", "finite"),
        ("count = 100000000000", "within 1..1,000"),
        ("count = 0", "within 1..1,000"),
    ],
)
def test_toml_files_get_the_same_check_with_the_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"# comment\n{text}\n")
    with pytest.raises(ConfigError, match=problem) as info:
        load(Sample, path)
    assert f"{path}:2" in str(info.value)


def test_environment_values_get_the_same_check() -> None:
    with pytest.raises(ConfigError, match="finite"):
        load(Sample, env={"X_WINDOW_S": "nan"}, env_prefix="X_")
    assert load(Sample, env={"X_COUNT": "12"}, env_prefix="X_").count == 12


def test_an_unbounded_float_field_is_still_never_nan() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Plain:
        ratio: float = 1.0

    with pytest.raises(ConfigError, match="finite"):
        build(Plain, {"ratio": math.nan})


def test_cli_flags_use_the_fields_own_declaration() -> None:
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--window", type=field_arg(Sample, "window_s"))
    assert parser.parse_args(["--window", "2.5"]).window == 2.5
    for bad in ("nan", "inf", "0", "-3", "x"):
        with pytest.raises(argparse.ArgumentError):
            parser.parse_args(["--window", bad])
    assert field_bounds(Sample, "count") == (Bounds(low=1, high=1000), int)


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (lambda: NodeConfig(shutdown_timeout=math.nan), "node.shutdown_timeout"),
        (lambda: NodeConfig(lag_interval=math.inf), "node.lag_interval"),
        (lambda: Targets(response_p95_s=math.nan), "targets.response_p95_s"),
        (lambda: TelemetryConfig(window_s=math.nan), "window_s"),
        (lambda: AgentsConfig(max_seconds=math.inf), "max_seconds"),
        (lambda: EndpointConfig(port=-1), "port"),
    ],
)
def test_other_configs_refuse_nan_inf_and_out_of_range(make: Any, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        make()
    assert info.value.key == key


@pytest.mark.parametrize("text", ["1e308h", "31d", "2592001s", "-1s", "nan"])
def test_scenario_durations_are_finite_and_bounded(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text, key="agents.duration")
    assert parse_duration("720h", key="k") == MAX_SECONDS

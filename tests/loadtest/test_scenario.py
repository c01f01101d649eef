"""Scenario files: every shipped one validates; bad ones get errors naming key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrt.errors import ConfigError
from agentrt.loadtest import load_scenario, shipped_scenario
from agentrt.loadtest._engine import agent_class_of
from agentrt.loadtest._environment import runtime_config
from agentrt.loadtest._quantity import parse_duration, parse_quantity

AGENTS = "[agents]\ncount = 10\nturns = 2\n"
MINIMAL = 'name = "t"\n' + AGENTS


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        agent_class_of(load_scenario(path))
    return str(info.value)


@pytest.mark.parametrize(
    "name", ["smoke", "swarm_1k", "swarm_10k", "chaos", "soak", "alert_slowdown"]
)
def test_shipped_scenarios_validate(name: str) -> None:
    scenario = load_scenario(shipped_scenario(name))
    assert scenario.name == name
    assert agent_class_of(scenario).__name__ == "LoadAgent"
    metrics = {t.metric for t in scenario.parsed_thresholds}
    assert "lost" in metrics
    assert "response_p95" in metrics


def test_fault_mix_spreads_agents_over_three_models_of_one_proxy() -> None:
    scenario = load_scenario(shipped_scenario("fault_mix"))
    agents, mock = scenario.agents, scenario.llm.mock
    assert [agents.model_of(i) for i in range(4)] == ["model-a", "model-b", "model-c", "model-a"]
    assert mock.drop_after_error
    assert mock.profiles["model-a"] == {"error_rate_500": 1.0}
    assert mock.profiles["model-b"]["retry_header"] == "llm_provider-retry-after"
    metrics = {t.metric for t in scenario.parsed_thresholds}
    assert {"turns_failed[model-c]", "turns_failed_unexcused[model-b]"} <= metrics


def test_chaos_injects_every_fault() -> None:
    chaos = load_scenario(shipped_scenario("chaos"))
    faults = chaos.faults
    assert faults.crash_rate > 0
    assert faults.llm_error_rate > 0
    assert faults.llm_timeout_rate > 0
    assert faults.redis_outage
    assert faults.slow_tool_rate > 0
    assert chaos.runtime.uses_redis
    assert chaos.runtime.redis_url is None


def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, MINIMAL))
    assert scenario.agents.count == 10
    assert scenario.agents.turns == 2
    assert scenario.think_time.mean == 0.5
    assert scenario.llm.kind == "mock"
    assert scenario.llm.mock.latency == 0.05
    assert scenario.parsed_thresholds == ()


def test_durations_are_read_with_units(tmp_path: Path) -> None:
    text = MINIMAL + '[think_time]\nmean = "250ms"\nmax = "1.5m"\n[llm.mock]\nlatency = 0.1\n'
    scenario = load_scenario(write(tmp_path, text))
    assert scenario.think_time.mean == pytest.approx(0.25)
    assert scenario.think_time.max == pytest.approx(90.0)
    assert scenario.llm.mock.latency == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ('[think_time]\nmean = "fast"\n', "think_time.mean", "cannot read 'fast'"),
        ('[think_time]\nmean = "3 days"\n', "think_time.mean", "unknown duration unit"),
        ("[agents.typo]\n", "agents.typo", "unknown key"),
        ("[tools]\nmix = { lookup = -1 }\n", "tools.mix.lookup", "must be >= 0"),
        ("[tools]\nmix = { fly = 1 }\n", "tools.mix.fly", "unknown turn kind"),
        ('[llm]\nkind = "psychic"\n', "llm.kind", "must be one of"),
        ('[llm]\nkind = "external"\n', "llm.url", "needs the server's url"),
        ("[faults]\ncrash_rate = 2\n", "faults.crash_rate", "between 0 and 1"),
        (
            '[[faults.redis_outage]]\nstart = "1s"\nduration = "1s"\n',
            "faults.redis_outage",
            "Redis",
        ),
        ('[conversation]\ntemplates = ["hi {who}"]\n', "conversation.templates[0]", "['who']"),
        ('[conversation]\nmessages = ["a"]\ngenerator = "x:y"\n', "conversation", "only one"),
        ('models = ["a", ""]\n', "agents.models", "non-empty model names"),
        ('[llm.mock]\nretry_header = "soon"\n', "llm.mock.retry_header", "unknown form"),
        ("[llm.mock.profiles.m]\nerror_rate = 1\n", "llm.mock.profiles.m", "'error_rate'"),
        ("[llm.mock.profiles.m]\nerror_rate_500 = 2\n", "profiles.m.error_rate_500", "0..1"),
    ],
)
def test_bad_values_name_key_and_line(tmp_path: Path, extra: str, key: str, words: str) -> None:
    message = error_of(tmp_path, MINIMAL + extra)
    assert key in message
    assert words in message
    assert "scenario.toml:" in message  # the file and line


def test_threshold_errors_name_the_item(tmp_path: Path) -> None:
    text = 'name = "t"\nthresholds = [\n  "lost == 0",\n  "speed < 2s",\n]\n' + AGENTS
    message = error_of(tmp_path, text)
    assert "thresholds[1]" in message
    assert "unknown metric 'speed'" in message
    assert "scenario.toml:2" in message
    message = error_of(tmp_path, 'name = "t"\nthresholds = ["lost is zero"]\n' + AGENTS)
    assert "expected '<metric> <op> <value>'" in message
    message = error_of(tmp_path, 'name = "t"\nthresholds = ["response_p95 < 2GB"]\n' + AGENTS)
    assert "unknown duration unit 'GB'" in message


def test_turns_or_duration_exactly_one(tmp_path: Path) -> None:
    message = error_of(tmp_path, 'name = "t"\n[agents]\ncount = 3\n')
    assert "agents.turns" in message
    assert "exactly one" in message
    both = 'name = "t"\n[agents]\ncount = 3\nturns = 1\nduration = "2s"\n'
    assert "exactly one" in error_of(tmp_path, both)


def test_stages_are_checked(tmp_path: Path) -> None:
    text = 'name = "t"\n[agents]\ncount = 5\n[[agents.stages]]\nduration = "1s"\ntarget = 9\n'
    assert "exceeds count = 5" in error_of(tmp_path, text)
    text = 'name = "t"\n[agents]\ncount = 5\n[[agents.stages]]\nduration = "0s"\ntarget = 1\n'
    message = error_of(tmp_path, text)
    assert "agents.stages[0].duration" in message
    assert "> 0" in message


def test_agent_class_must_import_and_be_an_agent(tmp_path: Path) -> None:
    text = MINIMAL.replace("count = 10", 'count = 10\nclass = "no_such_module:Agent"')
    assert "cannot import 'no_such_module'" in error_of(tmp_path, text)
    text = MINIMAL.replace("count = 10", 'count = 10\nclass = "pathlib:Path"')
    assert "is not an Agent class" in error_of(tmp_path, text)


def test_outage_needs_the_runners_own_redis(tmp_path: Path) -> None:
    base = MINIMAL + '[runtime]\ncache = "two_level"\nredis_url = "redis://127.0.0.1:6379/0"\n'
    outage = '[[faults.redis_outage]]\nstart = "1s"\nduration = "1s"\n'
    assert "only stop its own redis-server" in error_of(tmp_path, base + outage)
    overlap = outage + '[[faults.redis_outage]]\nstart = "1.5s"\nduration = "1s"\n'
    text = MINIMAL + '[runtime]\ncache = "two_level"\n' + overlap
    assert "overlap" in error_of(tmp_path, text)


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, 'name = "t"\n[agents\n')
    assert "invalid TOML" in message
    assert "line 2" in message


def test_quantities() -> None:
    assert parse_duration("800us", key="k") == pytest.approx(0.0008)
    assert parse_quantity("100MB", "B", key="k") == 100 * 2**20
    assert parse_quantity("64KiB", "B", key="k") == 64 * 1024
    assert parse_quantity("0.1%", "ratio", key="k") == pytest.approx(0.001)
    assert parse_quantity("3", "count", key="k") == 3
    with pytest.raises(ConfigError, match="'k': must be >= 0"):
        parse_duration(-1, key="k")
    with pytest.raises(ConfigError, match="expected a plain number"):
        parse_quantity("3ms", "count", key="k")
    with pytest.raises(ConfigError, match="a ratio is a fraction or a percentage"):
        parse_quantity("3s", "ratio", key="k")


@pytest.mark.parametrize(
    ("runtime", "key", "says"),
    [
        ('cache = "memcache"', "runtime.cache", "memcached"),
        ('cache = "redis"\nl2 = "memcached"', "runtime.l2", "two_level"),
        ('cache = "two_level"\nl2 = "mongo"', "runtime.l2", "memcached"),
        (
            'cache = "memcached"\nmemcached_url = "redis://x:6379"',
            "runtime.memcached_url",
            "memcached://",
        ),
        (
            'cache = "redis"\nmemcached_url = "memcached://x:11211"',
            "runtime.memcached_url",
            "no cache",
        ),
    ],
)
def test_memcached_cache_settings_are_checked_naming_the_key(
    tmp_path: Path, runtime: str, key: str, says: str
) -> None:
    message = error_of(tmp_path, MINIMAL + "[runtime]\n" + runtime + "\n")
    assert repr(key) in message
    assert says in message


def test_memcached_cache_settings_reach_the_runtime_config(tmp_path: Path) -> None:
    text = MINIMAL + '[runtime]\ncache = "two_level"\nl2 = "memcached"\n'
    scenario = load_scenario(write(tmp_path, text + 'memcached_url = "memcached://m:11311"\n'))
    assert scenario.runtime.uses_memcached
    assert not scenario.runtime.uses_redis
    config = runtime_config(scenario, "http://llm/v1", None, str(tmp_path), "memcached://m:11311")
    assert (config.cache.kind, config.cache.l2) == ("two_level", "memcached")
    assert config.cache.memcached.url == "memcached://m:11311"

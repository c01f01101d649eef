"""Typed TOML configuration with errors naming the key and the line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from agentrt._configfile import build, env_overrides, load, load_toml, merge
from agentrt.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class Limits:
    rpm: int = 60
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.rpm < 1:
            raise ConfigError("rpm", "must be >= 1")


@dataclass(frozen=True, kw_only=True)
class Provider:
    name: str
    kind: Literal["openai", "anthropic", "mock"] = "openai"
    urls: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True, kw_only=True)
class Config:
    store: Literal["memory", "sqlite", "redis"] = "memory"
    store_path: str | None = None
    debug: bool = False
    providers: tuple[Provider, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    fallback: Limits | None = None


TOML = """\
store = "sqlite"
store_path = "/tmp/x.db"

[tags]
team = "core"

[[providers]]
name = "local"
urls = ["http://127.0.0.1:8000"]

[providers.limits]
rpm = 120
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agentrt.toml"
    path.write_text(text)
    return path


def test_builds_nested_typed_config(tmp_path: Path) -> None:
    cfg = load(Config, write(tmp_path, TOML))
    assert cfg.store == "sqlite"
    assert cfg.providers == (
        Provider(name="local", urls=("http://127.0.0.1:8000",), limits=Limits(rpm=120)),
    )
    assert cfg.tags == {"team": "core"}
    assert cfg.providers[0].limits.timeout == 30.0


def test_unknown_key_names_key_line_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, TOML + "\n[[providers]]\nname = 'b'\nurl = 'x'\n")
    with pytest.raises(ConfigError) as info:
        load(Config, path)
    msg = str(info.value)
    assert "providers[1].url" in msg
    assert "did you mean 'urls'" in msg
    assert f"{path}:16" in msg


def test_wrong_type_and_literal(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"store.*must be one of.*got 'mongo'.*:1\)"):
        load(Config, write(tmp_path, 'store = "mongo"\n'))
    with pytest.raises(ConfigError, match=r"debug.*expected bool, got str"):
        load(Config, write(tmp_path, 'debug = "yes"\n'))
    with pytest.raises(ConfigError, match=r"providers\[0\]\.urls\[0\].*expected str"):
        build(Config, {"providers": [{"name": "a", "urls": [1]}]})


def test_post_init_errors_get_the_full_key(tmp_path: Path) -> None:
    text = "[[providers]]\nname = 'a'\n[providers.limits]\nrpm = 0\n"
    with pytest.raises(ConfigError) as info:
        load(Config, write(tmp_path, text))
    assert info.value.key == "providers[0].limits.rpm"
    assert ":4)" in str(info.value)
    two = "[[providers]]\nname = 'a'\n[[providers]]\nname = 'b'\n[providers.limits]\nrpm = 0\n"
    with pytest.raises(ConfigError) as info:
        load(Config, write(tmp_path, two))
    assert info.value.key == "providers[1].limits.rpm"
    assert ":6)" in str(info.value)


def test_optional_dataclass_errors_keep_their_key_and_one_location(tmp_path: Path) -> None:
    assert load(Config, write(tmp_path, "[fallback]\nrpm = 5\n")).fallback == Limits(rpm=5)
    with pytest.raises(ConfigError) as info:
        load(Config, write(tmp_path, "[fallback]\nrpm = 0\n"))
    assert info.value.key == "fallback.rpm"
    assert str(info.value).count("agentrt.toml:") == 1


def test_missing_required_field() -> None:
    with pytest.raises(ConfigError, match="providers"):
        build(Config, {"providers": [{}]})


def test_syntax_error_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_toml(write(tmp_path, "store = \n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_toml(tmp_path / "missing.toml")


def test_env_overrides_win_over_file(tmp_path: Path) -> None:
    env = {
        "AGENTRT_STORE": "redis",
        "AGENTRT_DEBUG": "true",
        "AGENTRT_TAGS__TEAM": "edge",
        "OTHER": "ignored",
    }
    assert env_overrides(env, "AGENTRT_") == {
        "store": "redis",
        "debug": True,
        "tags": {"team": "edge"},
    }
    cfg = load(Config, write(tmp_path, TOML), env=env)
    assert cfg.store == "redis"
    assert cfg.debug is True
    assert cfg.tags == {"team": "edge"}
    assert cfg.store_path == "/tmp/x.db"


def test_merge_is_recursive() -> None:
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}


@dataclass(frozen=True, kw_only=True)
class _Aliased:
    agent_class: str = field(default="x", metadata={"key": "class"})
    count: int = 1


def test_a_field_can_take_a_key_that_is_not_an_identifier(tmp_path: Path) -> None:
    assert build(_Aliased, {"class": "pkg:Agent"}).agent_class == "pkg:Agent"
    with pytest.raises(ConfigError, match="unknown key") as info:
        build(_Aliased, {"agent_class": "pkg:Agent"})
    assert "'class'" in str(info.value)  # the known keys are the TOML ones


def test_an_array_of_tables_as_a_whole_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("a = 1\n\n[[items]]\nx = 1\n")
    _, lines = load_toml(path)
    assert lines.where("items").endswith("c.toml:3)")
    assert lines.where("items[0].x").endswith("c.toml:4)")

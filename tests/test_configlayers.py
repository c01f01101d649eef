"""Configuration precedence: flags, then environment, then file, then defaults; each
layer overrides only the keys it sets, and secrets in the environment are not keys."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from agentrt._configfile import is_secret_variable
from agentrt._configlayers import load_layers
from agentrt.errors import ConfigError
from agentrt.runtime import RuntimeConfig

LAYERS = ("default", "file", "env", "flag")
# The same key set by a layer: each layer gives it a value of its own.
VALUE = {"default": 11, "file": 22, "env": 33, "flag": 44}


def _layers(tmp_path: Path, given: tuple[str, ...]) -> dict[str, Any]:
    """Arguments of load_layers where each layer in ``given`` sets agents.max_restarts,
    and each layer also sets a key of its own that no other layer touches."""
    kwargs: dict[str, Any] = {"env": {"AGENTRT_SUMMARIZER__MAX_TOKENS": "77"}}
    defaults: dict[str, Any] = {"name": "d"}
    flags: dict[str, Any] = {"store": {"path": "x"}}
    file_lines = ['[store]\nprefix = "f:"\n']
    if "default" in given:
        defaults["agents"] = {"max_restarts": VALUE["default"]}
    if "file" in given:
        file_lines.append(f"[agents]\nmax_restarts = {VALUE['file']}\n")
    if "env" in given:
        kwargs["env"]["AGENTRT_AGENTS__MAX_RESTARTS"] = str(VALUE["env"])
    if "flag" in given:
        flags["agents"] = {"max_restarts": VALUE["flag"]}
    path = tmp_path / "agentrt.toml"
    path.write_text("".join(file_lines))
    return {**kwargs, "defaults": defaults, "path": path, "flags": flags}


SUBSETS = [c for n in range(len(LAYERS) + 1) for c in itertools.combinations(LAYERS, n)]


@pytest.mark.parametrize("given", SUBSETS, ids=lambda g: "+".join(g) or "none")
def test_every_combination_of_layers(tmp_path: Path, given: tuple[str, ...]) -> None:
    layered = load_layers(RuntimeConfig, **_layers(tmp_path, given))
    cfg = layered.config
    if given:
        top = given[-1]  # LAYERS is ordered lowest first
        assert cfg.agents.max_restarts == VALUE[top]
        assert layered.source("agents.max_restarts") == top
    else:
        assert cfg.agents.max_restarts == 1000
        assert layered.source("agents.max_restarts") == "default"
    # Keys set by one layer only are kept whatever the others set.
    assert (cfg.name, layered.source("name")) == ("d", "default")
    assert (cfg.store.prefix, layered.source("store.prefix")) == ("f:", "file")
    assert (cfg.summarizer.max_tokens, layered.source("summarizer.max_tokens")) == (77, "env")
    assert (cfg.store.path, layered.source("store.path")) == ("x", "flag")
    # Keys no layer set keep the dataclass default.
    assert cfg.agents.max_seconds == 60.0
    assert layered.source("agents.max_seconds") == "default"


def test_a_name_variable_does_not_replace_flags_issue_13() -> None:
    provider = {"name": "remote", "kind": "openai", "base_urls": ["http://127.0.0.1:1/v1"]}
    layered = load_layers(
        RuntimeConfig, env={"AGENTRT_NAME": "foo"}, flags={"llm": {"providers": [provider]}}
    )
    assert layered.config.name == "foo"
    assert layered.config.llm.providers[0].base_urls == ("http://127.0.0.1:1/v1",)
    assert layered.source("llm.providers[0].kind") == "flag"


def test_secret_variables_are_not_config_keys() -> None:
    env = {
        "AGENTRT_TOP_TOKEN": "s3cret",  # docs/telemetry.md's cross-host recipe
        "AGENTRT_API_KEY": "k",
        "AGENTRT_DB_PASSWORD": "p",
        "AGENTRT_MY_CRED": "c",  # named by a *_env setting below
        "AGENTRT_NAME": "n",
    }
    file_free = {"telemetry": {"endpoint": {"port": 0, "token_env": "AGENTRT_MY_CRED"}}}
    layered = load_layers(RuntimeConfig, env=env, flags=file_free)
    assert layered.config.name == "n"
    assert is_secret_variable("AGENTRT_TOP_TOKEN")
    assert not is_secret_variable("AGENTRT_SUMMARIZER__MAX_TOKENS")  # TOKENS is a count


def test_an_unknown_variable_is_still_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"AGENTRT_AGENTS__MAX_RESTART\b"):
        load_layers(RuntimeConfig, env={"AGENTRT_AGENTS__MAX_RESTART": "3"})


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"env": {"AGENTRT_TELEMETRY__WINDOW_S": "nan"}}, "AGENTRT_TELEMETRY__WINDOW_S"),
        ({"flags": {"telemetry": {"window_s": -1}}}, "command-line flag"),
        ({"defaults": {"telemetry": {"window_s": 0}}}, "a default"),
    ],
)
def test_errors_name_where_the_bad_value_came_from(kwargs: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=r"telemetry\.window_s") as info:
        load_layers(RuntimeConfig, **kwargs)
    assert where in str(info.value)


def test_a_file_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text("[telemetry]\nwindow_s = nan\n")
    with pytest.raises(ConfigError, match=f"{path}:2"):
        load_layers(RuntimeConfig, path=path, env={"AGENTRT_NAME": "x"})

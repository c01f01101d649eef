"""An API key given as the key itself never prints: not in a repr, a str, an error
message, ``agentrt config show`` or a log line (over a real turn to the mock server)."""

from __future__ import annotations

import copy
import logging
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.waiting import eventually

import agentrt
from agentrt.actor import ActorError, Caller
from agentrt.errors import ConfigError
from agentrt.llm import MockLLMServer, PoolConfig, ProviderConfig, RetryPolicy, serve_mock_llm
from agentrt.redact import redacted
from agentrt.runtime import RuntimeConfig

KEY = "sk-live-DO-NOT-PRINT-4711"


def test_secret_shows_as_stars_everywhere_but_reveal() -> None:
    secret = agentrt.Secret(KEY)
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>10}", "%s" % secret]  # noqa: UP031 - what logging does
    assert all(KEY not in text for text in shown)
    assert repr(secret) == "Secret('***')"
    assert str(secret) == "***"
    assert secret.reveal() == KEY
    assert secret == agentrt.Secret(KEY)
    assert secret != agentrt.Secret("other")
    assert copy.deepcopy(secret).reveal() == KEY
    assert pickle.loads(pickle.dumps(secret)).reveal() == KEY
    with pytest.raises(AttributeError):
        secret._value = "x"  # type: ignore[misc]
    assert redacted({"anything": secret}) == {"anything": "***"}


@pytest.mark.parametrize("value", ["", 42])
def test_secret_refuses_empty_or_non_text(value: object) -> None:
    with pytest.raises(ConfigError, match="secret"):
        agentrt.Secret(value)  # type: ignore[arg-type]


def test_configs_holding_the_key_never_print_it() -> None:
    provider = agentrt.OpenAI(model="m", api_key=KEY)
    pool = PoolConfig(providers=(provider,))
    runtime = RuntimeConfig(llm=pool)
    for text in (repr(provider), str(provider), repr(pool), repr(runtime), str(runtime)):
        assert KEY not in text
        assert "***" in text
    assert ProviderConfig(api_key=KEY).api_key == agentrt.Secret(KEY)  # a str is wrapped


def test_errors_about_a_key_never_quote_it() -> None:
    with pytest.raises(ConfigError) as both:
        agentrt.OpenAI(model="m", api_key=KEY, api_key_env="K")
    with pytest.raises(ConfigError) as wrong_type:
        ProviderConfig(api_key=[KEY])  # type: ignore[arg-type]
    for caught in (both, wrong_type):
        assert "api_key" in str(caught.value)
        assert KEY not in str(caught.value)
        assert KEY not in repr(caught.value)


def test_config_show_masks_a_key_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "agentrt.toml"
    path.write_text(
        f'[[llm.providers]]\nname = "o"\nkind = "openai"\napi_key = "{KEY}"\n'
        'default_model = "gpt-4o-mini"\n'
    )
    for extra in ([], ["--json"]):
        proc = subprocess.run(
            [sys.executable, "-m", "agentrt.cli", "config", "show", "--config", str(path), *extra],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert "api_key" in proc.stdout
        assert KEY not in proc.stdout + proc.stderr
    loaded = RuntimeConfig.load(path)
    assert loaded.llm.providers[0].read_api_key({}) == KEY
    assert loaded.llm.default_model == "gpt-4o-mini"


def test_a_key_of_the_wrong_type_in_a_file_is_named_not_quoted(tmp_path: Path) -> None:
    path = tmp_path / "agentrt.toml"
    path.write_text('[[llm.providers]]\nname = "o"\napi_key = ["sk-in-a-list-0815"]\n')
    with pytest.raises(ConfigError) as caught:
        RuntimeConfig.load(path)
    assert "api_key" in str(caught.value)
    assert "sk-in-a-list-0815" not in str(caught.value)


class Leaky(agentrt.Agent):
    """Crashes with the key object in its error message, as careless code might."""

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        if msg == "boom":
            raise RuntimeError(f"cannot use {SECRET} ({SECRET!r})")
        return await super().handle_call(msg, caller)


SECRET = agentrt.Secret(KEY)


async def test_a_turn_over_http_and_a_failing_one_never_log_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with serve_mock_llm() as server:
        await _turns(server)
    once = RetryPolicy(max_retries=0)
    dead = agentrt.OpenAI(base_url="http://127.0.0.1:9/v1", api_key=SECRET, model="m", retry=once)
    async with agentrt.Runtime(llm=dead) as rt:  # nothing listens on port 9
        logging.getLogger("app").info("runtime %s, provider %r", rt.config, dead)
        await rt.spawn(Leaky, id="a")
        with pytest.raises(agentrt.TurnFailed) as failed:
            await rt.ask("a", "anyone?")
        texts = [str(failed.value), repr(failed.value), repr(failed.value.__cause__)]
        texts += [repr(rt.stats()), repr(rt.config)]
        with pytest.raises(ActorError) as crashed:
            await rt.call("a", "boom")
        texts += [str(crashed.value), repr(crashed.value)]
        await eventually(lambda: any(r.levelno >= logging.ERROR for r in caplog.records))
    assert {"app", "agentrt.actor"} <= {r.name for r in caplog.records}  # logged, and checked
    assert all(KEY not in text for text in texts)
    assert KEY not in caplog.text


async def _turns(server: MockLLMServer) -> None:
    llm = agentrt.OpenAI(base_url=server.url, api_key=KEY, model="m")
    async with agentrt.Runtime(llm=llm) as rt:
        await rt.spawn(agentrt.Agent, id="a")
        assert (await rt.ask("a", "hi")).text == "echo: hi"
    assert server.state.counts["chat"] == 1

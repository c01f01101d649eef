"""The one-line LLM configuration: ``OpenAI(...)``, ``Anthropic(...)``, the URL form and
``Runtime(llm=...)``, over real HTTP to the mock server."""

from __future__ import annotations

import pytest

import agentrt
from agentrt.errors import ConfigError
from agentrt.llm import (
    DEFAULT_CONCURRENCY,
    MockLLMServer,
    PoolConfig,
    ProviderConfig,
)
from agentrt.llm._presets import from_url, pool_config


@pytest.mark.parametrize(
    ("url", "kind", "base", "model", "key_env"),
    [
        (
            "openai://api.openai.com/v1?model=gpt-4o-mini&api_key_env=OPENAI_API_KEY",
            "openai",
            "https://api.openai.com/v1",
            "gpt-4o-mini",
            "OPENAI_API_KEY",
        ),
        ("openai+http://127.0.0.1:8000/v1?model=llama", "openai", "http://127.0.0.1:8000/v1",
         "llama", None),
        ("openai+https://h:8443/v1/?model=m", "openai", "https://h:8443/v1", "m", None),
        ("anthropic://api.anthropic.com/v1?model=claude", "anthropic",
         "https://api.anthropic.com/v1", "claude", None),
        ("anthropic+http://[::1]:9000/v1?model=c", "anthropic", "http://[::1]:9000/v1", "c",
         None),
    ],
)  # fmt: skip
def test_url_form_names_scheme_host_model_and_key_variable(
    url: str, kind: str, base: str, model: str, key_env: str | None
) -> None:
    provider = from_url(url)
    assert (provider.kind, provider.base_urls, provider.default_model) == (kind, (base,), model)
    assert provider.api_key_env == key_env
    assert provider.api_key is None
    assert PoolConfig(providers=(provider,)).default_model == model


def test_url_form_takes_name_and_concurrency() -> None:
    provider = from_url("openai+http://h/v1?model=m&name=local&max_concurrency=7")
    assert (provider.name, provider.max_concurrency) == ("local", 7)
    mock = from_url("mock://")
    assert (mock.kind, PoolConfig(providers=(mock,)).default_model) == ("mock", "mock")


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("ftp://h/v1?model=m", "unknown scheme 'ftp'"),
        ("openai://h/v1", "names no model"),
        ("openai:///v1?model=m", "names no host"),
        ("openai://h:99999/v1?model=m", "Port out of range"),
        ("openai://h/v1?model=m&colour=red", "unknown URL parameter 'colour'"),
        ("openai://h/v1?model=m&model=n", "'model' given twice"),
        ("openai://h/v1?model=", "'model' is empty"),
        ("openai://h/v1?model=m&max_concurrency=lots", "'max_concurrency' must be an integer"),
        ("openai://h/v1?model=m&max_concurrency=-1", "max_concurrency"),
        ("api.openai.com/v1", "expected a URL such as"),
    ],
)
def test_bad_urls_raise_config_error_naming_the_fault(url: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace("?", r"\?")):
        from_url(url)


@pytest.mark.parametrize(
    "url",
    ["openai://:sk-SECRET-1@h/v1?model=m", "openai://h/v1?model=m&api_key=sk-SECRET-1"],
)
def test_a_key_in_the_url_is_refused_and_not_repeated(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_url(url)
    assert "api_key_env" in str(caught.value)
    assert "sk-SECRET-1" not in str(caught.value)
    assert "sk-SECRET-1" not in repr(caught.value)


def test_openai_and_anthropic_build_provider_configs() -> None:
    openai = agentrt.OpenAI(model="gpt-4o-mini", api_key="sk-abc", rpm=500)
    assert openai.base_urls == ("https://api.openai.com/v1",)
    assert (openai.kind, openai.name, openai.rpm) == ("openai", "openai", 500)
    assert isinstance(openai.api_key, agentrt.Secret)
    assert openai.read_api_key({}) == "sk-abc"
    claude = agentrt.Anthropic(model="claude", api_key_env="ANTHROPIC_API_KEY")
    assert (claude.kind, claude.base_urls) == ("anthropic", ("https://api.anthropic.com/v1",))
    assert claude.read_api_key({"ANTHROPIC_API_KEY": "k"}) == "k"
    pool = pool_config([claude, "openai+http://h/v1?model=m"])
    assert [p.kind for p in pool.providers] == ["anthropic", "openai"]
    assert pool.default_model == "claude"


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (lambda: agentrt.OpenAI(model=""), "providers[openai].model"),
        (lambda: agentrt.OpenAI(model="m", base_url="ftp://x"), "providers[openai].base_urls"),
        (lambda: agentrt.OpenAI(model="m", api_key=""), "providers[openai].api_key"),
        (lambda: agentrt.OpenAI(model="m", api_key="k", api_key_env="K"), "not both"),
        (lambda: agentrt.OpenAI(model="m", colour="red"), "colour"),
        (lambda: agentrt.OpenAI(model="m", kind="mock"), "providers[openai].kind"),
        (lambda: pool_config(42), "got int"),
        (lambda: pool_config([]), "got list"),
        (lambda: agentrt.Runtime(llm="gopher://h/?model=m"), "unknown scheme 'gopher'"),
        (
            lambda: agentrt.Runtime(
                agentrt.RuntimeConfig(llm=PoolConfig(providers=(ProviderConfig(name="x"),))),
                llm="mock://",
            ),
            "given twice",
        ),
    ],
)
def test_bad_one_line_configs_raise_config_error(build: object, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        build()  # type: ignore[operator]


def test_concurrency_defaults_per_kind_and_explicit_values_win() -> None:
    assert agentrt.OpenAI(model="m").max_concurrency == DEFAULT_CONCURRENCY["openai"] == 512
    assert agentrt.Anthropic(model="m").max_concurrency == DEFAULT_CONCURRENCY["anthropic"]
    assert ProviderConfig(kind="mock").max_concurrency == DEFAULT_CONCURRENCY["mock"]
    assert agentrt.OpenAI(model="m", max_concurrency=8).max_concurrency == 8
    with pytest.raises(ConfigError, match="max_concurrency"):
        ProviderConfig(max_concurrency=-1)


def test_pool_default_model_follows_failover_order() -> None:
    a = ProviderConfig(name="a", kind="mock")
    b = agentrt.OpenAI(model="bee", name="b")
    c = agentrt.OpenAI(model="cee", name="c")
    assert PoolConfig(providers=(a, b, c)).default_model == "bee"
    assert PoolConfig(providers=(a, b, c), failover=("c", "b")).default_model == "cee"
    assert PoolConfig().default_model == "mock"


class Probe(agentrt.Agent):
    """Records the model it was started with (``setup`` runs after the settings)."""

    seen: list[str]

    async def setup(self) -> None:
        type(self).seen.append(self.model)


class Pinned(Probe):
    model = "pinned-model"


async def test_runtime_llm_one_line_goes_over_http_with_the_default_model(
    server: MockLLMServer,
) -> None:
    Probe.seen = []
    llm = agentrt.OpenAI(base_url=server.url, api_key="sk-test-1", model="gpt-4o-mini")
    async with agentrt.Runtime(llm=llm) as rt:
        await rt.spawn(Probe, id="free")
        await rt.spawn(Pinned, id="pinned")
        await rt.spawn(Probe, id="chosen", model="chosen-model")
        reply = await rt.ask("free", "hello there")
    assert reply.text == "echo: hello there"
    assert server.state.counts["chat"] == 1
    assert Probe.seen == ["gpt-4o-mini", "pinned-model", "chosen-model"]


async def test_runtime_llm_url_form_goes_over_http(server: MockLLMServer) -> None:
    url = server.url.replace("http://", "openai+http://") + "?model=m1"
    async with agentrt.Runtime(llm=url) as rt:
        assert rt.config.llm.default_model == "m1"
        await rt.spawn(agentrt.Agent, id="a")
        assert (await rt.ask("a", "ping")).text == "echo: ping"
    assert server.state.counts["chat"] == 1


async def test_without_a_provider_default_agents_keep_the_mock_model() -> None:
    Probe.seen = []
    async with agentrt.Runtime() as rt:
        await rt.spawn(Probe, id="p")
    assert Probe.seen == ["mock"]

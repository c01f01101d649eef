"""One redaction helper serves every config, report, log line and error (issue 13 §5)."""

from __future__ import annotations

import logging

import pytest

from agentrt.errors import ConfigError
from agentrt.llm import PoolConfig, ProviderConfig
from agentrt.memory import RedisStore, StoreError
from agentrt.redact import MASK, config_repr, is_secret_name, redact_text, redact_url, redacted
from agentrt.runtime import CacheConfig, RuntimeConfig, StoreConfig
from agentrt.telemetry import OTelConfig
from agentrt.tools import RedisCacheConfig
from agentrt.tools._errors import CacheBackendError

SECRET = "S3cr3t-pa55"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"redis://:{SECRET}@cache:6379/0", "redis://:***@cache:6379/0"),
        (f"rediss://alice:{SECRET}@cache:6380/1", "rediss://alice:***@cache:6380/1"),
        (f"redis://:{SECRET}@@x@cache/0", "redis://:***@cache/0"),  # "@" in the password
        (f"unix://:{SECRET}@/run/redis.sock?db=0", "unix://:***@/run/redis.sock?db=0"),
        (f"https://h/v1?api_key={SECRET}&x=1", "https://h/v1?api_key=***&x=1"),
        (f"https://h/v1?Token={SECRET}", "https://h/v1?Token=***"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("https://user@host/v1", "https://user@host/v1"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_masks_urls_bearer_tokens_and_known_secrets() -> None:
    text = (
        f"cannot reach redis://:{SECRET}@h:6379/0 (Authorization: Bearer {SECRET}x); "
        f"key was {SECRET}y"
    )
    out = redact_text(text, secrets=[f"{SECRET}y"])
    assert SECRET not in out
    assert out.count(MASK) == 3


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("redis_password", True),
        ("api_key", True),
        ("apiKey", True),  # keys of JSON documents (header maps, scenario tables)
        ("auth_token", True),
        ("top_token", True),
        ("client_secret", True),
        ("api_key_env", False),
        ("token_env", False),
        ("max_tokens", False),
        ("tokens", False),
        ("per_token", True),  # only text values are masked, and per_token is a number
        ("url", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_redacted_walks_dataclasses_mappings_and_lists() -> None:
    tree = {
        "store": StoreConfig(kind="redis", url=f"redis://:{SECRET}@h/0"),
        "providers": [{"headers": {"Authorization": f"Bearer {SECRET}", "Accept": "x"}}],
        "api_key": SECRET,
        "api_key_env": "OPENAI_API_KEY",
        "per_token": 0.25,
        "events": [f"redis_down redis://u:{SECRET}@h"],
    }
    out = redacted(tree)
    assert SECRET not in repr(out)
    assert out["store"]["url"] == "redis://:***@h/0"
    assert out["providers"][0]["headers"] == {"Authorization": MASK, "Accept": "x"}
    assert out["api_key_env"] == "OPENAI_API_KEY"
    assert out["per_token"] == 0.25


def _configs() -> list[object]:
    url = f"redis://:{SECRET}@cache:6379/0"
    provider = ProviderConfig(
        name="p",
        kind="openai",
        base_urls=(f"https://u:{SECRET}@llm.example/v1",),
        headers={"X-Api-Key": SECRET, "User-Agent": "t"},
    )
    store = StoreConfig(kind="redis", url=url)
    cache = CacheConfig(kind="redis", redis=RedisCacheConfig(url=url))
    otel = OTelConfig(endpoint=f"https://u:{SECRET}@otel:4318", headers={"api-key": SECRET})
    runtime = RuntimeConfig(store=store, cache=cache, llm=PoolConfig(providers=(provider,)))
    return [provider, store, cache, cache.redis, otel, runtime]


@pytest.mark.parametrize("config", _configs(), ids=lambda c: type(c).__name__)
def test_no_config_shows_a_secret(config: object) -> None:
    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    assert SECRET not in repr(redacted(config))


def test_config_repr_names_the_class_and_fields() -> None:
    shown = config_repr(StoreConfig(kind="redis", url=f"redis://:{SECRET}@h/0"))
    assert shown.startswith("StoreConfig(kind='redis', ")
    assert "url='redis://:***@h/0'" in shown


async def test_errors_and_logs_do_not_show_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://:{SECRET}@127.0.0.1:1/0"
    errors: list[Exception] = [
        ConfigError("url", f"bad url {url!r}"),
        StoreError("redis", "get", "k", f"Error connecting to {url}"),
        CacheBackendError("redis", "get", f"Error connecting to {url}"),
    ]
    try:
        RedisCacheConfig(url=f"http://:{SECRET}@h/0")
    except ConfigError as exc:
        errors.append(exc)
    store = RedisStore(url, socket_timeout=0.5)
    try:
        with caplog.at_level(logging.DEBUG):
            with pytest.raises(StoreError) as caught:  # nothing listens on port 1
                await store.get("k")
            logging.getLogger("agentrt.test").error("store failed: %s (%r)", caught.value, store)
    finally:
        await store.aclose()
    errors.append(caught.value)
    assert len(errors) == 5
    for exc in errors:
        assert SECRET not in str(exc), exc
        assert SECRET not in repr(exc), exc
    assert caplog.records
    assert SECRET not in caplog.text


async def test_llm_replica_stats_do_not_show_a_url_password() -> None:
    from agentrt.llm._backend import HTTPBackend

    backend = HTTPBackend(
        ProviderConfig(name="p", kind="openai", base_urls=(f"http://u:{SECRET}@127.0.0.1:1/v1",))
    )
    try:
        assert SECRET not in repr(backend)
        assert SECRET not in repr(backend.stats())
        assert "http://u:***@127.0.0.1:1/v1" in backend.stats()["replicas"]
    finally:
        await backend.aclose()


def test_a_refused_otel_endpoint_does_not_show_its_password() -> None:
    with pytest.raises(ConfigError, match="'endpoint'") as info:
        OTelConfig(endpoint=f"grpc://u:{SECRET}@otel:4317")
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("field", ["export_interval_s", "span_flush_s", "prometheus_port"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1, True, 10**9])
def test_otel_numbers_are_bounded_naming_the_field(field: str, bad: object) -> None:
    # an infinite export interval was accepted: metrics were then never exported
    with pytest.raises(ConfigError, match=f"'{field}'"):
        OTelConfig(**{field: bad})  # type: ignore[arg-type]

"""Pure policies: config validation, token buckets, breaker, backoff, balancing, stats."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from support.clock import FakeClock

from agentrt.errors import ConfigError
from agentrt.llm import (
    BatchConfig,
    BreakerConfig,
    ChatRequest,
    DeadlineExceeded,
    PoolConfig,
    ProviderConfig,
    RetryPolicy,
    ToolSpec,
    estimate_tokens,
    request_key,
)
from agentrt.llm._accounting import ProviderStats
from agentrt.llm._balance import Balancer
from agentrt.llm._breaker import CircuitBreaker
from agentrt.llm._errors import BadRequest, ProviderUnavailable, RateLimited
from agentrt.llm._mockreply import mock_reply
from agentrt.llm._ratelimit import RateLimiter, TokenBucket
from agentrt.llm._retry import backoff_delay, is_retryable, parse_retry_after
from agentrt.llm._tokens import estimate_request_tokens
from agentrt.messages import Message

# -- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"max_concurrency": -1}, "providers[p].max_concurrency"),
        ({"max_queue": 0}, "providers[p].max_queue"),
        ({"rpm": -1}, "providers[p].rpm"),
        ({"base_urls": ("ftp://x",)}, "providers[p].base_urls"),
        ({"base_urls": ()}, "providers[p].base_urls"),
        ({"timeout_s": 0}, "providers[p].timeout_s"),
        ({"price_in_per_1k": -0.1}, "providers[p].price_in_per_1k"),
        ({"kind": "cohere"}, "providers[p].kind"),
        ({"transport": "curl"}, "providers[p].transport"),
    ],
)
def test_provider_config_validation_names_the_field(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        ProviderConfig(name="p", **kwargs)  # type: ignore[arg-type]
    assert info.value.key == key


def test_nested_and_pool_config_validation() -> None:
    with pytest.raises(ConfigError, match=r"retry\.jitter"):
        RetryPolicy(jitter=2)
    with pytest.raises(ConfigError, match=r"breaker\.failure_threshold"):
        BreakerConfig(failure_threshold=0)
    with pytest.raises(ConfigError, match=r"batch\.max_batch_size"):
        BatchConfig(max_batch_size=0)
    with pytest.raises(ConfigError, match="must be unique"):
        PoolConfig(providers=(ProviderConfig(name="a"), ProviderConfig(name="a")))
    with pytest.raises(ConfigError, match="failover"):
        PoolConfig(providers=(ProviderConfig(name="a"),), failover=("b",))


def test_config_aliases_chain_and_cost() -> None:
    local = ProviderConfig(name="local", models=("llama",), model_aliases={"small": "llama"})
    hosted = ProviderConfig(
        name="hosted",
        model_aliases={"small": "gpt-4o-mini"},
        price_in_per_1k=1.0,
        price_out_per_1k=2.0,
    )
    config = PoolConfig(providers=(local, hosted), failover=("hosted", "local"))
    assert [p.name for p in config.chain("small")] == ["hosted", "local"]
    assert [p.name for p in config.chain("gpt-4o")] == ["hosted"]
    assert local.resolve_model("small") == "llama"
    assert hosted.cost(1000, 500) == pytest.approx(2.0)
    with pytest.raises(TypeError):
        local.model_aliases["x"] = "y"  # type: ignore[index]


def test_api_key_is_read_from_the_named_variable_and_never_shown() -> None:
    config = ProviderConfig(name="p", api_key_env="MY_LLM_KEY")
    assert config.read_api_key({"MY_LLM_KEY": "sk-secret"}) == "sk-secret"
    assert "sk-secret" not in repr(config)
    with pytest.raises(ConfigError, match="'MY_LLM_KEY' is not set"):
        config.read_api_key({})
    assert ProviderConfig(name="q").read_api_key({"MY_LLM_KEY": "x"}) is None


# -- tokens, keys, mock replies --------------------------------------------------------------


def test_token_estimates_and_request_keys() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    request = ChatRequest(model="m", messages=(Message.user("x" * 40),), max_tokens=100)
    assert estimate_request_tokens(request) == 4 + 10 + 100
    same = ChatRequest(model="m", messages=(Message.user("x" * 40),), max_tokens=100)
    other = ChatRequest(model="m", messages=(Message.user("x" * 40),), max_tokens=101)
    assert request_key(request) == request_key(same) != request_key(other)
    assert not request.deterministic
    assert ChatRequest(model="m", messages=(), temperature=0).deterministic


def test_mock_reply_conventions() -> None:
    assert mock_reply("user", "hi", ()).content == "echo: hi"
    assert mock_reply("user", "[[words:3]]", ()).content == "w1 w2 w3"
    assert mock_reply("user", "say [[reply:exactly this]]", ()).content == "exactly this"
    assert mock_reply("tool", "42", ()).content == "tool result: 42"
    reply = mock_reply("user", '[[tool:add {"a": 1}]] [[tool:nope]]', ("add",))
    assert reply.finish == "tool_calls"
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("add", '{"a": 1}')]
    again = mock_reply("user", '[[tool:add {"a": 1}]] [[tool:nope]]', ("add",))
    assert again.tool_calls == reply.tool_calls  # deterministic ids
    tool = ToolSpec(name="add")
    assert tool.parameters == {"type": "object", "properties": {}}


# -- token buckets ---------------------------------------------------------------------------


def test_token_bucket_refills_and_goes_into_debt() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock)  # one per second, 60 stored
    assert bucket.delay(60) == 0
    bucket.take(60)
    assert bucket.delay(1) == pytest.approx(1.0)
    clock.now += 0.5
    assert bucket.delay(1) == pytest.approx(0.5)
    bucket.take(10)  # debt
    assert bucket.level == pytest.approx(-9.5)
    bucket.give(1000)
    assert bucket.level == 60  # capped at capacity
    assert bucket.delay(10_000) == 0  # requests above capacity are clamped, not stuck


async def test_rate_limiter_paces_and_reconciles() -> None:
    clock = FakeClock()
    limiter = RateLimiter("p", rpm=2, tpm=100, clock=clock)
    await limiter.acquire(40, None)
    await limiter.acquire(40, None)
    assert limiter.delay(1) > 0  # both requests of the minute used
    loop = asyncio.get_running_loop()
    with pytest.raises(DeadlineExceeded, match="rate limit"):
        await limiter.acquire(1, loop.time() + 1)
    limiter.reconcile(estimated=40, actual=10)  # the calls used fewer tokens
    assert limiter.tokens is not None
    assert limiter.tokens.level == pytest.approx(50)
    limiter.reconcile(estimated=10, actual=60)
    assert limiter.tokens.level == pytest.approx(0)
    assert RateLimiter("q").enabled is False


# -- breaker ---------------------------------------------------------------------------------


def test_breaker_closed_open_half_open_closed() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=2, reset_timeout_s=5), clock)
    assert breaker.allow()
    breaker.record(ok=False)
    assert breaker.state == "closed"
    breaker.record(ok=False)
    assert breaker.state == "open"
    assert not breaker.allow()
    assert not breaker.available()
    clock.now += 5
    assert breaker.available()
    assert breaker.allow()  # the probe
    assert breaker.state == "half_open"
    assert not breaker.allow()  # only one probe at a time
    breaker.record(ok=False)  # probe failed: open again
    assert breaker.state == "open"
    clock.now += 5
    assert breaker.allow()
    breaker.record(ok=True)
    assert breaker.state == "closed"
    assert breaker.stats()["opened"] == 2


def test_breaker_success_resets_the_failure_count_and_probe_release() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=2, reset_timeout_s=1), clock)
    breaker.record(ok=False)
    breaker.record(ok=True)
    breaker.record(ok=False)
    assert breaker.state == "closed"
    breaker.record(ok=False)
    clock.now += 1
    assert breaker.allow()
    breaker.release_probe()  # the probe was cancelled: another may go
    assert breaker.allow()


def test_breaker_stays_closed_through_a_chance_run_of_failures_among_successes() -> None:
    # the chaos scenario's trip: 5 instant 503s overtook slower successes in flight, the
    # breaker opened on a server answering 98% of requests, and 300 agents waited 10 s
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=5, window=20), FakeClock())
    for _ in range(15):
        breaker.record(ok=True)
    for _ in range(5):
        breaker.record(ok=False)
    assert breaker.failures == 5
    assert breaker.failure_rate() == 0.25
    assert breaker.state == "closed"
    for _ in range(4):  # a server that went down fails on: open at half the window
        breaker.record(ok=False)
    assert breaker.state == "closed"
    breaker.record(ok=False)
    assert (breaker.state, breaker.failure_rate()) == ("open", 0.5)


def test_breaker_opens_on_consecutive_failures_of_a_fresh_server_and_resets_window() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=3, reset_timeout_s=1), clock)
    for _ in range(3):
        breaker.record(ok=False)
    assert breaker.state == "open"
    clock.now += 1
    assert breaker.allow()
    breaker.record(ok=True)  # the probe closes it with a fresh window
    assert (breaker.state, breaker.failure_rate()) == ("closed", 0.0)
    for _ in range(3):
        breaker.record(ok=False)
    assert breaker.state == "open"
    assert breaker.stats()["opened"] == 2


def test_breaker_failure_rate_zero_opens_on_consecutive_failures_alone() -> None:
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=1, failure_rate=0.0), FakeClock())
    for _ in range(30):
        breaker.record(ok=True)
    breaker.record(ok=False)
    assert breaker.state == "open"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("failure_rate", 1.5),
        ("failure_rate", float("nan")),
        ("failure_rate", "half"),
        ("window", 0),
        ("window", 2.5),
        ("failure_threshold", True),
        ("half_open_probes", 0),
    ],
)
def test_breaker_config_refuses_bad_numbers_naming_the_key(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"breaker\.{field}"):
        BreakerConfig(**{field: value})  # type: ignore[arg-type]


# -- retries ---------------------------------------------------------------------------------


def test_backoff_is_exponential_capped_jittered_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=3.0, jitter=0.0, max_retry_after_s=10)
    assert [backoff_delay(policy, n, None) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    full = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0, jitter=1.0)
    # decorrelated: uniform(base, 3 x previous), capped
    assert backoff_delay(full, 2, None, rand=lambda: 0.0, previous=2.0) == 1.0
    assert backoff_delay(full, 2, None, rand=lambda: 1.0, previous=2.0) == 6.0
    assert backoff_delay(full, 5, None, rand=lambda: 1.0, previous=6.0) == 8.0
    # a Retry-After is a floor; jitter only adds to it
    assert backoff_delay(policy, 1, 7.0) == 7.0
    assert backoff_delay(full, 1, 1.0, rand=lambda: 0.0) == 1.0
    assert backoff_delay(full, 1, 1.0, rand=lambda: 1.0) == 2.0
    assert backoff_delay(full, 1, 60.0, rand=lambda: 1.0) == 68.0


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.25 ") == 0.25
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    when = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert parse_retry_after(when, now=lambda: 1445412480.0) == pytest.approx(10.0)


def test_retryable_errors() -> None:
    assert is_retryable(RateLimited("p", "slow down", retry_after=None))
    assert is_retryable(ProviderUnavailable("p", "down", status=503))
    assert not is_retryable(BadRequest("p", "nope", status=400))
    assert not is_retryable(ValueError("x"))


# -- balancing -------------------------------------------------------------------------------


def test_affinity_is_stable_and_spreads_agents() -> None:
    balancer = Balancer(3)
    idle, live = [0, 0, 0], [True, True, True]
    picks = {f"agent-{i}": balancer.pick(f"agent-{i}", idle, live) for i in range(300)}
    assert all(balancer.pick(a, idle, live) == r for a, r in picks.items())
    spread = Counter(picks.values())
    assert set(spread) == {0, 1, 2}
    assert min(spread.values()) > 50


def test_affinity_respects_load_bound_and_availability() -> None:
    balancer = Balancer(2)
    agent = next(f"a{i}" for i in range(100) if balancer.preferred(f"a{i}") == 0)
    assert balancer.pick(agent, [0, 0], [True, True]) == 0
    assert balancer.pick(agent, [50, 0], [True, True]) == 1  # replica 0 overloaded
    assert balancer.pick(agent, [0, 0], [False, True]) == 1  # replica 0's breaker open
    assert balancer.pick(agent, [0, 0], [False, False]) is None


def test_without_agent_least_outstanding_wins() -> None:
    balancer = Balancer(3)
    assert balancer.pick(None, [5, 1, 3], [True, True, True]) == 1
    assert balancer.pick(None, [5, 1, 3], [True, False, True]) == 2
    ties = {balancer.pick(None, [0, 0, 0], [True, True, True]) for _ in range(6)}
    assert ties == {0, 1, 2}  # ties rotate


def test_consistent_hashing_moves_few_agents_when_a_replica_is_added() -> None:
    three, four = Balancer(3), Balancer(4)
    agents = [f"agent-{i}" for i in range(1000)]
    moved = sum(three.preferred(a) != four.preferred(a) for a in agents)
    assert moved < 450  # about a quarter move; a modulo hash would move ~75%


# -- accounting ------------------------------------------------------------------------------


def test_latency_summaries_are_in_milliseconds() -> None:
    stats = ProviderStats()
    assert stats.view()["latency"]["p50_ms"] == 0.0
    for ms in (0.5, 3, 3, 3, 15, 15000):
        stats.latency.record(ms / 1000)
    summary = stats.view()["latency"]
    assert summary["count"] == 6
    assert summary["p50_ms"] == pytest.approx(3.0, rel=0.02)
    assert summary["p99_ms"] == pytest.approx(15000.0, rel=0.02)
    assert summary["max_ms"] == 15000.0


def test_retry_after_from_every_header_form() -> None:
    from agentrt.llm._retry import parse_duration, retry_after_from_headers

    date = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert retry_after_from_headers({"retry-after": date}, now=lambda: 1445412480.0) == 10.0
    assert retry_after_from_headers({"retry-after": "2"}) == 2.0
    assert retry_after_from_headers({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_from_headers({"llm_provider-retry-after": "60"}) == 60.0
    assert retry_after_from_headers({"llm_provider-retry-after-ms": "250"}) == 0.25
    # several explicit forms: the longest wins (never retry early)
    assert retry_after_from_headers({"retry-after": "1", "llm_provider-retry-after": "60"}) == 60
    # OpenAI's reset headers count only for an exhausted budget
    reset = {"x-ratelimit-reset-requests": "20ms", "x-ratelimit-reset-tokens": "6m0s"}
    assert retry_after_from_headers(reset) == 360.0
    assert retry_after_from_headers({**reset, "x-ratelimit-remaining-tokens": "900"}) == 0.02
    assert retry_after_from_headers({**reset, "retry-after": "3"}) == 3.0
    for bad in ("-1", "nan", "soon", ""):
        assert retry_after_from_headers({"retry-after": bad, "retry-after-ms": bad}) is None
    assert [parse_duration(v) for v in ("1s", "6m0s", "1h2m3.5s", "20ms", "1.5", "1x")] == [
        1.0,
        360.0,
        3723.5,
        0.02,
        1.5,
        None,
    ]


def test_jittered_retries_spread_and_never_undercut_retry_after() -> None:
    import random

    rand = random.Random(7).random
    policy = RetryPolicy()
    delays = [backoff_delay(policy, 1, 1.0, rand) for _ in range(200)]
    assert min(delays) >= 1.0
    assert max(delays) - min(delays) > 0.3  # no lock-step wave
    assert len({round(d, 3) for d in delays}) > 100


@pytest.mark.parametrize(
    ("body", "dialect"),
    [
        (b'{"error":{"message":"too long","code":"context_length_exceeded"}}', "OpenAI"),
        (
            b'{"type":"error","error":{"type":"invalid_request_error",'
            b'"message":"prompt is too long: 208310 tokens > 200000 maximum"}}',
            "Anthropic",
        ),
        (b'{"error":{"message":"litellm.ContextWindowExceededError: x","code":"400"}}', "LiteLLM"),
        (
            b'{"object":"error","message":"This model\'s maximum context length is 4096 tokens.",'
            b'"type":"BadRequestError","code":400}',
            "vLLM",
        ),
        (b'{"error":"the input length exceeds the context length"}', "Ollama"),
        (
            b'{"error":{"code":400,"type":"exceed_context_size_error",'
            b'"message":"request (4476 tokens) exceeds the available context size (4096 tokens)"}}',
            "llama.cpp",
        ),
    ],
)
def test_context_length_classification_per_server(body: bytes, dialect: str) -> None:
    from agentrt.llm import ContextLengthExceeded
    from agentrt.llm.providers._base import error_for_status

    error = error_for_status("p", 400, body, {})
    assert isinstance(error, ContextLengthExceeded), dialect
    assert not isinstance(error_for_status("p", 400, b'{"error":"bad tool"}', {}), type(error))

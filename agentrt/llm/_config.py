"""Configuration of the LLM pool and its providers.

Every object is a frozen, keyword-only dataclass with a default for each field, validated
when built (a :class:`agentrt.errors.ConfigError` names the bad field). A provider's API
key is either the key itself, held as a :class:`agentrt._secret.Secret` (``api_key``: shown
as ``***`` in every ``repr``, log line, error and ``agentrt config show``), or the name of
the *environment variable* holding it (``api_key_env``), read when the pool opens. Either
way the key never appears in a ``repr``, a log line or telemetry.

The one-line forms (``agentrt.OpenAI(...)``, ``agentrt.Anthropic(...)``, a URL such as
``"openai://api.openai.com/v1?model=gpt-4o-mini"``) build these objects:
:mod:`agentrt.llm._presets`.

Example::

    config = PoolConfig(
        providers=(
            ProviderConfig(
                name="local-vllm",
                kind="openai",
                base_urls=("http://10.0.0.5:8000/v1", "http://10.0.0.6:8000/v1"),
                models=("llama-3.1-8b",),
                model_aliases={"small": "llama-3.1-8b"},
                max_concurrency=256,
            ),
            ProviderConfig(
                name="openai",
                kind="openai",
                base_urls=("https://api.openai.com/v1",),
                api_key_env="OPENAI_API_KEY",
                model_aliases={"small": "gpt-4o-mini"},
                price_in_per_1k=0.00015,
                price_out_per_1k=0.0006,
            ),
        ),
    )
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from agentrt._secret import Secret
from agentrt.errors import ConfigError
from agentrt.llm._cache import CACHE_OFF, ResponseCachePolicy
from agentrt.redact import config_repr

__all__ = [
    "DEFAULT_CONCURRENCY",
    "BatchConfig",
    "BreakerConfig",
    "PoolConfig",
    "ProviderConfig",
    "ProviderKind",
    "RetryPolicy",
    "SharedLimits",
    "TransportKind",
]

ProviderKind = Literal["openai", "anthropic", "mock"]
"""``openai``: OpenAI-compatible HTTP API (OpenAI, vLLM, llama.cpp, Ollama, LiteLLM);
``anthropic``: Anthropic Messages API; ``mock``: in-process deterministic fake."""

TransportKind = Literal["aiohttp", "httpx"]
"""HTTP transport under the ``httpx.AsyncClient``: ``aiohttp`` (default, measured fastest,
see docs/llm.md) or httpx's own ``httpx`` (httpcore) transport."""


#: ``ProviderConfig.max_concurrency`` when left at 0, per provider kind. Hosted APIs limit
#: requests and tokens per minute, not connections (OpenAI: 500 rpm at usage tier 1, 5,000
#: at tier 2; Anthropic: 50 rpm at tier 1, 4,000 at tier 4), so calls in flight are bounded
#: by rpm x latency / 60 (Little's law): 5,000 rpm of 6 s calls is 500 in flight; 4,000 rpm
#: of 4 s calls is ~270. A local OpenAI-compatible server (vLLM, whose scheduler batches
#: 256 sequences by default) keeps its batch full at 512. The mock answers in process.
#: Past the limit callers wait in the provider's queue (``agentrt top``: "waiting on
#: provider limit"); past rpm/tpm, the provider's 429s are retried after Retry-After.
DEFAULT_CONCURRENCY: Mapping[str, int] = MappingProxyType(
    {"openai": 512, "anthropic": 256, "mock": 1024}
)


def _positive(key: str, value: float, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not ok or math.isnan(value):
        raise ConfigError(key, f"must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def _count(key: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(key, f"must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Retries with decorrelated-jitter backoff that honours the server's Retry-After.

    Without a Retry-After, retry ``n`` (1-based) waits about
    ``min(max_delay_s, base_delay_s * 2**(n-1))``, randomised by decorrelated jitter
    (``jitter``: 0 = none, 1 = full; see :func:`agentrt.llm._retry.backoff_delay`). With
    one, it waits at least the Retry-After, plus a jittered spread. A Retry-After longer
    than ``max_retry_after_s``, or one that ends after the caller's deadline, is not waited
    for: the error is raised at once (or the next provider tried). Retried: connect
    errors, 408, 409, 429, 5xx, 529. Never retried: 400, 401, 403, 404, 422, malformed
    responses.

    Example: ``RetryPolicy(max_retries=3, base_delay_s=0.2)``
    """

    max_retries: int = 3
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0
    jitter: float = 0.5
    max_retry_after_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigError("retry.max_retries", f"must be >= 0, got {self.max_retries!r}")
        _positive("retry.base_delay_s", self.base_delay_s, allow_zero=True)
        _positive("retry.max_delay_s", self.max_delay_s, allow_zero=True)
        _positive("retry.max_retry_after_s", self.max_retry_after_s, allow_zero=True)
        if not 0 <= self.jitter <= 1:
            raise ConfigError("retry.jitter", f"must be within [0, 1], got {self.jitter!r}")


@dataclass(frozen=True, kw_only=True)
class BreakerConfig:
    """A circuit breaker per (provider, replica base URL, model, endpoint kind).

    Closed -> open after ``failure_threshold`` consecutive failing *requests* (a request's
    retries count once) **and** at least ``failure_rate`` of the last ``window`` finished
    requests failing; open for ``reset_timeout_s``; then half-open: one probe at a time,
    ``half_open_probes`` successful probes in a row close it, a failed probe opens it
    again. What counts as a failure: docs/llm.md.

    Why both: under concurrency, quick failures (an instant 503) overtake slow successes
    still in flight, so a few consecutive failures happen by chance on a server that
    answers 98% of requests; the rate keeps such a server's breaker closed, while a
    server that really went down fails every request and trips it within ``window``.

    Example: ``BreakerConfig(failure_threshold=5, failure_rate=0.5, reset_timeout_s=10.0)``
    """

    failure_threshold: int = 5
    failure_rate: float = 0.5
    window: int = 20
    reset_timeout_s: float = 10.0
    half_open_probes: int = 1

    def __post_init__(self) -> None:
        _count("breaker.failure_threshold", self.failure_threshold, 1)
        _count("breaker.window", self.window, 1)
        rate = self.failure_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise ConfigError("breaker.failure_rate", f"must be within [0, 1], got {rate!r}")
        _positive("breaker.reset_timeout_s", self.reset_timeout_s, allow_zero=True)
        _count("breaker.half_open_probes", self.half_open_probes, 1)


@dataclass(frozen=True, kw_only=True)
class BatchConfig:
    """Embedding micro-batching: texts wait up to ``max_wait_ms`` for companions, and a
    batch is sent as soon as it holds ``max_batch_size`` texts. ``max_batch_size=1``
    disables batching.

    Example: ``BatchConfig(max_batch_size=64, max_wait_ms=2.0)``
    """

    max_batch_size: int = 64
    max_wait_ms: float = 2.0

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ConfigError("batch.max_batch_size", "must be >= 1")
        _positive("batch.max_wait_ms", self.max_wait_ms, allow_zero=True)


@dataclass(frozen=True, kw_only=True)
class SharedLimits:
    """Cluster-wide rpm/tpm limits: each provider's token buckets live in Redis, shared by
    every node of ``cluster`` (docs/llm.md, "Cluster-wide LLM limits").

    - ``url``: the Redis server (its password is masked in ``repr``).
    - ``cluster``: the name the nodes share; ``key_prefix`` starts every key
      (``{key_prefix}limits:{cluster}:{provider}:rpm|tpm|pauses``).
    - ``nodes``: the nodes expected (default 1): while Redis cannot be reached each node
      falls back to its share ``rpm / nodes`` (and ``tpm / nodes``), and a lease holds at
      most ``1 / nodes`` of ``lease_s``'s worth of the limit.
    - ``burst_s``: the bucket holds ``burst_s`` seconds of the limit (default 1.0); a
      fresh bucket starts full.
    - ``lease_s``: a node takes up to ``lease_s`` seconds of the limit (split by
      ``nodes``, at least one unit) per Redis round trip and spends it locally
      (default 0.1).
    - ``op_timeout_s``: a Redis call slower than this (default 0.5) counts as an outage;
      ``retry_s``: during an outage Redis is tried again at most this often (default 1.0).

    Over any window of ``W`` seconds a provider limited to ``r`` per second receives at
    most ``r * (W + burst_s + lease_s) + nodes`` requests (tokens likewise): with the
    defaults, 1.02x the limit over a minute.

    Example: ``SharedLimits(url="redis://10.0.0.9:6379/0", cluster="prod", nodes=3)``
    """

    url: str = "redis://127.0.0.1:6379/0"
    cluster: str = "agentrt"
    key_prefix: str = "agentrt:"
    nodes: int = 1
    burst_s: float = 1.0
    lease_s: float = 0.1
    op_timeout_s: float = 0.5
    retry_s: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ConfigError("shared_limits.url", "must be a redis://, rediss:// or unix:// URL")
        if not isinstance(self.cluster, str) or not self.cluster.strip():
            raise ConfigError("shared_limits.cluster", "must be a non-empty name")
        if not isinstance(self.key_prefix, str):
            raise ConfigError("shared_limits.key_prefix", "must be a string")
        _count("shared_limits.nodes", self.nodes, 1)
        for key in ("burst_s", "lease_s", "op_timeout_s", "retry_s"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"shared_limits.{key}", f"must be a number, got {value!r}")
            _positive(f"shared_limits.{key}", value)
            if math.isinf(value):
                raise ConfigError(f"shared_limits.{key}", "must be finite")

    __repr__ = config_repr


def _frozen_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True, kw_only=True)
class ProviderConfig:
    """One provider: where it is, how much it may be asked, what it costs.

    - ``base_urls``: one per replica of the same model server (balanced least-outstanding
      with agent affinity); e.g. ``("https://api.openai.com/v1",)``. Unused by ``mock``.
    - ``api_key``: the key itself, a :class:`~agentrt._secret.Secret` (a ``str`` is wrapped
      in one): it prints as ``***``. ``api_key_env``: the name of the environment variable
      holding the key instead. Neither: no key. Both: ``ConfigError``.
    - ``default_model``: the model agents use when their class names none (see
      :attr:`PoolConfig.default_model`); None: the provider names no default.
    - ``models``: models served (empty: any); ``model_aliases`` maps a requested name to
      the provider's own name.
    - ``max_concurrency``: requests in flight at once (0, the default: the kind's
      :data:`DEFAULT_CONCURRENCY`, openai 512, anthropic 256, mock 1,024); ``max_queue``:
      requests waiting for a slot (beyond it callers wait until their deadline, then get
      ``Overloaded``).
    - ``rpm``/``tpm``: requests/tokens per minute (``0``: unlimited).
    - ``price_in_per_1k``/``price_out_per_1k``: cost per 1,000 input/output tokens;
      ``price_cached_in_per_1k`` / ``price_cache_write_per_1k``: per 1,000 input tokens
      read from / written to the provider's prompt cache (None: ``price_in_per_1k``).
      Reasoning tokens are output tokens.
    - ``timeout_s``: HTTP read timeout per attempt; ``connect_timeout_s`` to connect.
    - ``headers``: extra HTTP headers; values of secret-looking ones (``Authorization``,
      ``X-Api-Key``...) are masked in ``repr``, but prefer ``api_key_env`` for keys.
    - ``max_connections``: HTTP connections per replica (``0``: ``max_concurrency``).
    - ``transport``: ``"aiohttp"`` (default) or ``"httpx"``; see :data:`TransportKind`.
    - ``max_response_bytes``: the largest response body accepted (default 16 MiB; for a
      stream, all its bytes together); ``max_event_bytes``: the largest single SSE event
      or line (default 1 MiB). Over either: :class:`ResponseTooLarge`, connection closed.
    - ``mock_latency_ms``: only for ``kind="mock"``, the in-process provider's latency.
    """

    name: str = "default"
    kind: ProviderKind = "openai"
    base_urls: tuple[str, ...] = ("http://127.0.0.1:8000/v1",)
    api_key: Secret | str | None = None
    api_key_env: str | None = None
    default_model: str | None = None
    models: tuple[str, ...] = ()
    model_aliases: Mapping[str, str] = field(default_factory=dict)
    max_concurrency: int = 0
    max_queue: int = 1024
    rpm: int = 0
    tpm: int = 0
    price_in_per_1k: float = 0.0
    price_out_per_1k: float = 0.0
    price_cached_in_per_1k: float | None = None
    price_cache_write_per_1k: float | None = None
    timeout_s: float = 120.0
    connect_timeout_s: float = 10.0
    max_connections: int = 0
    transport: TransportKind = "aiohttp"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    headers: Mapping[str, str] = field(default_factory=dict)
    anthropic_version: str = "2023-06-01"
    max_response_bytes: int = 16 * 1024 * 1024
    max_event_bytes: int = 1024 * 1024
    mock_latency_ms: float = 0.0

    def __post_init__(self) -> None:
        prefix = f"providers[{self.name}]"
        if not self.name:
            raise ConfigError("providers[].name", "must not be empty")
        if self.kind not in ("openai", "anthropic", "mock"):
            raise ConfigError(f"{prefix}.kind", f"unknown provider kind {self.kind!r}")
        if self.kind != "mock":
            if not self.base_urls:
                raise ConfigError(f"{prefix}.base_urls", "needs at least one URL")
            for url in self.base_urls:
                if not url.startswith(("http://", "https://")):
                    raise ConfigError(f"{prefix}.base_urls", f"not an http(s) URL: {url!r}")
        self._check_key(prefix)
        if self.default_model is not None and not (
            isinstance(self.default_model, str) and self.default_model.strip()
        ):
            raise ConfigError(f"{prefix}.default_model", "must be a model name or None")
        if self.max_concurrency == 0:
            object.__setattr__(self, "max_concurrency", DEFAULT_CONCURRENCY[self.kind])
        for key in ("max_concurrency", "max_queue", "max_response_bytes", "max_event_bytes"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{prefix}.{key}", "must be >= 1")
        for key in ("rpm", "tpm", "max_connections"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{prefix}.{key}", "must be >= 0 (0 means unlimited)")
        for key in ("price_in_per_1k", "price_out_per_1k", "mock_latency_ms"):
            _positive(f"{prefix}.{key}", getattr(self, key), allow_zero=True)
        for key in ("price_cached_in_per_1k", "price_cache_write_per_1k"):
            if getattr(self, key) is not None:
                _positive(f"{prefix}.{key}", getattr(self, key), allow_zero=True)
        _positive(f"{prefix}.timeout_s", self.timeout_s)
        _positive(f"{prefix}.connect_timeout_s", self.connect_timeout_s)
        if self.transport not in ("aiohttp", "httpx"):
            raise ConfigError(f"{prefix}.transport", f"unknown transport {self.transport!r}")
        object.__setattr__(self, "model_aliases", _frozen_map(self.model_aliases))
        object.__setattr__(self, "headers", _frozen_map(self.headers))

    def _check_key(self, prefix: str) -> None:
        key: object = self.api_key
        if isinstance(key, str):
            if not key:
                raise ConfigError(f"{prefix}.api_key", "is empty (None: no key)")
            key = Secret(key)
            object.__setattr__(self, "api_key", key)
        if key is not None and not isinstance(key, Secret):
            raise ConfigError(f"{prefix}.api_key", f"must be a str or Secret, not {type(key)}")
        if key is not None and self.api_key_env is not None:
            raise ConfigError(f"{prefix}.api_key", "give api_key or api_key_env, not both")

    __repr__ = config_repr  # URL passwords, the API key and secret-looking headers masked

    def serves(self, model: str) -> bool:
        """True when this provider can answer ``model`` (directly or through an alias)."""
        return not self.models or model in self.models or model in self.model_aliases

    def resolve_model(self, model: str) -> str:
        """The provider's own name for ``model`` (the alias target, or ``model`` itself)."""
        return self.model_aliases.get(model, model)

    def read_api_key(self, env: Mapping[str, str]) -> str | None:
        """The API key: ``api_key`` revealed, else ``env[api_key_env]``; None when neither
        is configured.

        Raises ConfigError when the variable is configured but unset or empty.
        """
        if isinstance(self.api_key, Secret):  # a str was wrapped in __post_init__
            return self.api_key.reveal()
        if self.api_key_env is None:
            return None
        key = env.get(self.api_key_env)
        if not key:
            raise ConfigError(
                f"providers[{self.name}].api_key_env",
                f"environment variable {self.api_key_env!r} is not set",
            )
        return key

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        *,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float:
        """Cost of one response from its token counts (cache reads and writes are parts
        of ``input_tokens``, priced at their own rates when configured)."""
        price_in = self.price_in_per_1k
        read = self.price_cached_in_per_1k
        write = self.price_cache_write_per_1k
        plain = max(0, input_tokens - cache_read_tokens - cache_write_tokens)
        total = plain * price_in + output_tokens * self.price_out_per_1k
        total += cache_read_tokens * (price_in if read is None else read)
        total += cache_write_tokens * (price_in if write is None else write)
        return total / 1000


@dataclass(frozen=True, kw_only=True)
class PoolConfig:
    """The pool: its providers and the failover chain.

    - ``providers``: provider configs, names unique.
    - ``failover``: provider names in the order a request tries them; empty means the
      order of ``providers``. Only providers that serve the requested model are tried.
    - ``default_timeout_s``: deadline given to requests that pass none.
    - ``coalesce``: merge identical in-flight deterministic (temperature 0) requests.
    - ``response_cache``: the pool's default :class:`ResponseCachePolicy` (off), which a
      request's or agent's own policy overrides (docs/llm.md, "Response cache").
    - ``shared_limits``: a :class:`SharedLimits` to make every provider's rpm/tpm
      cluster-wide through Redis; None (the default): each node limits on its own.
    - :attr:`default_model` (read-only): the model of agents whose class names none.

    Example: ``PoolConfig(providers=(ProviderConfig(name="mock", kind="mock"),))``
    """

    providers: tuple[ProviderConfig, ...] = (ProviderConfig(name="mock", kind="mock"),)
    failover: tuple[str, ...] = ()
    default_timeout_s: float = 300.0
    coalesce: bool = True
    response_cache: ResponseCachePolicy = CACHE_OFF
    shared_limits: SharedLimits | None = None

    def __post_init__(self) -> None:
        if self.shared_limits is not None and not isinstance(self.shared_limits, SharedLimits):
            raise ConfigError(
                "shared_limits",
                f"expected SharedLimits or None, got {type(self.shared_limits).__name__}",
            )
        if not isinstance(self.response_cache, ResponseCachePolicy):
            raise ConfigError(
                "response_cache",
                f"expected a ResponseCachePolicy, got {type(self.response_cache).__name__}",
            )
        if not self.providers:
            raise ConfigError("providers", "needs at least one provider")
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names):
            raise ConfigError("providers", f"provider names must be unique: {names}")
        for name in self.failover:
            if name not in names:
                raise ConfigError("failover", f"unknown provider {name!r}")
        _positive("default_timeout_s", self.default_timeout_s)

    @property
    def default_model(self) -> str:
        """The model an agent uses when neither its class nor its spawn options name one:
        the ``default_model`` of the first provider (in failover order) that has one, else
        ``"mock"`` (the in-process provider's model)."""
        by_name = {p.name: p for p in self.providers}
        order = [by_name[n] for n in self.failover] if self.failover else self.providers
        return next((p.default_model for p in order if p.default_model), "mock")

    def chain(self, model: str) -> tuple[ProviderConfig, ...]:
        """The providers ``model`` is tried on, in failover order."""
        by_name = {p.name: p for p in self.providers}
        order = [by_name[n] for n in self.failover] if self.failover else list(self.providers)
        return tuple(p for p in order if p.serves(model))

"""The sections of a load scenario: one frozen dataclass per TOML table.

Each section checks its own fields when built (:func:`agentrt._configfile.build` names the
dotted key and line of a :class:`~agentrt.errors.ConfigError`) and turns its durations
(seconds, or text with a unit such as ``"250ms"``) into seconds. The whole file, and the
checks that span sections, are :class:`~agentrt.loadtest._scenario.Scenario`'s; the module
docstring of :mod:`agentrt.loadtest._scenario` describes every table.
"""

from __future__ import annotations

import itertools
import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.loadtest._cluster_spec import (
    Drain,
    Join,
    NodeKill,
    NodePause,
    RedisRestart,
    RollingRestart,
)
from agentrt.loadtest._quantity import set_seconds
from agentrt.redact import config_repr
from agentrt.tools.cache import MemcachedCacheConfig

if TYPE_CHECKING:
    from agentrt.llm._mockfaults import RetryHeader

__all__ = [
    "MAX_AGENTS",
    "TURN_KINDS",
    "AgentsSpec",
    "ConversationSpec",
    "Duration",
    "FaultsSpec",
    "LLMSlowdown",
    "LLMSpec",
    "MockLLMSpec",
    "RedisOutage",
    "RuntimeSpec",
    "Stage",
    "ThinkTime",
    "ThresholdSpec",
    "ToolsSpec",
    "set_seconds",
]

Duration = float | str
TURN_KINDS = ("lookup", "calc", "chat", "long")
MAX_AGENTS = 10_000_000
_Agents = Annotated[int, Bounds(low=1, high=MAX_AGENTS)]
_Positive = Annotated[float, Bounds(low=0, open_low=True, high=1e9)]
_NonNegative = Annotated[float, Bounds(low=0, high=1e9)]


def _fraction(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not 0.0 <= value <= 1.0:  # NaN fails this too
            raise ConfigError(name, f"is a fraction, must be between 0 and 1, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Stage:
    """A ramp stage: move linearly to ``target`` active agents over ``duration``."""

    duration: Duration
    target: Annotated[int, Bounds(low=0, high=MAX_AGENTS)]

    def __post_init__(self) -> None:
        set_seconds(self, "duration", allow_zero=False)
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class AgentsSpec:
    """Who talks: ``count`` agents of ``agent_class`` (TOML key ``class``), their ramp and
    how long each talks. Default: all spawned at once, 5 turns each."""

    agent_class: str = field(default="agentrt.loadtest:LoadAgent", metadata={"key": "class"})
    count: _Agents = 100
    model: str = "mock"
    models: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    spawn_rate: _Positive | None = None
    stages: tuple[Stage, ...] = ()
    turns: Annotated[int, Bounds(low=1, high=1_000_000)] | None = None
    duration: Duration | None = None

    def __post_init__(self) -> None:
        set_seconds(self, "duration", allow_zero=False)
        check_fields(self)
        if any(not isinstance(m, str) or not m for m in self.models):
            raise ConfigError("models", "must be non-empty model names")
        if self.stages and self.spawn_rate is not None:
            raise ConfigError("stages", "give either spawn_rate or stages, not both")
        if self.stages:
            if self.turns is not None or self.duration is not None:
                raise ConfigError("stages", "stages set the run's length: drop turns/duration")
            peak = max(s.target for s in self.stages)
            if peak > self.count:
                raise ConfigError("stages", f"a target of {peak} exceeds count = {self.count}")
        elif (self.turns is None) == (self.duration is None):
            raise ConfigError("turns", "give exactly one of turns (per agent) or duration")

    @property
    def stages_seconds(self) -> float:
        return sum(float(s.duration) for s in self.stages)

    def model_of(self, index: int) -> str:
        """The model agent ``index`` talks to: ``models`` round-robin, else ``model``."""
        return self.models[index % len(self.models)] if self.models else self.model


@dataclass(frozen=True, kw_only=True)
class ConversationSpec:
    """What users say: ``messages`` (cycled), ``templates`` filled from ``variables``
    (plus ``{agent}``, ``{turn}`` and ``{key}``, a lookup key drawn from the tools'
    repeat distribution), or a ``generator``. None of them: the tool mix."""

    messages: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()
    variables: dict[str, tuple[str, ...]] = field(default_factory=dict)
    generator: str | None = None
    first_message: str | None = "Hi! I have a few questions."

    def __post_init__(self) -> None:
        given = [n for n in ("messages", "templates", "generator") if getattr(self, n)]
        if len(given) > 1:
            raise ConfigError(given[1], f"give only one of messages, templates, generator: {given}")
        if self.variables and not self.templates:
            raise ConfigError("variables", "only templates use variables")
        for name, values in self.variables.items():
            if not values:
                raise ConfigError(f"variables.{name}", "needs at least one value")
        for i, template in enumerate(self.templates):
            _check_template(template, self.variables, f"templates[{i}]")

    @property
    def kind(self) -> str:
        for name in ("messages", "templates", "generator"):
            if getattr(self, name):
                return name
        return "mix"


def _check_template(template: str, variables: dict[str, tuple[str, ...]], key: str) -> None:
    known = {"agent", "turn", "key", *variables}
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ConfigError(
            key, f"bad template {template!r}: {exc} (write braces as {{{{ }}}})"
        ) from None
    unknown = sorted(n for n in names if n not in known)
    if unknown:
        raise ConfigError(key, f"unknown variables {unknown}; known: {sorted(known)}")


@dataclass(frozen=True, kw_only=True)
class ThinkTime:
    """Pause between a reply and the user's next turn, drawn from ``distribution`` with
    ``mean`` (lognormal: ``sigma``), clamped to [``min``, ``max``]. Default: exponential,
    mean 500 ms, at most 5 s."""

    distribution: Literal["constant", "uniform", "exponential", "lognormal"] = "exponential"
    mean: Duration = 0.5
    min: Duration = 0.0
    max: Duration = 5.0
    sigma: Annotated[float, Bounds(low=0, open_low=True, high=10)] = 0.5

    def __post_init__(self) -> None:
        set_seconds(self, "mean", "min", "max")
        check_fields(self)
        if float(self.min) > float(self.max):
            raise ConfigError("min", f"{self.min} s is above max = {self.max} s")


@dataclass(frozen=True, kw_only=True)
class ToolsSpec:
    """The tool mix of generated turns and the repeat distribution of lookup keys.

    ``mix``: weights of turn kinds (``lookup``: the cached knowledge-base tool, ``calc``:
    an uncached tool, ``chat``: a plain answer, ``long``: a long answer). ``keys`` lookup
    keys, drawn ``zipf`` (exponent ``zipf_s``: few keys dominate, most lookups hit the
    cache), ``uniform`` or ``unique`` (never repeated: every lookup misses).
    """

    mix: dict[str, float] = field(
        default_factory=lambda: {"lookup": 0.45, "calc": 0.15, "chat": 0.3, "long": 0.1}
    )
    keys: Annotated[int, Bounds(low=1, high=100_000_000)] = 200
    repeat: Literal["zipf", "uniform", "unique"] = "zipf"
    zipf_s: Annotated[float, Bounds(low=0, open_low=True, high=100)] = 1.1
    latency: Duration = 0.02
    cache_ttl: Duration = 600.0

    def __post_init__(self) -> None:
        set_seconds(self, "latency")
        set_seconds(self, "cache_ttl", allow_zero=False)
        check_fields(self)
        for kind, weight in self.mix.items():
            if kind not in TURN_KINDS:
                raise ConfigError(f"mix.{kind}", f"unknown turn kind; known: {list(TURN_KINDS)}")
            if weight < 0:
                raise ConfigError(f"mix.{kind}", f"must be >= 0, got {weight}")
        if not any(self.mix.values()):
            raise ConfigError("mix", "needs at least one weight > 0")


@dataclass(frozen=True, kw_only=True)
class MockLLMSpec:
    """The mock server's behaviour: ``latency`` plus uniform ``jitter`` plus ``per_token``
    per output token; fractions of requests answered 500/503/429; the form of "wait"
    (``retry_header``); ``drop_after_error`` (keep-alive connections dropped after an
    error answer, as some proxies do); ``profiles``: per-model overrides of the mock
    server's fields (``{"model-a" = {error_rate_500 = 1.0}}``), checked when loaded."""

    latency: Duration = 0.05
    jitter: Duration = 0.0
    per_token: Duration = 0.0
    error_rate_500: float = 0.0
    error_rate_503: float = 0.0
    error_rate_429: float = 0.0
    rate_limit_rps: _NonNegative = 0.0
    retry_after: Duration = 1.0
    retry_header: str = "retry-after"
    drop_after_error: bool = False
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_seconds(self, "latency", "jitter", "per_token", "retry_after")
        _fraction(self, "error_rate_500", "error_rate_503", "error_rate_429")
        check_fields(self)
        from agentrt.llm._mockconfig import MockServerConfig

        try:  # the mock server checks its own fields, the profiles' included
            MockServerConfig(
                retry_header=cast("RetryHeader", self.retry_header), profiles=self.profiles
            )
        except ConfigError as exc:
            raise ConfigError(exc.key.removeprefix("mock_llm."), exc.problem) from None


@dataclass(frozen=True, kw_only=True)
class LLMCacheSpec:
    """The LLM response cache's pool-wide policy for the run (``PoolConfig.response_cache``):
    off unless ``enabled``; answers kept for ``ttl``; only temperature-0 requests unless
    ``allow_nonzero_temperature`` (give the agents ``options = { temperature = 0 }``)."""

    enabled: bool = False
    ttl: Duration = 3600.0
    allow_nonzero_temperature: bool = False

    def __post_init__(self) -> None:
        set_seconds(self, "ttl", allow_zero=False)


@dataclass(frozen=True, kw_only=True)
class LLMSpec:
    """Where turns' completions come from: the runner's mock server (default) or an
    external OpenAI-compatible ``url`` (API key from ``api_key_env``); ``cache``: the LLM
    response cache (:class:`LLMCacheSpec`, off by default); ``price_in_per_1k`` /
    ``price_out_per_1k``: what 1,000 input / output tokens cost (0: costs are not
    counted), for the reports' costs and savings."""

    kind: Literal["mock", "external"] = "mock"
    url: str | None = None
    api_key_env: str | None = None
    timeout: Duration = 30.0
    max_concurrency: Annotated[int, Bounds(low=1, high=100_000)] = 1024
    retries: Annotated[int, Bounds(low=0, high=100)] = 2
    price_in_per_1k: Annotated[float, Bounds(low=0, high=1_000)] = 0.0
    price_out_per_1k: Annotated[float, Bounds(low=0, high=1_000)] = 0.0
    mock: MockLLMSpec = field(default_factory=MockLLMSpec)
    cache: LLMCacheSpec = field(default_factory=LLMCacheSpec)

    __repr__ = config_repr  # the url may carry credentials

    def __post_init__(self) -> None:
        set_seconds(self, "timeout", allow_zero=False)
        if self.kind == "external" and not self.url:
            raise ConfigError("url", 'kind = "external" needs the server\'s url')
        if self.kind == "mock" and self.url:
            raise ConfigError("url", 'only kind = "external" takes a url')
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class RedisOutage:
    """The runner's redis-server is stopped at ``start`` (since the run began) for
    ``duration``, then started again on the same port."""

    start: Duration
    duration: Duration

    def __post_init__(self) -> None:
        set_seconds(self, "start")
        set_seconds(self, "duration", allow_zero=False)


@dataclass(frozen=True, kw_only=True)
class LLMSlowdown:
    """The mock LLM answers ``latency`` slower from ``start`` (since the run began) for
    ``duration``, then as before (``POST /mock/faults`` on the running server)."""

    start: Duration
    duration: Duration
    latency: Duration

    def __post_init__(self) -> None:
        set_seconds(self, "start", "latency")
        set_seconds(self, "duration", allow_zero=False)


@dataclass(frozen=True, kw_only=True)
class FaultsSpec:
    """Faults to inject. ``crash_rate``: fraction of turns during which the agent is
    killed (its caller gets ``AgentCrashed``, its supervisor restarts it from its
    snapshot); ``llm_error_rate``: fraction of LLM requests answered 503;
    ``llm_timeout_rate``: fraction that never answer (the pool times out after
    ``llm.timeout``); ``redis_outage``: windows with Redis down; ``llm_slowdown``:
    windows with the mock LLM slower (an injected slowdown, e.g. to see an alert fire and
    clear); ``slow_tool_rate``: fraction of tool executions taking ``slow_tool_latency``
    longer. With ``[cluster]``: ``node_kill``, ``node_pause``, ``redis_restart``,
    ``drain``, ``join`` and ``rolling_restart`` on a schedule
    (:mod:`agentrt.loadtest._cluster_spec`)."""

    crash_rate: float = 0.0
    llm_error_rate: float = 0.0
    llm_timeout_rate: float = 0.0
    redis_outage: tuple[RedisOutage, ...] = ()
    llm_slowdown: tuple[LLMSlowdown, ...] = ()
    slow_tool_rate: float = 0.0
    slow_tool_latency: Duration = 2.0
    node_kill: tuple[NodeKill, ...] = ()
    node_pause: tuple[NodePause, ...] = ()
    redis_restart: tuple[RedisRestart, ...] = ()
    drain: tuple[Drain, ...] = ()
    join: tuple[Join, ...] = ()
    rolling_restart: tuple[RollingRestart, ...] = ()

    @property
    def node_faults(self) -> int:
        """How many faults of the runner's node processes are scheduled (kills, pauses,
        drains, joins, rolling restarts)."""
        return sum(
            len(getattr(self, k))
            for k in ("node_kill", "node_pause", "drain", "join", "rolling_restart")
        )

    @property
    def cluster_faults(self) -> int:
        """How many cluster faults (node faults, Redis restarts) are scheduled."""
        return self.node_faults + len(self.redis_restart)

    def __post_init__(self) -> None:
        _fraction(self, "crash_rate", "llm_error_rate", "llm_timeout_rate", "slow_tool_rate")
        set_seconds(self, "slow_tool_latency")
        windows = sorted(
            (float(w.start), float(w.start) + float(w.duration)) for w in self.redis_outage
        )
        for (_, end), (start, _) in itertools.pairwise(windows):
            if start < end:
                raise ConfigError("redis_outage", "outage windows overlap")
        slow = sorted(
            (float(w.start), float(w.start) + float(w.duration)) for w in self.llm_slowdown
        )
        for (_, end), (start, _) in itertools.pairwise(slow):
            if start < end:
                raise ConfigError("llm_slowdown", "slowdown windows overlap")


@dataclass(frozen=True, kw_only=True)
class RuntimeSpec:
    """The runtime's backends. ``store``: conversation store (memory, sqlite, redis);
    ``cache``: tool result cache (memory, redis, memcached, two_level), as the runtime's
    ``CacheConfig.kind``; ``l2``: the second level of ``two_level`` (redis, the default,
    or memcached); ``durability`` of conversation writes; ``resident_chunks``: sealed
    history chunks a conversation keeps in memory once stored (None: all; see
    ``ConversationConfig``); Redis at ``redis_url``, or (None) a redis-server the runner
    starts for the run (required for a Redis outage); memcached at ``memcached_url``
    (``memcached://host:port``), or (None) a memcached the runner starts for the run.
    ``config``: an ``agentrt.toml`` whose settings the scenario's are laid over.
    The process knobs (what ``agentrt loadtest ab`` compares): ``uvloop`` (None: uvloop
    when installed; True requires it; False: asyncio's loop), ``gc`` (``"server"``: the
    thresholds ``agentrt.run`` applies, ``SERVER_GC_THRESHOLDS``; ``"python"``: Python's
    own), ``malloc_trim`` (None: the config's ``trim_interval_s``; False: no trimmer;
    True: the trimmer at the config's interval, or 30 s when the config turned it off),
    ``trim_interval`` (the trimmer's interval, None: the config's; not with
    ``malloc_trim = false``).

    Raises ``ConfigError`` naming the key: ``l2 = "memcached"`` without
    ``cache = "two_level"``, a ``memcached_url`` that is not a memcached URL or that no
    cache uses."""

    store: Literal["memory", "sqlite", "redis"] = "memory"
    cache: Literal["memory", "redis", "memcached", "two_level"] = "memory"
    l2: Literal["redis", "memcached"] = "redis"
    durability: Literal["write_through", "write_behind"] = "write_through"
    resident_chunks: Annotated[int, Bounds(low=0, high=1_000_000)] | None = None
    redis_url: str | None = None
    memcached_url: str | None = None
    config: str | None = None
    uvloop: bool | None = None
    gc: Literal["server", "python"] = "server"
    malloc_trim: bool | None = None
    trim_interval: Duration | None = None

    def __post_init__(self) -> None:
        set_seconds(self, "trim_interval", allow_zero=False)
        check_fields(self)
        if self.trim_interval is not None and self.malloc_trim is False:
            raise ConfigError("trim_interval", "is the trimmer's, and malloc_trim = false")
        if self.resident_chunks is not None and self.store == "memory":
            raise ConfigError("resident_chunks", "needs a store (sqlite or redis) to evict to")
        if self.l2 == "memcached" and self.cache != "two_level":
            raise ConfigError(
                "l2", f'is the second level of cache = "two_level", not {self.cache!r}'
            )
        if self.memcached_url is not None:
            if not self.uses_memcached:
                raise ConfigError("memcached_url", "no cache on memcached uses it")
            try:
                MemcachedCacheConfig(url=self.memcached_url)
            except ConfigError as exc:
                raise ConfigError("memcached_url", exc.problem) from None

    __repr__ = config_repr  # redis_url may carry a password

    @property
    def uses_redis(self) -> bool:
        """Whether the store or the cache (either level) is on Redis."""
        return self.store == "redis" or self.cache_on("redis")

    @property
    def uses_memcached(self) -> bool:
        """Whether the cache (either level) is on memcached."""
        return self.cache_on("memcached")

    def cache_on(self, server: str) -> bool:
        """Whether the tool cache is on ``server`` ("redis", "memcached"), alone or as L2."""
        return self.cache == server or (self.cache == "two_level" and self.l2 == server)


@dataclass(frozen=True, kw_only=True)
class ThresholdSpec:
    """A threshold written as a table: ``expr`` plus k6's ``abort_on_fail`` and
    ``delay_abort_eval`` (the time before an abort may happen)."""

    expr: str
    abort_on_fail: bool = False
    delay_abort_eval: Duration = 0.0

    def __post_init__(self) -> None:
        set_seconds(self, "delay_abort_eval")

"""``RuntimeConfig``: everything a runtime needs, with a default for every field.

Code first (``Runtime(RuntimeConfig(...))``); at the CLI edge, ``RuntimeConfig.load``
reads an ``agentrt.toml`` file and ``AGENTRT_*`` environment overrides
(``AGENTRT_STORE__KIND=sqlite``). Invalid configuration fails at start with the key (and
file line) named.

Example ``agentrt.toml``::

    [store]
    kind = "sqlite"
    path = "agents.sqlite3"

    [[llm.providers]]
    name = "local"
    kind = "openai"
    base_urls = ["http://127.0.0.1:8000/v1"]
    api_key_env = "OPENAI_API_KEY"

    [agents]
    idle_timeout_s = 600
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agentrt.actor import NodeConfig
from agentrt.configfile import load
from agentrt.errors import ConfigError
from agentrt.llm import PoolConfig
from agentrt.memory import ConversationConfig, DictionaryConfig
from agentrt.telemetry import OTelConfig, Targets
from agentrt.tools import MemoryCacheConfig, RedisCacheConfig, TwoLevelConfig

__all__ = [
    "AgentsConfig",
    "CacheConfig",
    "RuntimeConfig",
    "StoreConfig",
    "SummarizerConfig",
    "TelemetryConfig",
]


@dataclass(frozen=True, kw_only=True)
class StoreConfig:
    """Where conversations are stored.

    - ``kind``: ``"memory"`` (default; lost with the process), ``"sqlite"`` (the embedded
      durable store, file ``path``), ``"redis"`` (``url``, keys under ``prefix``).
    - ``max_bytes`` (256 MiB): bound of the memory store.
    """

    kind: Literal["memory", "sqlite", "redis"] = "memory"
    path: str = "agentrt.sqlite3"
    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "agentrt:mem:"
    max_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ConfigError("max_bytes", "must be >= 1")
        if not self.prefix:
            raise ConfigError("prefix", "must not be empty")


@dataclass(frozen=True, kw_only=True)
class CacheConfig:
    """The tool-result cache: ``kind`` is ``"memory"`` (default), ``"redis"`` or
    ``"two_level"`` (memory in front of Redis, degrading to memory when Redis fails);
    ``namespace`` separates runtimes sharing a Redis."""

    kind: Literal["memory", "redis", "two_level"] = "memory"
    namespace: str = "agentrt"
    memory: MemoryCacheConfig = field(default_factory=MemoryCacheConfig)
    redis: RedisCacheConfig = field(default_factory=RedisCacheConfig)
    two_level: TwoLevelConfig = field(default_factory=TwoLevelConfig)


@dataclass(frozen=True, kw_only=True)
class SummarizerConfig:
    """Rolling summaries through the LLM pool: off when ``model`` is None (default)."""

    model: str | None = None
    max_tokens: int = 400

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ConfigError("max_tokens", "must be >= 1")


@dataclass(frozen=True, kw_only=True)
class AgentsConfig:
    """How agents are supervised and passivated.

    - ``idle_timeout_s`` (300): an agent idle this long is passivated (conversation saved,
      actor stopped) and reactivated by its next message; None never passivates.
    - ``sweep_interval_s`` (None: a quarter of ``idle_timeout_s``, at least 0.05 s).
    - ``max_agents`` (None): live agents at most (``MaxChildren`` beyond).
    - ``max_restarts`` / ``max_seconds`` (1,000 in 60 s): restart intensity of the agents'
      supervisor: a swarm crashing faster than this is restarted as a whole.
    - ``restart_grace_s`` (2.0): how long a message waits for a crashed agent's supervisor
      to restart it before the runtime reactivates it itself.
    - ``call_margin_s`` (1.0): extra seconds a caller waits past a turn's deadline for the
      agent's own timeout error before giving up on it.
    """

    idle_timeout_s: float | None = 300.0
    sweep_interval_s: float | None = None
    max_agents: int | None = None
    max_restarts: int = 1000
    max_seconds: float = 60.0
    restart_grace_s: float = 2.0
    call_margin_s: float = 1.0

    def __post_init__(self) -> None:
        for key in ("idle_timeout_s", "sweep_interval_s"):
            value = getattr(self, key)
            if value is not None and value <= 0:
                raise ConfigError(key, "must be > 0 or None")
        if self.max_agents is not None and self.max_agents < 1:
            raise ConfigError("max_agents", "must be >= 1 or None")
        if self.max_restarts < 0 or self.max_seconds <= 0:
            raise ConfigError("max_restarts", "needs max_restarts >= 0 and max_seconds > 0")
        if self.restart_grace_s < 0 or self.call_margin_s < 0:
            raise ConfigError("restart_grace_s", "must be >= 0")

    @property
    def sweep_interval(self) -> float | None:
        if self.idle_timeout_s is None:
            return None
        if self.sweep_interval_s is not None:
            return self.sweep_interval_s
        return max(0.05, self.idle_timeout_s / 4)


@dataclass(frozen=True, kw_only=True)
class TelemetryConfig:
    """Telemetry: ``targets`` checked continuously over the last ``window_s`` seconds
    (default 60; targets and windows tick every ``window_s / 2``).

    - ``stats`` (True): agents record per-turn stats (``AgentStats``, turn and
      memory-operation histograms, hence targets and ``top``); False saves their
      ~1 µs per turn and leaves those views empty.
    - ``otel`` (off): OpenTelemetry export (``agentrt.telemetry.OTelConfig``).

    Example: ``TelemetryConfig(otel=OTelConfig(metrics="prometheus"))``
    """

    targets: Targets = field(default_factory=Targets)
    window_s: float = 60.0
    stats: bool = True
    otel: OTelConfig = field(default_factory=OTelConfig)

    def __post_init__(self) -> None:
        if self.window_s <= 0:
            raise ConfigError("window_s", "must be > 0")


@dataclass(frozen=True, kw_only=True)
class RuntimeConfig:
    """All of a runtime's settings (each section documents its defaults)."""

    name: str = "agentrt"
    node: NodeConfig = field(default_factory=NodeConfig)
    llm: PoolConfig = field(default_factory=PoolConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    agents: AgentsConfig = field(default_factory=AgentsConfig)
    memory: ConversationConfig = field(default_factory=ConversationConfig)
    dictionary: DictionaryConfig = field(default_factory=DictionaryConfig)
    summarizer: SummarizerConfig = field(default_factory=SummarizerConfig)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> RuntimeConfig:
        """Read ``path`` (TOML), then ``AGENTRT_*`` variables of ``env``, then
        ``overrides``; raises ``ConfigError`` naming the bad key and line."""
        return load(cls, path, env=env, env_prefix="AGENTRT_", overrides=overrides)

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

    [mcp.docs]                       # an MCP server whose tools every agent may call
    url = "https://docs.example.com/mcp"
    headers = { Authorization = "Bearer ${DOCS_TOKEN}" }
    policy = { timeout = 10 }
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from agentrt._configfile import build, load
from agentrt.actor import NodeConfig
from agentrt.bounds import Bounds, Port, check_fields
from agentrt.errors import ConfigError
from agentrt.llm import PoolConfig
from agentrt.memory import ConversationConfig, DictionaryConfig
from agentrt.redact import config_repr, redact_url
from agentrt.telemetry import AlertsConfig, OTelConfig, Targets
from agentrt.tools import (
    MemcachedCacheConfig,
    MemoryCacheConfig,
    RedisCacheConfig,
    TwoLevelConfig,
)
from supervisors import RestartBackoff

if TYPE_CHECKING:
    from agentrt.tools import MCPTools

__all__ = [
    "AgentsConfig",
    "CacheConfig",
    "EndpointConfig",
    "RuntimeConfig",
    "StoreConfig",
    "SummarizerConfig",
    "TelemetryConfig",
]


# Durations: > 0 and at most a week (a longer one is a typo, e.g. milliseconds as seconds).
_Seconds = Annotated[float, Bounds(low=0, open_low=True, high=7 * 86_400, unit=" s")]
_Wait = Annotated[float, Bounds(low=0, high=86_400, unit=" s")]


@dataclass(frozen=True, kw_only=True)
class StoreConfig:
    """Where conversations are stored.

    - ``kind``: ``"memory"`` (default; lost with the process), ``"sqlite"`` (the embedded
      durable store, file ``path``), ``"redis"`` (``url``, keys under ``prefix``).
    - ``max_bytes`` (256 MiB): bound of the memory store.
    - ``op_timeout`` (5 s): Redis: longest one store operation may take, whatever it waits
      for (a pooled connection, a connect, a reply); then it fails with ``StoreError``.
      A turn that writes through waits no longer on a Redis that is down or hangs; a
      write-behind turn does not wait at all (its flush retries until Redis is back).
    - ``max_connections`` (64): Redis: the store's connection pool. Operations beyond it
      wait for a connection (within ``op_timeout``): passivating thousands of agents at
      once (a drain, an idle sweep) must not make a turn's write wait past it.
    """

    kind: Literal["memory", "sqlite", "redis"] = "memory"
    path: str = "agentrt.sqlite3"
    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "agentrt:mem:"
    max_bytes: Annotated[int, Bounds(low=1, high=2**50)] = 256 * 1024 * 1024
    op_timeout: Annotated[float, Bounds(low=0, open_low=True, high=3600, unit=" s")] = 5.0
    max_connections: Annotated[int, Bounds(low=1, high=100_000)] = 64

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.prefix:
            raise ConfigError("prefix", "must not be empty")
        if self.kind == "redis" and not self.url.startswith(("redis://", "rediss://", "unix://")):
            problem = f"must be a redis://, rediss:// or unix:// URL, got {redact_url(self.url)!r}"
            raise ConfigError("url", problem)

    __repr__ = config_repr  # the URL's password is masked


@dataclass(frozen=True, kw_only=True)
class CacheConfig:
    """The tool-result cache: ``kind`` is ``"memory"`` (default), ``"redis"``,
    ``"memcached"`` or ``"two_level"`` (memory in front of ``l2``, degrading to memory
    when it fails); ``l2`` is ``"redis"`` (default) or ``"memcached"``; ``namespace``
    separates runtimes sharing a server. Each backend's settings are in its own table
    (``[cache.redis]``, ``[cache.memcached]``)."""

    kind: Literal["memory", "redis", "memcached", "two_level"] = "memory"
    l2: Literal["redis", "memcached"] = "redis"
    namespace: str = "agentrt"
    memory: MemoryCacheConfig = field(default_factory=MemoryCacheConfig)
    redis: RedisCacheConfig = field(default_factory=RedisCacheConfig)
    memcached: MemcachedCacheConfig = field(default_factory=MemcachedCacheConfig)
    two_level: TwoLevelConfig = field(default_factory=TwoLevelConfig)


@dataclass(frozen=True, kw_only=True)
class SummarizerConfig:
    """Rolling summaries through the LLM pool: off when ``model`` is None (default)."""

    model: str | None = None
    max_tokens: Annotated[int, Bounds(low=1, high=1_000_000)] = 400

    def __post_init__(self) -> None:
        check_fields(self)


#: The agents' default restart backoff (see ``AgentsConfig``).
AGENT_BACKOFF = RestartBackoff(min_s=0.1, max_s=5.0, jitter=0.5, reset_after_s=30.0)


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
    - ``restart_backoff`` (``RestartBackoff(min_s=0.1, max_s=5.0, jitter=0.5,
      reset_after_s=30.0)``): delay of the agents' supervisor before each restart, so that
      a restart that cannot succeed (a store outage) waits instead of spinning through the
      restart intensity; beyond OTP (see ``supervisors._backoff``). None (from code):
      restart at once, OTP's behaviour. In TOML: ``[agents.restart_backoff]``.
    - ``call_margin_s`` (1.0): extra seconds a caller waits past a turn's deadline for the
      agent's own timeout error before giving up on it.
    """

    idle_timeout_s: _Seconds | None = 300.0
    sweep_interval_s: _Seconds | None = None
    max_agents: Annotated[int, Bounds(low=1, high=100_000_000)] | None = None
    max_restarts: Annotated[int, Bounds(low=0, high=1_000_000_000)] = 1000
    max_seconds: _Seconds = 60.0
    restart_grace_s: _Wait = 2.0
    call_margin_s: _Wait = 1.0
    restart_backoff: RestartBackoff | None = field(default_factory=lambda: AGENT_BACKOFF)

    def __post_init__(self) -> None:
        check_fields(self)
        backoff = self.restart_backoff
        if backoff is not None and not isinstance(backoff, RestartBackoff):
            raise ConfigError(
                "restart_backoff", f"must be a RestartBackoff or None, got {backoff!r}"
            )

    @property
    def sweep_interval(self) -> float | None:
        if self.idle_timeout_s is None:
            return None
        if self.sweep_interval_s is not None:
            return self.sweep_interval_s
        return max(0.05, self.idle_timeout_s / 4)


def _is_loopback(host: str) -> bool:
    """True when ``host`` is ``localhost`` or a loopback address (127.0.0.0/8, ::1).
    Any other name, and the wildcards ``0.0.0.0`` / ``::``, are not loopback."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True)
class EndpointConfig:
    """The introspection endpoint (``agentrt top --url ...`` connects to it).

    - ``host`` ("127.0.0.1"): the address to bind. Loopback only by default; any other
      address (``0.0.0.0``, a LAN address, a host name) requires ``token_env``, else
      ``ConfigError`` here.
    - ``port`` (0): 0 lets the OS pick a free port; read the bound URL from
      ``Runtime.endpoint_url``.
    - ``token_env`` (None): the *name* of the environment variable holding the bearer
      token; when set, every request must carry ``Authorization: Bearer <token>``. The
      variable is read when the runtime starts; unset or empty fails the start with
      ``ConfigError``. The token itself never appears in a repr or a log.
    - ``allowed_hosts`` (()): host names, besides the loopback ones (``localhost``,
      127.0.0.0/8, ``[::1]``) and ``host`` itself, that requests may name in their
      ``Host`` header (any port). Other ``Host`` values are answered 421: a web page
      cannot reach a tokenless loopback endpoint through a DNS name it rebound to
      127.0.0.1. With a token, IP-literal hosts are accepted too (no rebinding without
      a name).

    Example::

        TelemetryConfig(endpoint=EndpointConfig(port=8787))
        TelemetryConfig(endpoint=EndpointConfig(host="0.0.0.0", port=8787,
                                                token_env="AGENTRT_TOP_TOKEN"))
    """

    host: str = "127.0.0.1"
    port: Port = 0
    token_env: str | None = None
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host.strip():
            raise ConfigError("host", f"must be a non-empty address, got {self.host!r}")
        check_fields(self)
        if self.token_env is not None and not self.token_env:
            raise ConfigError("token_env", "must name an environment variable or be None")
        hosts: object = self.allowed_hosts  # a TOML string would pass as a sequence
        if not isinstance(hosts, tuple | list) or not all(
            isinstance(h, str) and h.strip() and not any(c in h for c in "/@ ") for h in hosts
        ):
            raise ConfigError(
                "allowed_hosts", f"must be a list of host names, got {self.allowed_hosts!r}"
            )
        object.__setattr__(self, "allowed_hosts", tuple(self.allowed_hosts))
        if self.token_env is None and not _is_loopback(self.host):
            raise ConfigError(
                "host",
                f"{self.host!r} is not a loopback address: binding it without a token "
                "would expose the runtime; set token_env (or bind 127.0.0.1)",
            )

    def read_token(self, env: Mapping[str, str]) -> str | None:
        """The bearer token from ``env[token_env]``; None when no variable is configured.

        Raises ConfigError when the variable is configured but unset or empty.
        """
        if self.token_env is None:
            return None
        token = env.get(self.token_env)
        if not token:
            raise ConfigError(
                "telemetry.endpoint.token_env",
                f"environment variable {self.token_env!r} is not set",
            )
        return token


@dataclass(frozen=True, kw_only=True)
class TelemetryConfig:
    """Telemetry: ``targets`` checked continuously over the last ``window_s`` seconds
    (default 60; targets and windows tick every ``window_s / 2``).

    - ``stats`` (True): agents record per-turn stats (``AgentStats``, turn and
      memory-operation histograms, hence targets and ``top``); False saves their
      ~1 µs per turn and leaves those views empty.
    - ``otel`` (off): OpenTelemetry export (``agentrt.telemetry.OTelConfig``).
    - ``endpoint`` (None: off): serves the figures over HTTP for ``agentrt top``
      (see ``EndpointConfig``).
    - ``alerts`` (on): how targets become alerts, with hysteresis and sinks
      (``agentrt.telemetry.AlertsConfig``: ``for_s`` 60, ``clear_s`` 120, a log record,
      an optional webhook).

    Example: ``TelemetryConfig(otel=OTelConfig(metrics="prometheus"))``
    """

    targets: Targets = field(default_factory=Targets)
    window_s: _Seconds = 60.0
    stats: bool = True
    otel: OTelConfig = field(default_factory=OTelConfig)
    endpoint: EndpointConfig | None = None
    alerts: AlertsConfig = field(default_factory=AlertsConfig)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class RuntimeConfig:
    """All of a runtime's settings (each section documents its defaults).

    ``trim_interval_s`` (30): seconds between glibc ``malloc_trim`` calls that give freed
    heap pages back to the OS, which keeps a long-running swarm's RSS flat (see
    :mod:`agentrt.runtime._trim`); None: never.

    ``mcp`` (empty): MCP servers by name, each a table of :class:`~agentrt.tools.MCPTools`
    fields (``[mcp.docs]`` with ``url``/``command``, ``headers``, ``policy``...; the
    table's name is the server's). Their tools join the runtime's (``Runtime(tools=...)``
    servers too). A bad field raises ``ConfigError`` naming ``mcp.<name>.<field>``."""

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
    trim_interval_s: _Seconds | None = 30.0
    mcp: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_fields(self)
        object.__setattr__(self, "mcp", _mcp_servers(self.mcp))

    def mcp_servers(self) -> list[MCPTools]:
        """The configured MCP servers (``mcp``), in the order given."""
        return list(self.mcp.values())

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


def _mcp_servers(servers: object) -> dict[str, MCPTools]:
    """``mcp`` as MCPTools by name: a table becomes ``MCPTools(name=<its key>, ...)``
    (every field checked, unknown keys named); an MCPTools must carry its key's name."""
    if not isinstance(servers, Mapping):
        raise ConfigError("mcp", f"expected a table of servers, got {type(servers).__name__}")
    out: dict[str, MCPTools] = {}
    if not servers:
        return out
    from agentrt.tools import MCPTools  # loads jsonschema/pydantic: only when configured

    for name, server in servers.items():
        key = f"mcp.{name}"
        if isinstance(server, MCPTools):
            if server.name != name:
                raise ConfigError(f"{key}.name", f"is {server.name!r}, not the key {name!r}")
            out[name] = server
            continue
        if not isinstance(server, Mapping):
            raise ConfigError(key, f"expected a table, got {type(server).__name__}")
        if "name" in server:
            raise ConfigError(f"{key}.name", "the server's name is its table's key: drop it")
        out[name] = build(MCPTools, {"name": name, **server}, key=key)
    return out

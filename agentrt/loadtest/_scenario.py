"""Load scenarios: TOML files describing a swarm, its users, its LLM, faults and thresholds.

:func:`load_scenario` reads and validates a file; every problem raises
:class:`~agentrt.errors.ConfigError` naming the dotted key and the file's line. Durations
are seconds or text with a unit (``"250ms"``, ``"2s"``, ``"5m"``). A minimal file::

    name = "smoke"
    [agents]
    count = 100
    spawn_rate = 200          # agents per second (or [[agents.stages]])
    turns = 5                 # per agent (or duration = "30s")
    thresholds = ["response_p95 < 2s", "lost == 0"]

Sections (each optional, with the defaults shown in ``docs/loadtest.md``):

- ``[agents]``: ``class`` (import path ``module:Class``), ``count``, ``model`` (or
  ``models``: agent ``i`` talks to ``models[i % len(models)]``), ``options`` (spawn
  keywords), the ramp (``spawn_rate`` or ``[[agents.stages]]`` with
  ``duration`` and ``target`` active agents, k6-style), and ``turns`` per agent or
  ``duration``;
- ``[conversation]``: one of ``messages`` (a script, cycled), ``templates`` (with
  ``variables``) or ``generator`` (``module:function(rng, agent, turn) -> str``); none
  means the tool mix of ``[tools]``;
- ``[think_time]``: ``distribution`` (constant, uniform, exponential, lognormal), ``mean``,
  ``min``, ``max``, ``sigma``;
- ``[tools]``: ``mix`` (weights of lookup, calc, chat, long turns), ``keys`` and
  ``repeat`` (zipf, uniform, unique: how often lookups repeat, hence the cache hit ratio),
  ``latency``, ``cache_ttl``;
- ``[llm]``: ``kind = "mock"`` (the runner starts ``agentrt mock-llm`` in its own process
  with ``[llm.mock]`` latency, jitter, error and 429 rates, ``retry_header``,
  ``drop_after_error`` and per-model ``profiles``) or ``"external"`` with ``url``;
  ``price_in_per_1k``/``price_out_per_1k``; ``[llm.cache]``: the LLM response cache
  (``enabled``, ``ttl``, ``allow_nonzero_temperature``; off by default);
- ``[faults]``: ``crash_rate``, ``llm_error_rate``, ``llm_timeout_rate``,
  ``[[faults.redis_outage]]`` (``start``, ``duration``), ``[[faults.llm_slowdown]]``
  (``start``, ``duration``, ``latency``: the mock LLM that much slower), ``slow_tool_rate``,
  ``slow_tool_latency``;
- ``[runtime]``: ``store`` and ``cache`` backends (``l2`` for ``two_level``); Redis ones
  use ``redis_url`` or a redis-server the runner starts for the run, memcached ones
  ``memcached_url`` or a memcached the runner starts;
- ``thresholds``: k6-style expressions, or tables with ``expr``, ``abort_on_fail`` and
  ``delay_abort_eval`` (see :mod:`agentrt.loadtest._thresholds`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentrt._configfile import KeyLines, build, load_toml
from agentrt.errors import ConfigError
from agentrt.loadtest._cluster_spec import ClusterSpec
from agentrt.loadtest._sections import (
    AgentsSpec,
    ConversationSpec,
    Duration,
    FaultsSpec,
    LLMSpec,
    RuntimeSpec,
    ThinkTime,
    ThresholdSpec,
    ToolsSpec,
    set_seconds,
)
from agentrt.loadtest._thresholds import Threshold
from agentrt.redact import redacted

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["Scenario", "load_scenario", "parse_scenario"]

_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A whole scenario (see the module docs); ``parsed_thresholds`` holds the rules.

    ``warmup``: time after the ramp before ``memory_growth_per_agent`` is measured (while
    conversations fill their windows memory grows by design); default 10% of the rest."""

    name: str
    description: str = ""
    seed: int = 7
    sample_interval: Duration = 1.0
    turn_timeout: Duration = 60.0
    max_duration: Duration | None = None
    warmup: Duration | None = None
    agents: AgentsSpec = field(default_factory=lambda: AgentsSpec(turns=5))
    conversation: ConversationSpec = field(default_factory=ConversationSpec)
    think_time: ThinkTime = field(default_factory=ThinkTime)
    tools: ToolsSpec = field(default_factory=ToolsSpec)
    llm: LLMSpec = field(default_factory=LLMSpec)
    faults: FaultsSpec = field(default_factory=FaultsSpec)
    runtime: RuntimeSpec = field(default_factory=RuntimeSpec)
    cluster: ClusterSpec | None = None
    thresholds: tuple[str | ThresholdSpec, ...] = ()
    parsed_thresholds: tuple[Threshold, ...] = field(default=(), init=False)
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        set_seconds(self, "sample_interval", "turn_timeout", "max_duration", allow_zero=False)
        set_seconds(self, "warmup")
        if not _NAME.fullmatch(self.name):
            raise ConfigError(
                "name",
                f"{self.name!r} is not a plain name (letters, digits, '.', '_', '-', not "
                "starting with '.'): it names the report files inside --out",
            )
        rules = []
        for i, item in enumerate(self.thresholds):
            key = f"thresholds[{i}]"
            if isinstance(item, str):
                rules.append(Threshold.parse(item, key=key))
            else:
                rules.append(
                    Threshold.parse(
                        item.expr,
                        key=f"{key}.expr",
                        abort_on_fail=item.abort_on_fail,
                        delay_abort_eval=float(item.delay_abort_eval),
                    )
                )
        object.__setattr__(self, "parsed_thresholds", tuple(rules))
        self._check_faults()

    def _check_faults(self) -> None:
        faults, runtime = self.faults, self.runtime
        if self.cluster is not None:
            self._check_cluster(self.cluster)
        elif faults.cluster_faults:
            raise ConfigError(
                "faults.node_kill",
                "node faults (kill, pause, drain, join, rolling_restart) and Redis restarts"
                " need a [cluster] table",
            )
        if faults.redis_outage:
            if not runtime.uses_redis:
                raise ConfigError(
                    "faults.redis_outage", "needs runtime.store or runtime.cache on Redis"
                )
            if runtime.redis_url is not None:
                raise ConfigError(
                    "faults.redis_outage",
                    "the runner can only stop its own redis-server: drop runtime.redis_url",
                )
        if self.llm.kind == "external" and faults.llm_slowdown:
            raise ConfigError(
                "faults.llm_slowdown", "an LLM slowdown needs the mock LLM (llm.kind)"
            )
        if self.llm.kind == "external" and (faults.llm_error_rate or faults.llm_timeout_rate):
            raise ConfigError("faults.llm_error_rate", "LLM faults need the mock LLM (llm.kind)")

    def _check_cluster(self, cluster: ClusterSpec) -> None:
        """A cluster run drives ``agentrt node`` processes: in-process faults, tools and
        an external LLM do not apply there."""
        faults = self.faults
        for key in ("crash_rate", "llm_error_rate", "llm_timeout_rate", "slow_tool_rate"):
            if getattr(faults, key):
                raise ConfigError(f"faults.{key}", "does not apply to a [cluster] run")
        for key in ("redis_outage", "llm_slowdown"):
            if getattr(faults, key):
                raise ConfigError(f"faults.{key}", "use faults.redis_restart in a [cluster] run")
        if self.llm.kind != "mock":
            raise ConfigError("llm.kind", "a [cluster] run's nodes use the mock LLM")
        if self.agents.stages:
            raise ConfigError("agents.stages", "a [cluster] run takes turns or duration")
        if faults.redis_restart and cluster.redis_url is not None:
            raise ConfigError(
                "faults.redis_restart",
                "the runner only restarts a redis-server it started: drop cluster.redis_url",
            )
        if cluster.nodes == 0 and faults.node_faults:
            raise ConfigError(
                "faults.node_kill", "node faults need nodes the runner starts (cluster.nodes)"
            )
        joined = sum(j.count for j in faults.join)
        if sum(not d.replace for d in faults.drain) >= cluster.nodes + joined:
            raise ConfigError(
                "faults.drain",
                f"would drain every node: {cluster.nodes} started and {joined} joined; keep one"
                " (or drain with replace = true)",
            )
        if faults.rolling_restart and cluster.nodes < 2:
            raise ConfigError(
                "faults.rolling_restart",
                f"needs at least 2 nodes (a drained node's agents move to the others), got"
                f" cluster.nodes = {cluster.nodes}",
            )

    @property
    def planned_duration(self) -> float | None:
        """How long the run is planned to take (None: until every agent's turns end)."""
        if self.agents.stages:
            return self.agents.stages_seconds
        return None if self.agents.duration is None else float(self.agents.duration)

    def as_dict(self) -> dict[str, Any]:
        """The scenario's settings (durations in seconds), for reports; URL passwords and
        secrets masked (:func:`agentrt.redact.redacted`)."""
        out: dict[str, Any] = redacted(_plain(self))
        return out


def _plain(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return {
            f.name: _plain(getattr(obj, f.name))
            for f in fields(obj)
            if f.name not in ("parsed_thresholds", "source")
        }
    if isinstance(obj, tuple | list):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def parse_scenario(
    data: dict[str, Any], lines: KeyLines | None = None, source: str = ""
) -> Scenario:
    """Build a :class:`Scenario` from a parsed TOML table (errors name key and line)."""
    if "agents" not in data:
        raise ConfigError(
            "agents",
            "the [agents] table is required: how many agents and for how long "
            "(turns, duration or stages)" + (lines.where("agents") if lines else ""),
        )
    if "name" not in data and source:
        data = {"name": Path(source).stem, **data}
    scenario = build(Scenario, data, lines=lines)
    object.__setattr__(scenario, "source", source)
    return scenario


def load_scenario(path: str | Path | Traversable) -> Scenario:
    """Read and validate the scenario file at ``path`` (a path, or a package resource such
    as :func:`~agentrt.loadtest.shipped_scenario`'s)."""
    data, lines = load_toml(path)
    return parse_scenario(data, lines, str(path))

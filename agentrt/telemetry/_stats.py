"""Compact in-process statistics: one ``AgentStats`` per agent, windowed histograms, and
the ``UsageRecorder`` interface through which lower layers report into them.

``AgentStats`` is the one per-agent record: the agent writes its turns, tool time and
cache hits into it; the LLM pool reports each request's usage through ``UsageRecorder``
(``Telemetry`` implements it). Recording is plain attribute arithmetic plus histogram
records (``loadtest/bench/telemetry.py`` measures a turn's record against a slotted
attribute increment and OpenTelemetry's ``Histogram.record`` in the same run): this is
what runs on the hot path, and OpenTelemetry, when configured, gets aggregates and spans
through the event API.
"""

from __future__ import annotations

import math
import struct
from array import array
from collections.abc import Callable
from typing import Any, Protocol

from agentrt.telemetry._histogram import LogHistogram

__all__ = [
    "PARKED_MAX",
    "AgentStats",
    "MemorySource",
    "UsageRecorder",
    "WindowedHistogram",
    "park",
    "parked_reader",
    "unpark",
]


class UsageRecorder(Protocol):
    """Where a lower layer (the LLM pool) reports what an agent used.

    ``Telemetry`` implements it (``LLMPool(recorder=rt.telemetry)``, wired by the
    runtime); each call charges the agent ``agent_id``'s ``AgentStats``. Implementations
    must be cheap (they run once per LLM request) and must not raise.
    """

    def llm_call(
        self,
        agent_id: str,
        input_tokens: int,
        output_tokens: int,
        cost: float,
        seconds: float,
        ttft: float | None,
    ) -> None:
        """One answered LLM request (``ttft``: time to first chunk of a stream, else None)."""

    def llm_error(self, agent_id: str, error: BaseException) -> None:
        """One LLM request that failed with ``error`` (retries exhausted)."""

    def llm_retry(self, agent_id: str) -> None:
        """One retry of an LLM request."""

    def llm_queue_wait(self, agent_id: str, seconds: float) -> None:
        """Time one LLM request waited for a concurrency slot."""

    def llm_cache_hit(
        self, agent_id: str, input_tokens: int, output_tokens: int, cost: float
    ) -> None:
        """One request answered by the LLM response cache: the tokens and cost the
        stored answer took, i.e. what was not spent again."""

    def llm_cache_miss(self, agent_id: str) -> None:
        """One cacheable request the LLM response cache did not have."""


class MemorySource(Protocol):
    """What holds an agent's conversation in memory (``agentrt.memory.Conversation``):
    its estimated bytes, and those bytes by tier ``(recent, compressed, summary)``."""

    def memory_bytes(self) -> int: ...

    def memory_tiers(self) -> tuple[int, int, int]: ...


class AgentStats:
    """What one agent did since it was spawned (kept while it is passivated).

    ``latency`` holds its turn latencies (seconds). ``llm_s``/``tool_s``: seconds spent
    waiting for the LLM and in tools. ``bytes_held``: its conversation's estimated
    in-memory size, read when viewed from ``memory_source`` (the live agent's
    conversation, a ``MemorySource``), else the last value read (a passivated agent's
    last size).

    LLM usage (reported by the pool through ``UsageRecorder``): ``llm_requests``,
    ``tokens_in``/``tokens_out``, ``cost``, ``llm_s``, ``llm_errors`` by error type
    (None until the first), ``retries``, ``queue_wait_s`` (total), ``streams`` and
    ``ttft_s`` (total time to first chunk of those streams). The LLM response cache:
    ``llm_cache_hits``/``llm_cache_misses`` and what the hits saved,
    ``llm_cache_tokens_saved`` and ``llm_cache_cost_saved`` (not in ``tokens_*``/``cost``,
    which count what was spent).
    """

    __slots__ = (
        "agent_class",
        "bytes_held",
        "cache_hits",
        "cache_misses",
        "cost",
        "errors",
        "last_turn",
        "latency",
        "llm_cache_cost_saved",
        "llm_cache_hits",
        "llm_cache_misses",
        "llm_cache_tokens_saved",
        "llm_errors",
        "llm_requests",
        "llm_s",
        "memory_source",
        "queue_wait_s",
        "retries",
        "streams",
        "tokens_in",
        "tokens_out",
        "tool_calls",
        "tool_s",
        "ttft_s",
    )

    def __init__(self, agent_class: str) -> None:
        self.agent_class = agent_class
        self.errors = 0
        self.latency = LogHistogram()
        self.llm_s = 0.0
        self.tool_s = 0.0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost = 0.0
        self.llm_requests = 0
        self.llm_errors: dict[str, int] | None = None  # created at the first error
        self.retries = 0
        self.queue_wait_s = 0.0
        self.streams = 0
        self.ttft_s = 0.0
        self.tool_calls = 0
        self.cache_hits = 0
        self.cache_misses = 0
        self.llm_cache_hits = 0
        self.llm_cache_misses = 0
        self.llm_cache_tokens_saved = 0
        self.llm_cache_cost_saved = 0.0
        self.bytes_held = 0
        self.memory_source: MemorySource | None = None
        self.last_turn = 0.0

    @property
    def turns(self) -> int:
        """Turns recorded (each turn's latency is: the histogram counts them)."""
        return self.latency.count

    def view(self) -> dict[str, Any]:
        """The stats as a JSON-serialisable dict (latencies in milliseconds)."""
        lat = self.latency
        if self.memory_source is not None:
            self.bytes_held = self.memory_source.memory_bytes()
        return {
            "agent_class": self.agent_class,
            "turns": self.turns,
            "errors": self.errors,
            "p50_ms": round(lat.quantile(0.5) * 1000, 3),
            "p95_ms": round(lat.quantile(0.95) * 1000, 3),
            "p99_ms": round(lat.quantile(0.99) * 1000, 3),
            "llm_s": round(self.llm_s, 6),
            "tool_s": round(self.tool_s, 6),
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": round(self.cost, 9),
            "llm_requests": self.llm_requests,
            "llm_errors": dict(self.llm_errors or {}),
            "retries": self.retries,
            "queue_wait_ms": round(self.queue_wait_s * 1000, 3),
            "streams": self.streams,
            "ttft_mean_ms": round(self.ttft_s / self.streams * 1000, 3) if self.streams else 0.0,
            "tool_calls": self.tool_calls,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "llm_cache_hits": self.llm_cache_hits,
            "llm_cache_misses": self.llm_cache_misses,
            "llm_cache_tokens_saved": self.llm_cache_tokens_saved,
            "llm_cache_cost_saved": round(self.llm_cache_cost_saved, 9),
            "bytes_held": self.bytes_held,
            "last_turn": self.last_turn,
        }


#: The scalar fields of ``AgentStats``, in the order ``park`` packs them.
_SCALARS = (
    "errors",
    "llm_s",
    "tool_s",
    "tokens_in",
    "tokens_out",
    "cost",
    "llm_requests",
    "retries",
    "queue_wait_s",
    "streams",
    "ttft_s",
    "tool_calls",
    "cache_hits",
    "cache_misses",
    "llm_cache_hits",
    "llm_cache_misses",
    "llm_cache_tokens_saved",
    "llm_cache_cost_saved",
    "bytes_held",
    "last_turn",
)
_FLOATS = frozenset(
    ("llm_s", "tool_s", "cost", "queue_wait_s", "ttft_s", "llm_cache_cost_saved", "last_turn")
)
#: The figures ``Telemetry.top`` sorts on, at a fixed offset before the packed rest:
#: read without unpacking (``parked_reader``).
_HEAD = struct.Struct("<dqqdqq")
_HEAD_KEYS = ("latency_max", "turns", "errors", "cost", "tokens_out", "bytes_held")
#: the head's first field, the latency max (``Telemetry.top`` by p95 reads it in its loop)
PARKED_MAX = struct.Struct("<d")


def park(stats: AgentStats) -> bytes:
    """``stats`` packed for a passivated agent (~120-280 bytes instead of ~480-850 as
    objects): a fixed head of the figures ``top`` sorts on, then msgpack of every field
    (zero floats as a one-byte 0). ``unpark`` gives back an equal ``AgentStats``.
    ``memory_source`` must be None (the conversation is closed: ``bytes_held`` is its last
    size)."""
    lat = stats.latency
    count = lat.count
    hist = (
        [lat.scale, lat._base, lat.zeros, lat.total, lat.min, lat.max, list(lat._counts)]
        if lat.max != -math.inf
        else None
    )
    values = [getattr(stats, name) or 0 for name in _SCALARS]
    while values and values[-1] == 0:
        values.pop()
    import msgspec  # here: importing agentrt.telemetry loads no codec

    body = msgspec.msgpack.encode([stats.agent_class, values, hist, stats.llm_errors])
    top = lat.max if hist is not None else 0.0
    head = _HEAD.pack(
        top, count, stats.errors, float(stats.cost), stats.tokens_out, stats.bytes_held
    )
    return head + body


def unpark(data: bytes) -> AgentStats:
    """The ``AgentStats`` that ``park`` packed into ``data``."""
    import msgspec

    agent_class, values, hist, llm_errors = msgspec.msgpack.decode(memoryview(data)[_HEAD.size :])
    stats = AgentStats(agent_class)
    for name, value in zip(_SCALARS, values, strict=False):
        setattr(stats, name, float(value) if name in _FLOATS else value)
    stats.llm_errors = llm_errors
    if hist is not None:
        lat = stats.latency
        scale, lat._base, lat.zeros, lat.total, lat.min, lat.max, counts = hist
        if scale != lat.scale:
            lat.scale = scale
            lat._factor = 2.0**scale
        lat._counts = array("q", counts)
    return stats


def parked_reader(key: str) -> Callable[[bytes], float]:
    """A function reading figure ``key`` (an ``AgentStats`` attribute, or
    ``latency_max``) off parked stats: straight off their head, without unpacking, for
    ``latency_max``, ``turns``, ``errors``, ``cost``, ``tokens_out`` and ``bytes_held``
    (what ``Telemetry.top`` sorts on); by unpacking them for any other."""
    if key in _HEAD_KEYS:
        i = _HEAD_KEYS.index(key)
        codes = _HEAD.format[1:]
        offset = struct.calcsize("<" + codes[:i])
        unpack = struct.Struct("<" + codes[i]).unpack_from
        return lambda data: float(unpack(data, offset)[0])
    if key == "latency_max":
        return lambda data: float(unpark(data).latency.max)
    return lambda data: float(getattr(unpark(data), key))


class WindowedHistogram:
    """A histogram of the recent past plus the all-time one.

    ``rotate()`` (called every half window by the runtime's telemetry tick) starts a new
    generation; ``recent`` merges the current and the previous generation, i.e. between
    half a window and a full window of values; ``total`` merges every generation. A
    value is recorded once (into the current generation): merging happens on reads.
    """

    __slots__ = ("_closed", "_previous", "current", "record")

    def __init__(self) -> None:
        #: the current generation (recording into it is recording)
        self.current = LogHistogram()
        self._previous = LogHistogram()
        self._closed = LogHistogram()  # every generation rotated out so far
        #: ``record(value)``: add a value (the current generation's bound method).
        self.record = self.current.record

    def rotate(self) -> None:
        self._closed.merge(self.current)
        self._previous = self.current
        self.current = LogHistogram()
        self.record = self.current.record

    @property
    def count(self) -> int:
        """Values recorded since the start."""
        return self._closed.count + self.current.count

    @property
    def total(self) -> LogHistogram:
        merged = LogHistogram()
        merged.merge(self._closed)
        merged.merge(self.current)
        return merged

    @property
    def recent(self) -> LogHistogram:
        merged = LogHistogram()
        merged.merge(self._previous)
        merged.merge(self.current)
        return merged

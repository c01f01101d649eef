"""Cluster statistics on Redis: each node publishes its figures, any reader merges them.

**Publishing.** Every ``ClusterConfig.stats_ms`` (2 s; ticks come every ``renew_ms``,
so the period is ``max(stats_ms, renew_ms)``), a node's tick queues its record on the
pipeline that also publishes its load (:meth:`StatsPublisher.add`), so publishing costs
no extra round trip. The record is a ``NodeStats`` (``agentrt.telemetry._cluster``): the load record
placement reads, the node's counters and two histograms (turn latency, LLM queue wait),
encoded with msgpack (``msgspec``) as positional arrays. Its size is bounded: each
histogram is sent with at most ``WIRE_BUCKETS`` buckets (a wider span is sent at a
coarser scale: ``LogHistogram``'s own downscaling), so a record stays under
``MAX_RECORD`` bytes (a working node's: ~230-300 bytes).

**Keys.** One key per node incarnation, ``<cluster keys>stats:<node>|<epoch>``, set with a
TTL of ``stats_ttl_ms`` (60 s): a dead incarnation's record drops out by itself. A sorted
set ``<cluster keys>stats`` indexes them (member ``<node>|<epoch>``, score: when it was
published); each publish also trims members older than the TTL.

**Reading** (:func:`read_view`): the index, then every record in one pipeline; a record
whose key expired is gone; a record that does not decode (or names another node) is
**damaged**: skipped, logged with its node and reported through ``on_damaged`` (the
runtime emits ``("agentrt", "cluster", "stats_damaged")``), never raised. A record older
than three periods (``ClusterConfig.stats_stale_s``) is marked stale (``merge``).
"""

from __future__ import annotations

import logging
import time
from array import array
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import msgspec
import redis.asyncio as aioredis

from agentrt.cluster._config import ClusterConfig
from agentrt.telemetry._cluster import ClusterView, NodeStats, Rate, merge
from agentrt.telemetry._histogram import MAX_BUCKETS, LogHistogram

__all__ = [
    "MAX_RECORD",
    "WIRE_BUCKETS",
    "StatsKeys",
    "StatsPublisher",
    "decode_stats",
    "encode_stats",
    "read_view",
]

_log = logging.getLogger("agentrt.cluster.stats")

#: The most buckets a histogram is published with (a wider span goes at a coarser scale).
WIRE_BUCKETS = 128
#: The largest record a reader accepts, bytes (a published one stays far below).
MAX_RECORD = 16_384
#: The most node incarnations a reader reads (the most recently published first).
MAX_NODES = 4_096
_VERSION = 1
#: Called with a damaged record's node (or key member) and what was wrong.
OnDamaged = Callable[[str, str], None]


class _Hist(msgspec.Struct, array_like=True):
    scale: int
    offset: int
    counts: list[int]
    zeros: int
    total: float
    low: float
    high: float


class _Record(msgspec.Struct, array_like=True):
    v: int
    node_id: str
    epoch: int
    at: float
    period_s: float
    load: dict[str, float]
    loop_lag_ms: float
    agents_live: int
    agents_passivated: int
    turns: int
    errors: int
    turns_per_s: float
    fence_rejections: int
    redeliveries: int
    moves: int
    turn_latency: _Hist
    llm_queue_wait: _Hist


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Record)


def _hist_out(h: LogHistogram) -> _Hist:
    if len(h.counts) > WIRE_BUCKETS:
        h = h.copy()
        while len(h.counts) > WIRE_BUCKETS:
            h._downscale()
    return _Hist(h.scale, h.offset, list(h.counts), h.zeros, h.total, h.min, h.max)


def _hist_in(w: _Hist) -> LogHistogram:
    if not -20 <= w.scale <= 20 or len(w.counts) > MAX_BUCKETS:
        raise ValueError(f"histogram scale {w.scale} or {len(w.counts)} buckets out of range")
    if w.zeros < 0 or any(n < 0 for n in w.counts):
        raise ValueError("a histogram count is negative")
    h = LogHistogram(w.scale)
    h._base = w.offset
    h._counts = array("q", w.counts)
    h.zeros, h.total, h.min, h.max = w.zeros, w.total, w.low, w.high
    return h


def encode_stats(stats: NodeStats) -> bytes:
    """``stats`` as a compact msgpack record (module docs)."""
    record = _Record(
        _VERSION, stats.node_id, stats.epoch, stats.at, stats.period_s,
        {str(k): float(v) for k, v in stats.load.items()}, stats.loop_lag_ms,
        stats.agents_live, stats.agents_passivated, stats.turns, stats.errors,
        stats.turns_per_s, stats.fence_rejections, stats.redeliveries, stats.moves,
        _hist_out(stats.turn_latency), _hist_out(stats.llm_queue_wait),
    )  # fmt: skip
    return _encoder.encode(record)


def decode_stats(raw: bytes) -> NodeStats:
    """The ``NodeStats`` of a record; ``ValueError`` saying what is wrong when it is
    damaged (not msgpack, a field missing or of the wrong type, too large, another
    version, a bad histogram)."""
    if len(raw) > MAX_RECORD:
        raise ValueError(f"{len(raw)} bytes, more than {MAX_RECORD}")
    try:
        r = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None
    if r.v != _VERSION:
        raise ValueError(f"version {r.v}, expected {_VERSION}")
    return NodeStats(
        node_id=r.node_id, epoch=r.epoch, at=r.at, period_s=r.period_s, load=r.load,
        loop_lag_ms=r.loop_lag_ms, agents_live=r.agents_live,
        agents_passivated=r.agents_passivated, turns=r.turns, errors=r.errors,
        turns_per_s=r.turns_per_s, fence_rejections=r.fence_rejections,
        redeliveries=r.redeliveries, moves=r.moves, turn_latency=_hist_in(r.turn_latency),
        llm_queue_wait=_hist_in(r.llm_queue_wait),
    )  # fmt: skip


class StatsKeys:
    """The statistics keys of one cluster (``key_prefix``: ``ClusterConfig.key_prefix``)."""

    __slots__ = ("index", "prefix")

    def __init__(self, key_prefix: str) -> None:
        self.prefix = f"{key_prefix}stats:"
        #: the sorted set of published incarnations (``node|epoch``, by publish time)
        self.index = f"{key_prefix}stats"

    def record(self, member: str) -> str:
        """The key of incarnation ``member`` (``node|epoch``)."""
        return self.prefix + member


class StatsPublisher:
    """This node's publishing (module docs). ``sample`` (set by the runtime) returns the
    node's figures now; without it only the load is published. ``published`` counts the
    records sent, ``last_bytes`` is the size of the last one."""

    def __init__(self, config: ClusterConfig, node_id: str) -> None:
        self.keys = StatsKeys(config.key_prefix)
        self.node_id = node_id
        self.period_s = max(config.stats_ms, config.renew_ms) / 1000
        self._slack = config.renew_ms / 2000  # a tick a little early still publishes
        self.ttl_ms = config.stats_ttl_ms
        self.sample: Callable[[], NodeStats] | None = None
        self.published = 0
        self.last_bytes = 0
        self._due = 0.0
        self._rate = Rate(time.time())

    def record(self, epoch: int, load: Mapping[str, float], now: float) -> bytes:
        """This node's record at wall-clock ``now`` (its ``turns_per_s`` since the last)."""
        sample = self.sample() if self.sample is not None else NodeStats(node_id="", epoch=0, at=0)
        return encode_stats(
            replace(
                sample,
                node_id=self.node_id,
                epoch=epoch,
                at=now,
                period_s=self.period_s,
                load=load,
                turns_per_s=self._rate(sample.turns, now),
            )
        )

    def add(self, pipe: Any, epoch: int, load: Mapping[str, float]) -> bool:
        """Queue this node's record on ``pipe`` (a Redis pipeline) when the period is
        due; whether it did."""
        mono = time.monotonic()
        if mono < self._due - self._slack:
            return False
        self._due = max(mono, self._due) + self.period_s
        now = time.time()
        body = self.record(epoch, load, now)
        member = f"{self.node_id}|{epoch}"
        pipe.set(self.keys.record(member), body, px=self.ttl_ms)
        pipe.zadd(self.keys.index, {member: now})
        pipe.zremrangebyscore(self.keys.index, "-inf", now - self.ttl_ms / 1000)
        self.published += 1
        self.last_bytes = len(body)
        return True


async def read_view(
    client: aioredis.Redis,
    keys: StatsKeys,
    *,
    stale_after: float | None = None,
    on_damaged: OnDamaged | None = None,
) -> ClusterView:
    """Every published record, merged (module docs; ``stale_after`` None: three of each
    record's own periods): two round trips. Redis errors are raised
    (``RedisError``/``OSError``); damaged records are skipped and reported."""
    members = await client.zrange(keys.index, 0, MAX_NODES - 1, desc=True)
    names = [m.decode("utf-8", "replace") if isinstance(m, bytes) else str(m) for m in members]
    raws: list[Any] = []
    if names:
        async with client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.get(keys.record(name))
            raws = await pipe.execute()
    records: list[NodeStats] = []
    damaged: list[str] = []
    for name, raw in zip(names, raws, strict=True):
        if raw is None:
            continue  # its TTL ended: a dead incarnation, gone
        node = name.rpartition("|")[0] or name
        try:
            stats = decode_stats(raw if isinstance(raw, bytes) else str(raw).encode())
            if f"{stats.node_id}|{stats.epoch}" != name:
                raise ValueError(f"it names {stats.node_id}|{stats.epoch}")
        except ValueError as exc:
            _log.warning("cluster stats of node %r (%s) are damaged (%s): skipped",
                         node, keys.record(name), exc)  # fmt: skip
            damaged.append(node)
            if on_damaged is not None:
                on_damaged(node, str(exc))
            continue
        records.append(stats)
    return merge(records, now=time.time(), stale_after=stale_after, damaged=damaged)

"""Shared measuring kit for the micro-benchmarks in ``loadtest/bench/``.

Every benchmark is run as a module from the repository root
(``python -m loadtest.bench.<name>``), accepts ``--quick`` (a seconds-long run that
``tests/bench/`` executes so benchmarks never rot) and ``--json`` (print exactly one JSON
object instead of the table), and measures its peer in the same run so that a figure can
be read as a ratio on a shared, noisy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from agentrt.telemetry._process import peak_rss_bytes, rss_bytes

__all__ = [
    "bench_parser",
    "cpu_seconds",
    "emit",
    "local_memcached",
    "local_redis",
    "peak_rss_bytes",
    "percentile",
    "rss_bytes",
    "summarize",
    "timed",
]


def bench_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the ``--quick`` and ``--json`` flags every benchmark has."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a short run (used by the tests)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def percentile(sorted_samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of already sorted samples, nearest-rank method."""
    if not sorted_samples:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * len(sorted_samples)))
    return sorted_samples[min(rank, len(sorted_samples)) - 1]


def summarize(
    samples_s: Iterable[float], unit: str = "us", qs: Sequence[int] = (50, 95, 99)
) -> dict[str, float]:
    """Percentiles of durations given in seconds, as ``{"p50_<unit>": ...}``.

    ``unit`` is ``"us"`` or ``"ms"``.
    """
    scale = {"us": 1e6, "ms": 1e3}[unit]
    ordered = sorted(samples_s)
    return {f"p{q}_{unit}": round(percentile(ordered, q) * scale, 3) for q in qs}


def cpu_seconds() -> float:
    """CPU time (user + system) used by this process so far."""
    return time.process_time()


def timed(fn: Callable[[], Any]) -> float:
    """Run ``fn`` once; return its wall time in seconds."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def emit(
    result: Mapping[str, Any],
    *,
    as_json: bool,
    title: str,
    rows: Sequence[Sequence[Any]] = (),
    columns: Sequence[str] = (),
) -> None:
    """Print ``result`` as one JSON object, or ``rows`` as a table titled ``title``."""
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="left" if col == columns[0] else "right")
    for row in rows:
        table.add_row(*(_fmt(v) for v in row))
    Console().print(table)


def local_redis() -> contextlib.AbstractAsyncContextManager[str]:
    """The URL of the Redis a benchmark measures: 127.0.0.1:6379 when it answers, else a
    private ``redis-server`` started here (an error if it cannot start) and stopped on
    exit."""
    from agentrt.testing import RedisServer, redis_answers

    return _local(6379, redis_answers, RedisServer, "redis://127.0.0.1:6379/0")


def local_memcached() -> contextlib.AbstractAsyncContextManager[str]:
    """The URL of the memcached a benchmark measures: 127.0.0.1:11211 when it answers,
    else a private ``memcached`` started here and stopped on exit."""
    from agentrt.testing import MemcachedServer, memcached_answers

    return _local(11211, memcached_answers, MemcachedServer, "memcached://127.0.0.1:11211")


@contextlib.asynccontextmanager
async def _local(
    port: int, answers: Callable[[str, int], bool], server_class: Any, url: str
) -> AsyncIterator[str]:
    if answers("127.0.0.1", port):
        yield url
        return
    server = server_class()
    await asyncio.to_thread(server.start)
    try:
        yield server.url
    finally:
        await asyncio.to_thread(server.close)

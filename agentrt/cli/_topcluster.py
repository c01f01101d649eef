"""``agentrt top --cluster``: every node of a cluster, read from Redis directly.

It reads the statistics each node publishes (``ClusterConfig.stats_ms``; docs/cluster.md,
"Cluster statistics"), so it needs no endpoint and still shows a cluster whose nodes are
all paused or gone (stale, with their age, until their records' TTL ends). It takes the
cluster flags of ``agentrt node``: ``--redis`` URL, ``--prefix``, and the cluster name as
``--cluster NAME`` (``default`` when given alone).

The table: the cluster totals on top (fresh nodes summed, histograms merged: the p95 is
the p95 of every node's turns), then one row per node incarnation, fresh ones first,
busiest (turns/s) first; a stale node is marked ``stale`` with its age. Columns: loop
lag, agents live and passivated, turns/s, turn p95, LLM queue wait p95, fence
rejections, redeliveries, moves, errors.

Exit codes: 0, 1 when Redis cannot be read, 2 for bad arguments (a bad ``--redis`` URL).
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from agentrt.errors import ConfigError

if TYPE_CHECKING:
    from agentrt.telemetry import ClusterView

__all__ = ["render_cluster", "run_cluster_top"]


def _ms(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:,.2f} s"
    return f"{value:,.1f} ms" if value >= 10 else f"{value:.2f} ms"


def render_cluster(view: ClusterView, title: str) -> Group:
    """The cluster table (module docs)."""
    t = view.totals
    head = Text.assemble(
        (f"cluster {title}", "bold"),
        f"  nodes {t.nodes}",
        (f"  stale {t.stale}", "bold red" if t.stale else "dim"),
        f"  turns/s {t.turns_per_s:,.1f}  p95 {_ms(t.p95_ms)}",
        f"  agents {t.agents_live:,} live / {t.agents_passivated:,} passivated",
    )
    table = Table(title_justify="left")
    for name in ("node", "epoch", "state", "loop lag", "live", "passivated", "turns/s",
                 "p95", "LLM wait p95", "fenced", "redelivered", "moves", "errors"):  # fmt: skip
        table.add_column(name, justify="left" if name in ("node", "state") else "right")
    table.add_row(
        "TOTAL", "", f"{t.nodes} up", _ms(t.loop_lag_ms), f"{t.agents_live:,}",
        f"{t.agents_passivated:,}", f"{t.turns_per_s:,.1f}", _ms(t.p95_ms),
        _ms(t.llm_queue_wait_p95_ms), f"{t.fence_rejections:,}", f"{t.redeliveries:,}",
        f"{t.moves:,}", f"{t.errors:,}", style="bold", end_section=True,
    )  # fmt: skip
    for n in view.nodes:
        state = Text(f"stale {n.age_s:,.1f}s", "bold red") if n.stale else Text("up", "green")
        table.add_row(
            n.node_id, str(n.epoch), state, _ms(n.loop_lag_ms), f"{n.agents_live:,}",
            f"{n.agents_passivated:,}", f"{n.turns_per_s:,.1f}", _ms(n.p95_ms),
            _ms(n.llm_queue_wait_p95_ms), f"{n.fence_rejections:,}", f"{n.redeliveries:,}",
            f"{n.moves:,}", f"{n.errors:,}", style="dim" if n.stale else None,
        )  # fmt: skip
    parts: list[Text | Table] = [head, table]
    if view.damaged:
        parts.append(Text(f"damaged records skipped: {', '.join(view.damaged)}", "yellow"))
    if not view.nodes:
        parts.append(Text("no node has published statistics (yet)", "dim"))
    return Group(*parts)


async def run_cluster_top(
    redis_url: str,
    *,
    name: str = "default",
    prefix: str = "agentrt:cluster:",
    once: bool = False,
    interval: float = 1.0,
    timeout: float = 5.0,
    console: Console | None = None,
) -> int:
    """Show cluster ``name`` (module docs) on ``console``; the exit code."""
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    from agentrt.cluster import ClusterConfig
    from agentrt.cluster._stats import StatsKeys, read_view

    console = console or Console()
    try:
        config = ClusterConfig(name=name, redis_url=redis_url, prefix=prefix)
    except ConfigError as exc:
        print(f"agentrt top: {exc}", file=sys.stderr)
        return 2
    keys = StatsKeys(config.key_prefix)
    client = aioredis.Redis.from_url(
        config.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        view = await read_view(client, keys)
        if once:
            console.print(render_cluster(view, name))
            return 0
        with Live(
            render_cluster(view, name), console=console, auto_refresh=False,
            screen=console.is_terminal,
        ) as live:  # fmt: skip
            while True:
                await asyncio.sleep(interval)
                live.update(render_cluster(await read_view(client, keys), name), refresh=True)
    except (RedisError, OSError) as exc:
        print(f"agentrt top: cannot read cluster {name!r} at {_shown(config)}: {exc}",
              file=sys.stderr)  # fmt: skip
        return 1
    finally:
        await client.aclose()


def _shown(config: object) -> str:
    from agentrt.redact import redact_url

    return redact_url(str(getattr(config, "redis_url", "")))

"""The flags that make a process a cluster node, shared by ``agentrt node``,
``agentrt cluster up`` and ``agentrt serve`` (one parser, one reading of them).

``add_cluster_flags(parser)`` adds ``--redis``, ``--cluster``, ``--prefix``,
``--store-prefix``, ``--ttl-ms``, ``--renew-ms``, ``--stats-ms``, ``--min-nodes``,
``--placement``, ``--drain-limit``, ``--rebalance-ms`` and ``--no-rebalance``;
``add_where_flags(parser)`` only the first three;
``cluster_config(args, node_id)`` builds the ``ClusterConfig`` they describe and
``store_table(args)`` the Redis store the cluster's conversations live in (both raise
``ConfigError`` naming the field). ``cluster_argv(args)`` gives the flags back as a
command line (``cluster up`` passes them on to each node).

Example::

    add_cluster_flags(parser, cluster_default=None)  # serve: a cluster only when named
    ...
    if args.cluster is not None:
        cluster = cluster_config(args, args.node_id)
"""

from __future__ import annotations

import argparse
from typing import Any

from agentrt.cli._args import bounded

__all__ = [
    "add_cluster_flags",
    "add_where_flags",
    "cluster_argv",
    "cluster_config",
    "store_table",
]

_ms = bounded(int, low=1, high=600_000, unit=" ms")
_nodes = bounded(int, low=1, high=64)
_seconds = bounded(float, low=0, high=86_400, unit=" s")
_round_ms = bounded(int, low=10, high=86_400_000, unit=" ms")


def add_where_flags(
    parser: argparse.ArgumentParser, *, cluster_default: str | None = "default"
) -> None:
    """Where the cluster is: ``--redis``, ``--cluster`` and ``--prefix`` (what a command
    that only talks to a cluster, such as ``agentrt cluster restart``, needs)."""
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL")
    what = "cluster name" if cluster_default else "join this cluster (off when not given)"
    parser.add_argument("--cluster", default=cluster_default, metavar="NAME", help=what)
    parser.add_argument("--prefix", default="agentrt:cluster:", help="cluster key prefix")


def add_cluster_flags(
    parser: argparse.ArgumentParser, *, cluster_default: str | None = "default"
) -> None:
    """The cluster flags; ``cluster_default`` None makes ``--cluster`` what turns
    cluster mode on (``args.cluster`` is then None without it)."""
    add_where_flags(parser, cluster_default=cluster_default)
    parser.add_argument("--store-prefix", default="agentrt:mem:", help="conversation keys")
    parser.add_argument("--ttl-ms", type=_ms, default=1_500, help="liveness TTL")
    parser.add_argument("--renew-ms", type=_ms, default=500, help="renew interval")
    parser.add_argument(
        "--stats-ms", type=_ms, default=2_000, help="statistics publishing period (2000)"
    )
    parser.add_argument("--min-nodes", type=_nodes, default=1, help="placement waits for")
    parser.add_argument("--placement", default="p2c", choices=("p2c", "hash", "random", "local"))
    parser.add_argument(
        "--drain-limit",
        type=_seconds,
        default=60.0,
        help="on SIGTERM/drain, how long turns in flight may run on (seconds)",
    )
    parser.add_argument(
        "--rebalance-ms",
        type=_round_ms,
        default=10_000,
        help="period of the rebalancing rounds (10000)",
    )
    parser.add_argument(
        "--no-rebalance",
        dest="rebalance",
        action="store_false",
        help="never move placed agents to other nodes (a node that joins gets new ones only)",
    )


def cluster_config(args: argparse.Namespace, node_id: str) -> Any:
    """The ``ClusterConfig`` of the flags (``ConfigError`` naming a bad field)."""
    from agentrt.cluster import ClusterConfig

    return ClusterConfig(
        name=args.cluster,
        redis_url=args.redis,
        prefix=args.prefix,
        node_id=node_id,
        ttl_ms=args.ttl_ms,
        renew_ms=args.renew_ms,
        stats_ms=args.stats_ms,
        drain_limit=args.drain_limit,
        min_nodes=args.min_nodes,
        placement=args.placement,
        rebalance=args.rebalance,
        rebalance_ms=args.rebalance_ms,
    )


def store_table(args: argparse.Namespace) -> dict[str, Any]:
    """The runtime config's ``store`` table of a node: the cluster's Redis, under
    ``--store-prefix`` (every node reads and fences the same conversations)."""
    return {"kind": "redis", "url": args.redis, "prefix": args.store_prefix}


def cluster_argv(args: argparse.Namespace) -> list[str]:
    """The cluster flags of ``args`` as a command line."""
    return [
        *("--redis", args.redis, "--cluster", args.cluster, "--prefix", args.prefix),
        *("--store-prefix", args.store_prefix, "--placement", args.placement),
        *("--ttl-ms", str(args.ttl_ms), "--renew-ms", str(args.renew_ms)),
        *("--stats-ms", str(args.stats_ms), "--min-nodes", str(args.min_nodes)),
        *("--drain-limit", str(args.drain_limit), "--rebalance-ms", str(args.rebalance_ms)),
        *(() if args.rebalance else ("--no-rebalance",)),
    ]

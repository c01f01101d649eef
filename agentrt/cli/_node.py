"""``agentrt node`` (one cluster node) and ``agentrt cluster up`` (N local nodes).

``agentrt node --redis redis://host:6379/0 --cluster NAME`` runs one node of cluster
``NAME`` until Ctrl-C or SIGTERM (it then leaves the cluster, so its agents move at once).
The agents it hosts are named by routes: ``--route PREFIX=module:Class`` (repeatable;
default ``agent-=agentrt:Agent``); every node of a cluster should declare the same ones,
so that any node can take over any agent. Conversations are kept in that Redis (keys under
``--store-prefix``), fenced by each agent's claim. The LLM is the in-process mock unless
``--llm-url`` names an OpenAI-compatible server. It runs on ``agentrt.run`` (uvloop when
installed, server GC thresholds). Once joined it prints one line:
``agentrt node NODE joined cluster NAME at epoch N``.

SIGTERM (or Ctrl-C) drains the node first (docs/cluster.md, "Operating"): no new
placements, its agents passivated and released in rounds, turns in flight finishing
within ``--drain-limit`` seconds; then it leaves. A second signal stops it at once.
``agentrt node drain NODE`` (same ``--redis``/``--cluster``/``--prefix``) drains a
running node from anywhere: it marks the node ``draining`` in Redis, the node notices on
its next tick, drains and exits (exit 1 when no live node has that id).

``agentrt cluster up --nodes N`` starts N such nodes (ids ``NAME-1`` ... ``NAME-N``, every
other flag passed on; one line ``agentrt cluster: node ID pid PID`` per start), restarts
one that exits on its own (at most 10 times in 60 s, then it stops them all and exits 1),
and stops them all on Ctrl-C or SIGTERM (SIGTERM, then SIGKILL after 10 s). A node that
exits 0 (it drained and left) is started again at once, not counted as a crash.
``agentrt cluster restart --rolling`` restarts them one at a time (``agentrt.cli._rolling``).

Exit codes: 0 stopped by a signal; 1 a node kept crashing; 2 bad input (the flag named).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

from agentrt.cli import command_help
from agentrt.cli._args import bounded
from agentrt.cli._clusterargs import (
    add_cluster_flags,
    add_where_flags,
    cluster_argv,
    cluster_config,
    store_table,
)
from agentrt.cli._logs import one_line_logging
from agentrt.cli._parent import watch_parent
from agentrt.cli._rolling import add_restart, state_path, write_state
from agentrt.errors import ConfigError

__all__ = ["register"]

_nodes = bounded(int, low=1, high=64)
_latency = bounded(float, low=0, high=600_000, unit=" ms")
_pid = bounded(int, low=1, high=2**31 - 1)
_RAW = argparse.RawDescriptionHelpFormatter
_RESTARTS = (10, 60.0)  # at most this many restarts of one node within that many seconds


def _add_state_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir", default=None, help="where `cluster up` keeps its nodes' pids"
    )


def _add_restart_flags(parser: argparse.ArgumentParser) -> None:
    add_where_flags(parser)
    _add_state_flag(parser)


def _add_node_flags(parser: argparse.ArgumentParser) -> None:
    add_cluster_flags(parser)
    parser.add_argument(
        "--route",
        action="append",
        default=None,
        metavar="PREFIX=module:Class",
        help="agents this cluster hosts (repeatable; default agent-=agentrt:Agent)",
    )
    parser.add_argument(
        "--llm-url", default=None, help="LLM URL, e.g. openai+http://127.0.0.1:8000/v1 (mock)"
    )
    parser.add_argument("--model", default=None, help="model at --llm-url")
    parser.add_argument(
        "--mock-latency-ms", type=_latency, default=0.0, help="the mock LLM's latency"
    )
    parser.add_argument("--debug", action="store_true", help="tracebacks in logs")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "node", help=command_help("node"), description=__doc__, formatter_class=_RAW
    )
    parser.add_argument(
        "action", nargs="?", choices=("drain",), help="drain NODE: drain a running node"
    )
    parser.add_argument("target", nargs="?", metavar="NODE", help="the node to drain")
    _add_node_flags(parser)
    parser.add_argument("--node-id", default="", help="this node's id (default host-pid-rnd)")
    parser.add_argument(
        "--parent-pid",
        type=_pid,
        default=None,
        metavar="PID",
        help="exit (drain and leave) once process PID is no longer this node's parent",
    )
    parser.set_defaults(func=main)


def register_cluster(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cluster", help=command_help("cluster"), description=__doc__, formatter_class=_RAW
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = sub.add_parser("up", help="start N local nodes, supervised, until Ctrl-C/SIGTERM")
    up.add_argument("--nodes", type=_nodes, default=os.cpu_count() or 1, help="how many")
    _add_node_flags(up)
    _add_state_flag(up)
    up.set_defaults(func=cluster_up)
    add_restart(sub, _add_restart_flags)


def _routes(specs: list[str] | None) -> list[tuple[str, Any]]:
    from agentrt.loadtest._importing import import_object

    out = []
    for spec in specs or ["agent-=agentrt:Agent"]:
        prefix, sep, path = spec.partition("=")
        if not sep or not prefix or not path:
            raise ConfigError("--route", f"expected PREFIX=module:Class, got {spec!r}")
        out.append((prefix, import_object(path, key="--route")))
    return out


def main(args: argparse.Namespace) -> int:
    if args.action == "drain":
        return _drain_command(args)
    if args.parent_pid is not None:
        watch_parent(args.parent_pid, grace=args.drain_limit + 5.0)
    with one_line_logging(tracebacks=args.debug):
        try:
            from agentrt.runtime import RuntimeConfig
            from agentrt.runtime._config import StoreConfig

            cluster = cluster_config(args, args.node_id)
            store = StoreConfig(**store_table(args))
            config = RuntimeConfig(store=store)
            routes = _routes(args.route)
        except ConfigError as exc:
            print(f"agentrt node: {exc}", file=sys.stderr)
            return 2
        from agentrt.actor import run  # uvloop when installed, server GC thresholds

        return run(_node(args, config, cluster, routes))


async def _node(args: argparse.Namespace, config: Any, cluster: Any, routes: Any) -> int:
    from agentrt.cluster import ClusterUnavailable
    from agentrt.llm.providers import MockProvider
    from agentrt.runtime import Runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    llm: Any = None
    if args.llm_url is not None:
        llm = f"{args.llm_url}?model={args.model or 'mock'}"
    backends = {"mock": MockProvider(latency_ms=args.mock_latency_ms)} if llm is None else None
    try:
        rt = Runtime(config, llm=llm, llm_backends=backends, cluster=cluster)
        for prefix, cls in routes:
            rt.route(prefix, cls)
    except ConfigError as exc:
        print(f"agentrt node: {exc}", file=sys.stderr)
        return 2
    try:
        await rt.start()
    except ClusterUnavailable as exc:
        print(f"agentrt node: {exc}", file=sys.stderr)
        return 1
    try:
        node = rt.directory.cluster  # type: ignore[attr-defined]
        print(f"agentrt node {node.node_id} joined cluster {cluster.name} at epoch {node.epoch}",
              flush=True)  # fmt: skip
        await _serve_until_drained(node, stop)
    finally:
        await rt.aclose()
    return 0


async def _serve_until_drained(node: Any, stop: asyncio.Event) -> None:
    """Serve until a signal, or a drain marked from elsewhere; then drain until done (a
    second signal cuts it short)."""
    while not node.draining and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.2):
                await stop.wait()
    stop.clear()
    drain = node.drain()
    waiting = asyncio.ensure_future(stop.wait())
    finished = asyncio.ensure_future(drain.done())
    await asyncio.wait([waiting, finished], return_when=asyncio.FIRST_COMPLETED)
    for fut in (waiting, finished):
        fut.cancel()
    stats = drain.stats()
    lost = f"; it lost its epoch {stats.rejoins} time(s) meanwhile" if stats.rejoins else ""
    print(f"agentrt node {node.node_id} drained: {stats.moved} agents moved in "
          f"{stats.seconds:.1f} s ({stats.held} held at the start{lost})",
          flush=True)  # fmt: skip


def _drain_command(args: argparse.Namespace) -> int:
    """``agentrt node drain NODE``: mark NODE draining (module docs)."""
    from agentrt.cluster import ClusterConfig, ClusterUnavailable, Membership

    if not args.target:
        print("agentrt node drain: NODE is missing (the id of the node to drain)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        config = ClusterConfig(name=args.cluster, redis_url=args.redis, prefix=args.prefix)
    except ConfigError as exc:
        print(f"agentrt node drain: {exc}", file=sys.stderr)
        return 2

    async def mark() -> bool:
        membership = Membership(config)
        try:
            return await membership.mark("draining", node_id=args.target)
        finally:
            await membership.aclose()

    try:
        done = asyncio.run(mark())
    except ClusterUnavailable as exc:
        print(f"agentrt node drain: {exc}", file=sys.stderr)
        return 1
    if not done:
        print(f"agentrt node drain: no live node {args.target!r} in cluster {config.name!r}",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"agentrt node drain: node {args.target} of cluster {config.name} is draining",
          flush=True)  # fmt: skip
    return 0


def cluster_up(args: argparse.Namespace) -> int:
    """Start ``--nodes`` node processes and supervise them (module docs)."""
    flags = _node_argv(args)
    procs: dict[int, subprocess.Popen[bytes]] = {}
    restarts: dict[int, collections.deque[float]] = collections.defaultdict(collections.deque)
    stopping = False
    state = state_path(args)

    def start(i: int) -> None:
        node_id = f"{args.cluster}-{i}"
        cmd = [sys.executable, "-m", "agentrt.cli", "node", *flags, "--node-id", node_id,
               "--parent-pid", str(os.getpid())]  # fmt: skip
        procs[i] = subprocess.Popen(cmd, start_new_session=True)
        print(f"agentrt cluster: node {node_id} pid {procs[i].pid}", flush=True)
        write_state(state, {f"{args.cluster}-{n}": p.pid for n, p in procs.items()})

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        for i in range(1, args.nodes + 1):
            start(i)
        while not stopping:
            time.sleep(0.2)
            for i, proc in list(procs.items()):
                if proc.poll() is None or stopping:
                    continue
                if proc.returncode == 0:  # drained and left (a rolling restart): start again
                    print(f"agentrt cluster: node {i} left; starting it again", file=sys.stderr)
                    start(i)
                    continue
                window = restarts[i]
                now = time.monotonic()
                window.append(now)
                while window and now - window[0] > _RESTARTS[1]:
                    window.popleft()
                if len(window) > _RESTARTS[0]:
                    print(f"agentrt cluster: node {i} keeps exiting; stopping", file=sys.stderr)
                    stopping, code = True, 1
                    break
                print(f"agentrt cluster: node {i} exited ({proc.returncode}); restarting",
                      file=sys.stderr)  # fmt: skip
                start(i)
    finally:
        _stop_all(list(procs.values()))
        state.unlink(missing_ok=True)
    return code


def _node_argv(args: argparse.Namespace) -> list[str]:
    """The ``agentrt node`` flags of ``args`` (all but ``--nodes``)."""
    out = [*cluster_argv(args), "--mock-latency-ms", str(args.mock_latency_ms)]
    for route in args.route or ():
        out += ["--route", route]
    if args.llm_url is not None:
        out += ["--llm-url", args.llm_url]
    if args.model is not None:
        out += ["--model", args.model]
    return out + (["--debug"] if args.debug else [])


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10.0
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5.0)

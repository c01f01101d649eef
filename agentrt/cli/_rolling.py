"""``agentrt cluster restart --rolling``: restart the local nodes one at a time.

``agentrt cluster up`` keeps a state file (JSON: its own pid and each node's id and pid)
in ``--state-dir`` (default ``$XDG_RUNTIME_DIR/agentrt``, else the temp directory's
``agentrt-<uid>``), named after the cluster (a hash of the Redis URL and prefix, plus the
name: two clusters never share one). ``restart --rolling`` reads it and, for each node in
turn: sends it SIGTERM (it drains: its agents move to the other nodes, its turns in
flight finish), waits for ``cluster up`` to start it again and for its new incarnation
to be ``alive`` in the members hash (a higher epoch), then goes on with the next. One line
per node: ``agentrt cluster: node ID restarted in S s (epoch N)``.

Exit codes: 0 every node restarted; 1 no ``cluster up`` state for that cluster, or a
node did not come back within ``--timeout`` seconds (the rest are left as they are);
2 bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["read_state", "rolling_restart", "state_path", "write_state"]


def _default_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "agentrt"
    return Path(tempfile.gettempdir()) / f"agentrt-{os.getuid()}"


def state_path(args: argparse.Namespace) -> Path:
    """Where ``cluster up`` of ``args``' cluster keeps its state."""
    base = Path(args.state_dir) if args.state_dir else _default_dir()
    tag = hashlib.sha256(f"{args.redis}|{args.prefix}|{args.cluster}".encode()).hexdigest()
    return base / f"cluster-{args.cluster}-{tag[:12]}.json"


def write_state(path: Path, nodes: dict[str, int]) -> None:
    """Write the state of this ``cluster up`` (atomically: a reader never sees half)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"supervisor": os.getpid(), "nodes": nodes}))
    tmp.replace(path)


def read_state(path: Path) -> dict[str, int] | None:
    """The nodes (id -> pid) of a running ``cluster up``; None when there is none (no
    file, a damaged one, or its supervisor is gone)."""
    try:
        state = json.loads(path.read_text())
        os.kill(int(state["supervisor"]), 0)
        return {str(k): int(v) for k, v in state["nodes"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def add_restart(sub: Any, add_flags: Any) -> None:
    """The ``restart`` action of ``agentrt cluster``."""
    restart = sub.add_parser(
        "restart",
        help="restart the nodes of `cluster up` one at a time, each drained first",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    restart.add_argument("--rolling", action="store_true", help="one at a time (required)")
    restart.add_argument(
        "--timeout", type=float, default=180.0, help="seconds one node may take to come back"
    )
    add_flags(restart)
    restart.set_defaults(func=rolling_restart)


def rolling_restart(args: argparse.Namespace) -> int:
    """Restart the nodes of ``args``' cluster one at a time (module docs)."""
    if not args.rolling:
        print("agentrt cluster restart: only --rolling is supported; add it", file=sys.stderr)
        return 2
    if not 0 < args.timeout <= 86_400:
        print(f"agentrt cluster restart: --timeout must be in (0, 86400], got {args.timeout}",
              file=sys.stderr)  # fmt: skip
        return 2
    path = state_path(args)
    nodes = read_state(path)
    if nodes is None:
        print(f"agentrt cluster restart: no `agentrt cluster up` of cluster {args.cluster!r} "
              f"runs here (no state in {path})", file=sys.stderr)  # fmt: skip
        return 1
    import redis

    client = redis.Redis.from_url(args.redis, socket_timeout=5.0)
    members = f"{args.prefix}{args.cluster}:{{members}}"
    try:
        for node_id in sorted(nodes):
            started = time.monotonic()
            epoch = _epoch(client, members, node_id)
            pid = (read_state(path) or nodes).get(node_id)
            if pid is None:
                continue
            try:
                os.killpg(pid, signal.SIGTERM)  # it drains, exits, and is started again
            except ProcessLookupError:
                pass
            back = _wait_back(client, members, node_id, epoch, started + args.timeout)
            if back is None:
                print(f"agentrt cluster restart: node {node_id} did not come back within "
                      f"{args.timeout:g} s; stopping here", file=sys.stderr)  # fmt: skip
                return 1
            print(f"agentrt cluster: node {node_id} restarted in "
                  f"{time.monotonic() - started:.1f} s (epoch {back})", flush=True)  # fmt: skip
    finally:
        client.close()
    return 0


def _record(client: Any, members: str, node_id: str) -> dict[str, Any] | None:
    raw = client.hget(members, f"node:{node_id}")
    try:
        rec = json.loads(raw) if raw else None
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def _epoch(client: Any, members: str, node_id: str) -> int:
    rec = _record(client, members, node_id)
    return int(rec.get("epoch", 0)) if rec else 0


def _wait_back(client: Any, members: str, node_id: str, epoch: int, until: float) -> int | None:
    """The new epoch of ``node_id`` once it is alive above ``epoch``; None at ``until``."""
    while time.monotonic() < until:
        rec = _record(client, members, node_id)
        if rec and int(rec.get("epoch", 0)) > epoch and rec.get("status") == "alive":
            return int(rec["epoch"])
        time.sleep(0.1)
    return None

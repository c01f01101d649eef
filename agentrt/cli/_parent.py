"""Parent watch: an ``agentrt node`` started by another process (``agentrt cluster up``,
a bench, a load test, a test) exits when that process dies, even by SIGKILL.

The starter passes its own pid: ``agentrt node --parent-pid PID``. A daemon thread of the
node compares ``os.getppid()`` with ``PID`` every ``interval`` seconds (0.2 by default);
once they differ (the parent died and the node was re-parented to init or a subreaper,
also when that happened before the node got to look: no race) the node sends itself
SIGTERM, which drains it and makes it leave the cluster (``agentrt node``'s own SIGTERM
handling; before that handling is installed SIGTERM ends it at once). When it is still
running ``grace`` seconds later it sends a second SIGTERM (stop at once), and 10 s after
that it exits with code 1.

Portable (POSIX): Linux's ``prctl(PR_SET_PDEATHSIG)`` is not used, since it fires when the
*thread* that forked the child exits (a starter calling ``Popen`` from a worker thread
would stop its nodes when that thread ends), and it would skip the drain.

Example::

    watch_parent(args.parent_pid, grace=args.drain_limit)
"""

from __future__ import annotations

import os
import signal
import threading
import time

__all__ = ["watch_parent"]


def watch_parent(parent: int, *, grace: float, interval: float = 0.2) -> threading.Thread:
    """Start the watch of ``parent`` (module docs); the watching daemon thread.
    ``ValueError`` when ``parent`` is not a pid (< 1) or ``interval`` not > 0."""
    if parent < 1:
        raise ValueError(f"parent pid must be >= 1, got {parent}")
    if interval <= 0:
        raise ValueError(f"interval must be > 0, got {interval}")

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)  # drain and leave
        time.sleep(grace)
        os.kill(os.getpid(), signal.SIGTERM)  # a second signal: stop at once
        time.sleep(10.0)
        os._exit(1)

    thread = threading.Thread(target=watch, name="agentrt-parent-watch", daemon=True)
    thread.start()
    return thread

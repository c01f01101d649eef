"""The node zygote of :class:`support.clusternodes.NodeProcs`: a process that imports what an
``agentrt node`` imports once, then forks one node per request, so a test that starts many
nodes (a kill -9 test starts one per kill) pays the imports (~1 CPU-s per node) once.

Each node is a real process of its own (its own session and process group, stdin
``/dev/null``, stdout and stderr appended to the log file named in the request) running
``agentrt.cli.main(["node", ...])``, the code path of ``python -m agentrt.cli node``; only
the imports happened before the fork.

Protocol, one line each way: the parent writes ``{"argv": [...], "log": PATH}`` as JSON on
stdin, the zygote answers the child's pid. The zygote reaps its children as they exit, and
when its stdin closes (the test process is gone, whatever killed it) it SIGKILLs every node
it started and exits.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback

import agentrt.actor
import agentrt.cli._node
import agentrt.cluster
import agentrt.llm.providers
import agentrt.runtime  # noqa: F401 (the node's imports, done once before any fork)
from agentrt.cli import main

_running: set[int] = set()


def _reap(*_: object) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _running.discard(pid)


def _child(argv: list[str], log: str) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    os.setsid()
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(null)
    code = 1
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    signal.signal(signal.SIGCHLD, _reap)
    print("zygote ready", flush=True)
    while line := sys.stdin.readline():
        request = json.loads(line)
        sys.stderr.flush()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # reaped after it is known
        pid = os.fork()
        if pid == 0:
            _child(request["argv"], request["log"])
        _running.add(pid)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        print(pid, flush=True)
    for pid in sorted(_running):  # the test process is gone: so are its nodes
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


if __name__ == "__main__":
    serve()

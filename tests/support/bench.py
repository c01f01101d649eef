"""Running a benchmark module the way its tests do: ``python -m loadtest.bench.<name>``."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: the figures loadtest.bench.turns (and bridges, on its workload) reports per contender
TURN_FIGURES = {
    "turns_per_s",
    "turn_p50_ms",
    "turn_p95_ms",
    "cpu_ms_per_turn",
    "bytes_per_conversation",
    "turns",
    "failed",
}


def run_bench(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``loadtest.bench.<name>`` with ``args`` from the repository root.

    The benchmark runs in a process group of its own, and the whole group is killed
    however this call ends (a timeout, pytest-timeout, an interrupt): the mock servers a
    benchmark starts are never left running."""
    argv = [sys.executable, "-m", f"loadtest.bench.{name}", *args]
    with subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def quick_json(name: str, *args: str, timeout: float = 300) -> Any:
    """Run the benchmark with ``--quick --json``; assert it succeeded; return its JSON."""
    done = run_bench(name, "--quick", "--json", *args, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def refused(name: str, *args: str) -> str:
    """Call ``loadtest.bench.<name>``'s ``main(args)`` in this process; assert it exits
    with the usage error (2) before measuring anything; return what it wrote to stderr.
    A bad option is refused by the parser, so it needs no process of its own."""
    main = importlib.import_module(f"loadtest.bench.{name}").main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exited:
        main(list(args))
    assert exited.value.code == 2, (exited.value.code, err.getvalue())
    return err.getvalue()

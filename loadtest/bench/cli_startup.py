"""CLI start-up benchmark: ``agentrt --help`` against ``python -c pass``.

The peer is the interpreter itself: a command that imports nothing of ours cannot start
faster than ``python -c pass``, so each figure is a ratio to it (target for
``agentrt --help``: at most 3x). Every round runs each command once, in a rotated order,
as a fresh process (stdout discarded), after one untimed warm-up round; the table shows
the median wall time of each and its ratio to the peer's median from the same run.

- ``import argparse``: the floor of any argparse command line, for reference.
- ``agentrt --help``: the installed console script (next to this interpreter).
- ``python -m agentrt.cli --help``: the same without the console-script wrapper.
- ``import agentrt``, ``import agentrt.actor``, ``import supervisors``: the packages.

    python -m loadtest.bench.cli_startup            # table, 21 rounds
    python -m loadtest.bench.cli_startup --json     # one JSON object
    python -m loadtest.bench.cli_startup --quick --json
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from loadtest.bench.measure import bench_parser, emit, summarize

PEER = "python -c pass"
TARGET = "agentrt --help"
TARGET_RATIO = 3.0


def commands() -> dict[str, list[str]]:
    """Name -> argv of each command timed, the peer first."""
    py = sys.executable
    script = Path(py).with_name("agentrt")
    if not script.exists():
        raise SystemExit(f"cli_startup: no agentrt console script next to {py} (pip install -e .)")
    return {
        PEER: [py, "-c", "pass"],
        "import argparse": [py, "-c", "import argparse"],  # the floor of any argparse CLI
        TARGET: [str(script), "--help"],
        "python -m agentrt.cli --help": [py, "-m", "agentrt.cli", "--help"],
        "import agentrt": [py, "-c", "import agentrt"],
        "import agentrt.actor": [py, "-c", "import agentrt.actor"],
        "import supervisors": [py, "-c", "import supervisors"],
    }


def run_once(argv: list[str]) -> float:
    """Wall seconds for one run of ``argv``; a failing command stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cli_startup: {argv} exited {done.returncode}: {done.stderr[-500:]!r}")
    return elapsed


def measure(cmds: dict[str, list[str]], rounds: int) -> dict[str, list[float]]:
    """Interleaved timings: each round runs every command once, the order rotated."""
    names = list(cmds)
    for name in names:  # warm-up: bytecode caches, page cache
        run_once(cmds[name])
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(run_once(cmds[name]))
    return samples


def main() -> None:
    args = bench_parser(__doc__.split("\n\n")[0] if __doc__ else "").parse_args()
    rounds = 3 if args.quick else 21
    samples = measure(commands(), rounds)
    medians = {name: summarize(s, "ms", qs=(50,))["p50_ms"] for name, s in samples.items()}
    peer = medians[PEER]
    ratios = {name: round(ms / peer, 2) for name, ms in medians.items()}
    result: dict[str, Any] = {
        "rounds": rounds,
        "median_ms": medians,
        "ratio_to_python": ratios,
        "agentrt_help_ratio": ratios[TARGET],
        "target_ratio": TARGET_RATIO,
        "meets_target": ratios[TARGET] <= TARGET_RATIO,
    }
    emit(
        result,
        as_json=args.json,
        title=f"CLI start-up, {rounds} interleaved rounds (median wall ms; peer {PEER})",
        rows=[(name, medians[name], ratios[name]) for name in medians],
        columns=("command", "median ms", f"x {PEER}"),
    )


if __name__ == "__main__":
    main()

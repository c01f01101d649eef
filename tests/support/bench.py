"""Running a benchmark module the way its tests do: ``python -m loadtest.bench.<name>``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_bench(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``loadtest.bench.<name>`` with ``args`` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", f"loadtest.bench.{name}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def quick_json(name: str, *args: str, timeout: float = 300) -> Any:
    """Run the benchmark with ``--quick --json``; assert it succeeded; return its JSON."""
    done = run_bench(name, "--quick", "--json", *args, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)

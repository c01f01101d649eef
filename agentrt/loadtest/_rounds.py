"""One load run in its own process: what ``agentrt capacity`` steps and
``agentrt loadtest ab`` rounds are made of.

:func:`run_round` runs ``python -m agentrt.cli loadtest run SCENARIO --no-live --out DIR
...`` (this interpreter, this agentrt) and returns the report it wrote. A separate
process per run gives each its own heap, so RSS figures do not carry one run's garbage
into the next, and its own event loop and GC settings (the knobs an A/B compares).

Example::

    report = run_round("smoke", Path(tmp), ["--agents", "50", "--duration", "5s"])
    report["figures"]["turns_per_s"]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agentrt.errors import AgentRTError

__all__ = ["RoundFailed", "run_round"]

#: ``agentrt loadtest run`` exit codes that still wrote a report (passed, thresholds failed).
_REPORTED = (0, 99)


class RoundFailed(AgentRTError, RuntimeError):
    """A run in its own process ended without a report (bad input, a server that did not
    start, a crash): the message holds its exit code and the end of its output."""


def run_round(
    scenario: str,
    out: Path,
    args: Sequence[str] = (),
    *,
    timeout: float = 600.0,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``scenario`` with the extra ``agentrt loadtest run`` flags ``args`` in a child
    process (``env``: variables added to this process's environment), its reports in the
    new folder ``out``; return the JSON report.

    Raises :class:`RoundFailed` when the child exits other than 0 or 99, writes no report,
    or runs past ``timeout`` seconds (it is killed)."""
    out.mkdir(parents=True, exist_ok=False)
    cmd = [sys.executable, "-m", "agentrt.cli", "loadtest", "run", scenario, "--no-live"]
    cmd += ["--out", str(out), *args]
    child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=child_env, check=False
        )
    except subprocess.TimeoutExpired:
        raise RoundFailed(f"{' '.join(cmd[3:])}: still running after {timeout:g} s") from None
    reports = sorted(out.glob("*.json"))
    if done.returncode not in _REPORTED or not reports:
        tail = (done.stdout + done.stderr).strip().splitlines()[-6:]
        raise RoundFailed(f"{' '.join(cmd[3:])} exited {done.returncode}: " + " / ".join(tail))
    data: dict[str, Any] = json.loads(reports[-1].read_text(encoding="utf-8"))
    return data

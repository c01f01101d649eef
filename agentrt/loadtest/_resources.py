"""What a scenario needs from the machine, estimated before it runs, and a refusal of
what cannot fit.

- memory: ``BASE_BYTES`` (the interpreter, the runtime, the mock LLM process, a
  redis-server) plus ``BYTES_PER_AGENT`` per agent (the load scenarios measured 24 KiB at
  10,000 agents and up to 130 KiB at 300 with conversations kept in memory: see
  ``docs/loadtest.md``), against the memory available now;
- file descriptors: one per concurrent LLM connection (at most ``llm.max_concurrency``,
  and no more than there are agents) plus ``BASE_FDS``, against the soft
  ``RLIMIT_NOFILE``;
- local ports: the same connections, against the ephemeral port range.

``check_fits(scenario)`` raises ``ConfigError`` naming the key to change and both
figures. ``agentrt loadtest validate`` prints the estimate; ``run`` and ``validate``
refuse a scenario that does not fit.

Example::

    need = estimate(scenario)            # Estimate(memory_bytes=..., fds=..., ports=...)
    check_fits(scenario, Machine.current())
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

from agentrt.errors import ConfigError
from agentrt.loadtest._scenario import Scenario

__all__ = ["BASE_BYTES", "BYTES_PER_AGENT", "Estimate", "Machine", "check_fits", "estimate"]

BASE_BYTES = 256 * 1024**2
BYTES_PER_AGENT = 64 * 1024
BASE_FDS = 64


@dataclass(frozen=True, kw_only=True)
class Estimate:
    """What a run needs: bytes of memory, file descriptors, local ports."""

    memory_bytes: int
    fds: int
    ports: int


@dataclass(frozen=True, kw_only=True)
class Machine:
    """What the machine offers (None: unknown, not checked)."""

    memory_bytes: int | None
    fds: int | None
    ports: int | None

    @classmethod
    def current(cls) -> Machine:
        """This machine now: MemAvailable, the soft RLIMIT_NOFILE, the ephemeral range."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return cls(
            memory_bytes=_available_memory(),
            fds=None if soft == resource.RLIM_INFINITY else soft,
            ports=_port_range(),
        )


def _available_memory() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def _port_range() -> int | None:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(high) - int(low) + 1
    except (OSError, ValueError):
        return None


def estimate(scenario: Scenario) -> Estimate:
    """What ``scenario`` needs (see the module docs)."""
    count = scenario.agents.count
    connections = min(scenario.llm.max_concurrency, count)
    return Estimate(
        memory_bytes=BASE_BYTES + count * BYTES_PER_AGENT,
        fds=BASE_FDS + connections,
        ports=connections,
    )


def _mib(n: int) -> str:
    return f"{n / 1024**2:,.0f} MiB"


def check_fits(scenario: Scenario, machine: Machine | None = None) -> Estimate:
    """The estimate of ``scenario``; ConfigError naming the key when it cannot fit."""
    need = estimate(scenario)
    have = machine or Machine.current()
    if have.memory_bytes is not None and need.memory_bytes > have.memory_bytes:
        raise ConfigError(
            "agents.count",
            f"{scenario.agents.count:,} agents need about {_mib(need.memory_bytes)} "
            f"({BYTES_PER_AGENT // 1024} KiB each + {_mib(BASE_BYTES)}); this machine has "
            f"{_mib(have.memory_bytes)} available",
        )
    if have.fds is not None and need.fds > have.fds:
        raise ConfigError(
            "llm.max_concurrency",
            f"{need.fds:,} file descriptors needed (one per LLM connection + {BASE_FDS}); "
            f"the limit is {have.fds:,} (ulimit -n)",
        )
    if have.ports is not None and need.ports > have.ports:
        raise ConfigError(
            "llm.max_concurrency",
            f"{need.ports:,} concurrent connections need as many local ports; the "
            f"ephemeral range has {have.ports:,}",
        )
    return need

"""``RestartBackoff``: an opt-in delay before a supervisor restarts a child.

This goes beyond OTP. An OTP supervisor restarts a crashed child at once and retries a
restart that fails at once, bounded only by the restart intensity; when the cause is
outside the child (a store that is down, a name still held by another incarnation), that
is a hot loop that burns the whole intensity budget in milliseconds and takes the
supervisor down. With a ``RestartBackoff`` the supervisor waits before each restart, the
way Akka's ``BackoffSupervisor`` does: ``min_s`` before the first, doubling for each
consecutive one up to ``max_s``, each delay stretched by up to ``jitter`` (a fraction,
drawn at random, so that a thousand children crashed by one outage do not come back in
one burst). A child that has run for ``reset_after_s`` without exiting starts again from
``min_s``. Without it (the default, ``backoff=None``), OTP semantics are exact.

While a child waits it has no process: messages sent to its old ref are lost as for any
dead actor, ``call`` fails at once with ``ActorDead(noproc)``, ``whereis`` of its name is
None; ``which_children`` of a ``Supervisor`` shows it with no ref. Each restart still
counts towards the intensity when it happens. The delays are timers of the supervisor:
when it stops, pending restarts are dropped with it.

Example::

    backoff = RestartBackoff(min_s=0.5, max_s=30.0, jitter=0.2, reset_after_s=60.0)
    agents = await DynamicSupervisor.start(node, backoff=backoff)
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from agentrt.errors import ConfigError

__all__ = ["RestartBackoff"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RestartBackoff:
    """Delays between restarts of one child (see the module docs).

    - ``min_s`` (0.1): delay before the first restart after a stable run.
    - ``max_s`` (10.0): the delay doubles per consecutive restart up to this.
    - ``jitter`` (0.2): each delay is multiplied by ``1 + jitter * U[0, 1)``.
    - ``reset_after_s`` (30.0): a child that ran this long counts as stable again.
    """

    min_s: float = 0.1
    max_s: float = 10.0
    jitter: float = 0.2
    reset_after_s: float = 30.0

    def __post_init__(self) -> None:
        for key in ("min_s", "max_s", "jitter", "reset_after_s"):
            value = getattr(self, key)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value < 0:
                raise ConfigError(f"backoff.{key}", f"must be a finite number >= 0, got {value!r}")
        if self.max_s < self.min_s:
            raise ConfigError(
                "backoff.max_s", f"must be >= min_s ({self.min_s!r}), got {self.max_s!r}"
            )

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before restart number ``attempt`` (0 for the first since the
        child was last stable): ``min(max_s, min_s * 2**attempt)`` plus jitter."""
        base = self.max_s if attempt >= 64 else min(self.max_s, self.min_s * 2.0**attempt)
        return base * (1.0 + self.jitter * rng.random())

"""Placement: which live node a new (or orphaned) agent goes to.

Each node publishes its load (``agents`` it holds, ``loop_lag_ms``, ``overloaded``,
``placeable``) every tick. A placement picks among the members that are ``"alive"``,
placeable and not overloaded (draining and dead nodes never get new agents); when every
placeable node is overloaded, those are candidates again (placing somewhere beats
failing). With no placeable node alive, :func:`place` answers None (the caller waits for
one to join, within its deadline): a client node never hosts agents.

Strategies (``ClusterConfig.placement``):

- ``"p2c"`` (default): power of two choices: two candidates drawn at random, the lower
  score wins (score: ``agents + loop_lag_ms``); the local node wins when its score is within
  ``local_margin`` (10 %) of the winner's.
- ``"hash"``: the candidate chosen by a stable hash of the agent id (rendezvous hashing).
- ``"random"``: a uniform draw.
- ``"local"``: the local node when it is a candidate, else ``"p2c"``.

Placement is sticky: it runs only when an agent has no live owner.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence

__all__ = ["STRATEGIES", "place"]

STRATEGIES = frozenset(("p2c", "hash", "random", "local"))


def _score(load: Mapping[str, float] | None) -> float:
    if not load:
        return 0.0
    return float(load.get("agents", 0.0)) + float(load.get("loop_lag_ms", 0.0))


def place(
    agent_id: str,
    alive: Sequence[str],
    loads: Mapping[str, Mapping[str, float]],
    *,
    local: str,
    strategy: str = "p2c",
    local_margin: float = 0.1,
    rng: random.Random | None = None,
) -> str | None:
    """The node id ``agent_id`` goes to among ``alive`` (by node id); None when none of
    them may host agents."""
    hosts = [n for n in alive if loads.get(n, {}).get("placeable", 1.0)]
    if not hosts:
        return None
    fit = [n for n in hosts if not loads.get(n, {}).get("overloaded")] or hosts
    draw = rng or random
    if strategy == "hash":
        return max(fit, key=lambda n: hashlib.blake2b(f"{n}|{agent_id}".encode()).digest())
    if strategy == "random":
        return draw.choice(fit)
    if strategy == "local" and local in fit:
        return local
    a, b = (fit[0], fit[0]) if len(fit) == 1 else draw.sample(fit, 2)
    best = a if _score(loads.get(a)) <= _score(loads.get(b)) else b
    if local in fit and _score(loads.get(local)) <= _score(loads.get(best)) * (1 + local_margin):
        return local
    return best

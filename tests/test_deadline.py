"""The one deadline rule: the earlier of a caller's deadline and an own timeout."""

from __future__ import annotations

import asyncio

from agentrt.deadline import earliest, remaining


async def test_earliest_is_the_earlier_bound_and_remaining_never_negative() -> None:
    now = asyncio.get_running_loop().time()
    assert earliest(None, None) is None
    assert earliest(None, now + 5) == now + 5
    own = earliest(1000.0, None)
    assert own is not None
    assert own >= now + 1000.0
    assert earliest(1000.0, now + 5) == now + 5  # the caller's is earlier: it wins
    short = earliest(0.5, now + 1000)
    assert short is not None
    assert short < now + 1000
    assert earliest(None, None, now + 7, now + 3) == now + 3  # several callers' bounds
    assert remaining(None) is None
    assert remaining(now - 10) == 0.0
    left = remaining(now + 1000)
    assert left is not None
    assert 0 < left <= 1000

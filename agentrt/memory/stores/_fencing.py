"""Fenced writes: a write that carries a fencing token and is refused when it is stale.

In cluster mode (``agentrt.cluster``) an agent's directory entry holds a token that grows
by one at every claim (a takeover by another node, or a rejoin). The incarnation that
claimed it keeps its token and hands it, as a :class:`Fence`, to every durable write.
:data:`FENCED_WRITE` is the Lua script that checks and writes in one step: it reads the
``token`` field of the directory entry (a Redis hash, ``KEYS[1]``) and writes the other
keys only when the token given is ``>=`` the entry's; otherwise it writes nothing and
answers the current token. A paused process that wakes after a takeover therefore cannot
overwrite the new owner's state, whatever its lease believed (Kleppmann, "How to do
distributed locking").

The directory entry and the written keys must share a Redis Cluster slot; agentrt's key
layout puts the same hash tag, ``{agent:<id>}``, in both (``agentrt.cluster.ClusterKeys``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from agentrt.errors import InvalidArgument

__all__ = ["FENCED_WRITE", "Fence", "FencedStore", "fenced_call"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Fence:
    """The fencing token of one incarnation of an agent.

    - ``key``: the full Redis key of the agent's directory entry (a hash whose ``t``
      field is the current token), e.g. ``agentrt:cluster:prod:{agent:a-1}:dir``;
    - ``token``: the token this incarnation was given when it claimed the agent.

    Example: ``Fence(key=keys.agent_dir("a-1"), token=claim.token)``
    """

    key: str
    token: int

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise InvalidArgument("key", f"key must be a non-empty string, got {self.key!r}")
        if isinstance(self.token, bool) or not isinstance(self.token, int) or self.token < 0:
            raise InvalidArgument("token", f"token must be an int >= 0, got {self.token!r}")


#: KEYS[1]: the directory entry; KEYS[2..n+1]: keys to SET; the rest: keys to DEL.
#: ARGV[1]: token; ARGV[2]: PX milliseconds or ""; ARGV[3]: n; ARGV[4..]: the n values.
#: Answers {1, current} when written, {0, current} when the token is stale (nothing done).
FENCED_WRITE = """
local current = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
if tonumber(ARGV[1]) < current then return {0, current} end
local px, n = ARGV[2], tonumber(ARGV[3])
for i = 1, n do
  if px == '' then redis.call('SET', KEYS[i + 1], ARGV[i + 3])
  else redis.call('SET', KEYS[i + 1], ARGV[i + 3], 'PX', px) end
end
for i = n + 2, #KEYS do redis.call('DEL', KEYS[i]) end
return {1, current}
"""


def fenced_call(
    dir_key: str,
    token: int,
    items: Mapping[str, bytes],
    delete: Sequence[str] = (),
    px: int | None = None,
) -> tuple[list[str], list[Any]]:
    """The ``KEYS`` and ``ARGV`` of one :data:`FENCED_WRITE` call (full Redis keys)."""
    keys = [dir_key, *items, *delete]
    args: list[Any] = [token, "" if px is None else px, len(items), *items.values()]
    return keys, args


@runtime_checkable
class FencedStore(Protocol):
    """A store that can write under a :class:`Fence` (``RedisStore`` can)."""

    name: str

    async def put_many_fenced(
        self,
        items: Mapping[str, bytes],
        fence: Fence,
        ttl: float | None = None,
        *,
        delete: Sequence[str] = (),
    ) -> None:
        """Store ``items`` and delete ``delete`` in one atomic step if ``fence`` is not
        stale; otherwise write nothing and raise :class:`~agentrt.memory.StaleWrite`."""
        ...

"""Cross-node messaging on Redis Streams: keys, envelopes and the messaging scripts.

Every node incarnation ``(node, epoch)`` has an **inbox** stream read through the consumer
group ``"agentrt"``; every node has a **reply stream** its callers read. Keys (``prefix``
as in :mod:`agentrt.cluster._scripts`)::

    {prefix}{members}:inboxes              set of "<node>|<epoch>": inboxes that may hold work
    {prefix}{members}:load                 hash: node id -> JSON load figures
    {prefix}{node:<id>|<epoch>}:inbox       stream: envelopes for that incarnation
    {prefix}{node:<id>}:replies            stream: answers and chunks for node <id>'s callers
    {prefix}{agent:<id>}:reply:<msg id>    an answer recorded under its message id (PX)

An **envelope** (stream fields): ``m`` message id, ``a`` agent id, ``t`` the token the
caller resolved, ``r`` reply stream, ``d`` deadline (wall-clock seconds, ``""``: none),
``s`` ``"1"`` for a streamed turn, ``p`` the request (JSON). An **answer** entry: ``m``,
``o`` (``"rec"`` an answer, ``"nothere"`` the node does not own the agent: ``p`` names
the owner, ``"chunk"`` a streamed delta) and ``p`` (JSON).

The scripts:

- **record**: if the token is not stale, SET the answer under the message id (PX), XADD it
  to the caller's reply stream and XACK the envelope, as one step; a stale token changes
  nothing (``0``): a zombie's answer never reaches anyone.
- **forward**: move an envelope from a dead incarnation's inbox to another one: XACK it
  there and XADD it to the new inbox only when the XACK acknowledged it (so two nodes
  draining one dead inbox forward each envelope once); ``-1`` when the new inbox is gone.
- **retire**: delete a dead inbox once nothing is pending or unread in it.

Scripts that touch a reply stream or two inboxes touch several hash slots: messaging
needs one Redis server (or a Redis Cluster whose node keys share a slot: not done).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentrt.errors import InvalidArgument

__all__ = ["GROUP", "Envelope", "WireKeys", "decode_envelope"]

GROUP = "agentrt"
"""The consumer group of every inbox."""

RECORD = """
local current = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
if tonumber(ARGV[1]) < current then return {0, current} end
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 'm', ARGV[3], 'o', 'rec', 'p', ARGV[4])
if ARGV[6] ~= '' then redis.call('XACK', KEYS[4], ARGV[5], ARGV[6]) end
return {1, current}
"""

FORWARD = """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
return 1
"""

RETIRE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[2])
  return 1
end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])
if tonumber(pending[1]) > 0 then return 0 end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then
  local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
  local delivered = nil
  for _, g in ipairs(groups) do
    for i = 1, #g, 2 do
      if g[i] == 'last-delivered-id' then delivered = g[i + 1] end
    end
  end
  if delivered ~= last[1][1] then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class WireKeys:
    """The messaging keys of one cluster (``prefix`` as ``ClusterKeys.prefix``)."""

    prefix: str

    @property
    def inboxes(self) -> str:
        """The set of inboxes that may hold work (``"<node>|<epoch>"``)."""
        return f"{self.prefix}{{members}}:inboxes"

    @property
    def load(self) -> str:
        """The hash of each node's published load."""
        return f"{self.prefix}{{members}}:load"

    @property
    def moves(self) -> str:
        """The stream of rebalance moves (one entry per round of a node: each agent's new
        owner), read by every node's tick to update the owners its callers cached."""
        return f"{self.prefix}{{members}}:moves"

    def inbox(self, node_id: str, epoch: int) -> str:
        """The inbox stream of incarnation ``(node_id, epoch)``."""
        return f"{self.prefix}{{node:{node_id}|{epoch}}}:inbox"

    def replies(self, node_id: str) -> str:
        """The reply stream of node ``node_id``'s callers."""
        return f"{self.prefix}{{node:{node_id}}}:replies"

    def record(self, agent_id: str, msg_id: str) -> str:
        """Where the answer to message ``msg_id`` of ``agent_id`` is recorded."""
        return f"{self.prefix}{{agent:{agent_id}}}:reply:{msg_id}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Envelope:
    """One request on the wire (see the module docs for the fields)."""

    msg_id: str
    agent_id: str
    token: int
    reply_to: str
    deadline: float | None
    stream: bool
    request: Mapping[str, Any]

    def fields(self) -> dict[str, str]:
        """The stream entry's fields."""
        return {
            "m": self.msg_id,
            "a": self.agent_id,
            "t": str(self.token),
            "r": self.reply_to,
            "d": "" if self.deadline is None else repr(self.deadline),
            "s": "1" if self.stream else "0",
            "p": json.dumps(self.request, separators=(",", ":")),
        }


def decode_envelope(raw: Mapping[bytes | str, bytes | str]) -> Envelope:
    """The envelope of a stream entry; ``InvalidArgument`` naming the field that is
    missing or does not parse."""
    fields = {_text(k): _text(v) for k, v in raw.items()}
    try:
        deadline = fields["d"]
        request = json.loads(fields["p"])
        if not isinstance(request, dict):
            raise ValueError("p is not an object")
        return Envelope(
            msg_id=fields["m"],
            agent_id=fields["a"],
            token=int(fields["t"]),
            reply_to=fields["r"],
            deadline=float(deadline) if deadline else None,
            stream=fields["s"] == "1",
            request=request,
        )
    except (KeyError, ValueError) as exc:
        problem = f"damaged envelope: {type(exc).__name__}: {exc}"
        raise InvalidArgument("envelope", problem) from None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value

"""The cluster's Lua scripts and its key layout on Redis.

Every state change of the cluster is one Lua script, so a check and its write are one
atomic step. Scripts are loaded with redis-py's ``register_script``: each call is an
``EVALSHA``, and a server that does not know the script (restarted, flushed) gets it
again through ``EVAL`` on the ``NOSCRIPT`` answer.

Key layout (``prefix`` is ``ClusterConfig.prefix`` + cluster name + ``":"``; it may hold
no ``{``/``}``, so the first hash tag of a key is always agentrt's)::

    {prefix}{members}                 hash: _version, _epoch, node:<id> -> JSON record
    {prefix}{members}:alive:<id>      liveness key of node <id>: its epoch, PX ttl
    {prefix}{agent:<id>}:dir          hash: o (owner), e (its epoch), t (token)
    {prefix}{agent:<id>}:...          the agent's state (same hash tag, same slot)

The members hash and the liveness keys share the ``{members}`` tag, an agent's entry and
state the ``{agent:<id>}`` tag: each script touches a single Redis Cluster slot.

The scripts (what each answers, in Python, is in the :class:`ClusterScripts` methods):

- **join**: a new epoch for the node (a cluster-wide counter: every join gets a higher
  one), its record ``{epoch, address, status: "alive"}``, its liveness key, version + 1.
- **update** (compare-and-set): set the status of node ``id`` at ``epoch`` if the hash's
  version is the one the caller read; a dead record never changes again.
- **renew**: extend the liveness key if the node's record is still this epoch and not
  dead; otherwise answer "dead" and extend nothing ("I have been told I am dead").
- **sweep**: every record not dead whose liveness key is gone (or holds another epoch)
  becomes dead, version + 1 when any did; answers the ids marked.
- **claim**: take an agent's entry when it is absent, or when its owner is the very
  ``(node, epoch)`` the caller read as dead (a dead epoch never comes back, so that fact
  cannot go stale between the read and the claim); the token grows by one. Otherwise
  answer the current owner. The check against the members hash is the caller's, because
  that hash lives in another slot.
- **release**: drop the owner of an entry held with this token (the token stays: it
  only ever grows).
- **handoff**: give an entry held with this token to another node incarnation, under
  the next token (a move: the old owner's writes are stale from then on); a stale
  owner (another token, or another owner) changes nothing.
- **fenced write** (:data:`agentrt.memory.stores._fencing.FENCED_WRITE`): SET/DEL keys
  only if the token given is ``>=`` the entry's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from agentrt.cluster._errors import ClusterUnavailable, CorruptMembers
from agentrt.errors import ConfigError, InvalidArgument
from agentrt.memory.stores._fencing import FENCED_WRITE, fenced_call

__all__ = [
    "Claim",
    "ClusterKeys",
    "ClusterScripts",
    "Joined",
    "Member",
    "MembersView",
    "Status",
    "Updated",
]

Status = Literal["alive", "draining", "dead"]
"""A member's status: ``"alive"`` (serving), ``"draining"`` (leaving, still serving what it
holds), ``"dead"`` (final for that epoch: its agents may be claimed)."""

STATUSES: frozenset[str] = frozenset(("alive", "draining", "dead"))

_JOIN = """
local epoch = redis.call('HINCRBY', KEYS[1], '_epoch', 1)
local version = redis.call('HINCRBY', KEYS[1], '_version', 1)
redis.call('HSET', KEYS[1], 'node:' .. ARGV[1],
  cjson.encode({epoch = epoch, address = ARGV[2], status = 'alive'}))
redis.call('SET', KEYS[2], epoch, 'PX', ARGV[3])
return {epoch, version}
"""

_UPDATE = """
local version = tonumber(redis.call('HGET', KEYS[1], '_version') or '0')
if version ~= tonumber(ARGV[1]) then return {0, version} end
local raw = redis.call('HGET', KEYS[1], 'node:' .. ARGV[2])
if not raw then return {-1, version} end
local rec = cjson.decode(raw)
if rec.epoch ~= tonumber(ARGV[3]) or rec.status == 'dead' then return {-1, version} end
rec.status = ARGV[4]
redis.call('HSET', KEYS[1], 'node:' .. ARGV[2], cjson.encode(rec))
if ARGV[4] == 'dead' then redis.call('DEL', KEYS[1] .. ':alive:' .. ARGV[2]) end
return {1, redis.call('HINCRBY', KEYS[1], '_version', 1)}
"""

_RENEW = """
local raw = redis.call('HGET', KEYS[1], 'node:' .. ARGV[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if rec.epoch ~= tonumber(ARGV[2]) or rec.status == 'dead' then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""

_SWEEP = """
local all = redis.call('HGETALL', KEYS[1])
local dead = {}
for i = 1, #all, 2 do
  local field = all[i]
  if string.sub(field, 1, 5) == 'node:' then
    local ok, rec = pcall(cjson.decode, all[i + 1])
    if ok and type(rec) == 'table' and rec.status ~= 'dead' then
      local node = string.sub(field, 6)
      local alive = redis.call('GET', KEYS[1] .. ':alive:' .. node)
      if alive ~= tostring(rec.epoch) then
        rec.status = 'dead'
        redis.call('HSET', KEYS[1], field, cjson.encode(rec))
        dead[#dead + 1] = node
      end
    end
  end
end
if #dead > 0 then redis.call('HINCRBY', KEYS[1], '_version', 1) end
return dead
"""

_CLAIM = """
local owner = redis.call('HGET', KEYS[1], 'o')
local epoch = redis.call('HGET', KEYS[1], 'e')
local token = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
if owner and owner == ARGV[1] and epoch == ARGV[2] then return {1, owner, epoch, token} end
if owner and not (owner == ARGV[3] and epoch == ARGV[4]) then
  return {0, owner, epoch, token}
end
token = redis.call('HINCRBY', KEYS[1], 't', 1)
redis.call('HSET', KEYS[1], 'o', ARGV[1], 'e', ARGV[2])
return {1, ARGV[1], ARGV[2], token}
"""

RELEASE = """
if redis.call('HGET', KEYS[1], 'o') == ARGV[1]
   and redis.call('HGET', KEYS[1], 't') == ARGV[2] then
  redis.call('HDEL', KEYS[1], 'o', 'e')
  return 1
end
return 0
"""

_HANDOFF = """
local token = redis.call('HGET', KEYS[1], 't')
if redis.call('HGET', KEYS[1], 'o') ~= ARGV[1] or token ~= ARGV[2] then
  return {0, tonumber(token or '0')}
end
token = redis.call('HINCRBY', KEYS[1], 't', 1)
redis.call('HSET', KEYS[1], 'o', ARGV[3], 'e', ARGV[4])
return {1, token}
"""


@dataclass(frozen=True, slots=True)
class ClusterKeys:
    """The Redis keys of one cluster (see the module docs for the layout).

    ``prefix`` is the whole namespace, e.g. ``"agentrt:cluster:prod:"``; it must be
    non-empty and hold no ``{`` or ``}`` (they would change the keys' hash slot).
    """

    prefix: str

    def __post_init__(self) -> None:
        if not self.prefix or "{" in self.prefix or "}" in self.prefix:
            raise ConfigError("prefix", f"must be non-empty, without {{ or }}: {self.prefix!r}")

    @property
    def members(self) -> str:
        """The members hash."""
        return f"{self.prefix}{{members}}"

    def alive(self, node_id: str) -> str:
        """The liveness key of ``node_id``."""
        return f"{self.prefix}{{members}}:alive:{node_id}"

    def agent_dir(self, agent_id: str) -> str:
        """The directory entry of ``agent_id``."""
        return f"{self.prefix}{{agent:{agent_id}}}:dir"

    def agent_tag(self, agent_id: str) -> str:
        """The start of every state key of ``agent_id`` (after a store's own prefix, which
        must hold no braces either), so that its state shares the entry's slot."""
        return f"{{agent:{agent_id}}}:"


@dataclass(frozen=True, kw_only=True, slots=True)
class Joined:
    """What ``join`` answered: the node's new ``epoch`` and the members ``version``."""

    epoch: int
    version: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Updated:
    """What ``update`` answered: ``done``; else ``conflict`` (the version moved on) or the
    node's record was absent, of another epoch, or dead. ``version`` is the current one."""

    done: bool
    conflict: bool
    version: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Claim:
    """What ``claim`` answered: ``won`` (this node owns the agent now, or already did),
    and the entry's ``owner``, owner ``epoch`` and fencing ``token`` after the call."""

    won: bool
    owner: str
    epoch: int
    token: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Member:
    """One record of the members hash."""

    node_id: str
    epoch: int
    address: str
    status: Status


@dataclass(frozen=True, kw_only=True, slots=True)
class MembersView:
    """The members hash as read at ``version`` (records by node id)."""

    version: int
    members: Mapping[str, Member]

    def alive(self) -> list[Member]:
        """The members whose status is ``"alive"``, by node id."""
        return [m for _, m in sorted(self.members.items()) if m.status == "alive"]

    def is_dead(self, node_id: str, epoch: int) -> bool:
        """Whether ``node_id`` at ``epoch`` is dead for good: its record is absent, of a
        later epoch (it rejoined), or dead at that very epoch. A record of an earlier
        epoch says nothing of ``epoch`` (this view is older than it): False."""
        member = self.members.get(node_id)
        if member is None or member.epoch > epoch:
            return True
        return member.epoch == epoch and member.status == "dead"


class ClusterScripts:
    """The scripts bound to one client and one :class:`ClusterKeys`.

    Every method is one ``EVALSHA`` (re-sent as ``EVAL`` after ``NOSCRIPT``). Redis
    failures raise :class:`~agentrt.cluster.ClusterUnavailable` naming the operation;
    answers that do not parse raise :class:`~agentrt.cluster.CorruptMembers`.
    """

    def __init__(self, client: aioredis.Redis, keys: ClusterKeys) -> None:
        self.keys = keys
        self._client = client
        self._join = client.register_script(_JOIN)
        self._update = client.register_script(_UPDATE)
        self._renew = client.register_script(_RENEW)
        self._sweep = client.register_script(_SWEEP)
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(RELEASE)
        self._handoff = client.register_script(_HANDOFF)
        self._fenced = client.register_script(FENCED_WRITE)

    async def _run(
        self, operation: str, script: Any, keys: Sequence[str], args: Sequence[Any]
    ) -> Any:
        try:
            return await script(keys=list(keys), args=list(args))
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable(operation, f"{type(exc).__name__}: {exc}") from exc

    async def join(self, node_id: str, address: str, ttl_ms: int) -> Joined:
        """Join (or rejoin) ``node_id`` with a new epoch; its liveness key lives ``ttl_ms``."""
        _check_node(node_id)
        k = self.keys
        epoch, version = await self._run(
            "join", self._join, [k.members, k.alive(node_id)], [node_id, address, ttl_ms]
        )
        return Joined(epoch=int(epoch), version=int(version))

    async def update(
        self, expected_version: int, node_id: str, epoch: int, status: Status
    ) -> Updated:
        """Compare-and-set the status of ``node_id`` at ``epoch`` (``"dead"`` also drops
        its liveness key)."""
        if status not in STATUSES:
            raise InvalidArgument(
                "status", f"status must be one of {sorted(STATUSES)}, got {status!r}"
            )
        code, version = await self._run(
            "update", self._update, [self.keys.members], [expected_version, node_id, epoch, status]
        )
        return Updated(done=code == 1, conflict=code == 0, version=int(version))

    async def renew(self, node_id: str, epoch: int, ttl_ms: int) -> bool:
        """Extend the liveness key; ``False`` when this epoch is dead (nothing extended)."""
        k = self.keys
        done = await self._run(
            "renew", self._renew, [k.members, k.alive(node_id)], [node_id, epoch, ttl_ms]
        )
        return bool(done == 1)

    async def sweep(self) -> list[str]:
        """Mark dead every live record whose liveness key expired; the ids marked."""
        dead = await self._run("sweep", self._sweep, [self.keys.members], [])
        return [_text(d) for d in dead]

    async def members(self) -> MembersView:
        """Read the members hash (one ``HGETALL``); a damaged record raises
        :class:`~agentrt.cluster.CorruptMembers` naming the field."""
        try:
            raw = await self._client.hgetall(self.keys.members)
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable("members", f"{type(exc).__name__}: {exc}") from exc
        return parse_members({_text(k): v for k, v in raw.items()})

    async def claim(
        self, agent_id: str, node_id: str, epoch: int, *, dead: tuple[str, int] | None = None
    ) -> Claim:
        """Claim ``agent_id`` for ``node_id`` at ``epoch``: won when the entry is free or
        its owner is ``dead`` (a ``(node, epoch)`` the caller read as dead)."""
        dead_node, dead_epoch = dead if dead is not None else ("", "")
        won, owner, owner_epoch, token = await self._run(
            "claim",
            self._claim,
            [self.keys.agent_dir(agent_id)],
            [node_id, epoch, dead_node, dead_epoch],
        )
        return Claim(won=won == 1, owner=_text(owner), epoch=int(owner_epoch), token=int(token))

    async def release(self, agent_id: str, node_id: str, token: int) -> bool:
        """Give up ``agent_id`` if ``node_id`` holds it with ``token``; ``False`` otherwise."""
        done = await self._run(
            "release", self._release, [self.keys.agent_dir(agent_id)], [node_id, token]
        )
        return bool(done == 1)

    async def handoff(
        self, agent_id: str, node_id: str, token: int, to_node: str, to_epoch: int
    ) -> int | None:
        """Give ``agent_id``, held by ``node_id`` with ``token``, to ``to_node`` at
        ``to_epoch`` under the next token; that token, or None when ``node_id`` does not
        hold it with ``token`` (nothing changed)."""
        _check_node(to_node)
        done, current = await self._run(
            "handoff",
            self._handoff,
            [self.keys.agent_dir(agent_id)],
            [node_id, token, to_node, to_epoch],
        )
        return int(current) if done == 1 else None

    async def fenced_write(
        self,
        dir_key: str,
        token: int,
        items: Mapping[str, bytes],
        *,
        delete: Sequence[str] = (),
        px: int | None = None,
    ) -> tuple[bool, int]:
        """Run the fenced write on full Redis keys: ``(written, current token)``."""
        keys, args = fenced_call(dir_key, token, items, delete, px)
        done, current = await self._run("fenced write", self._fenced, keys, args)
        return done == 1, int(current)


def parse_members(raw: Mapping[str, bytes | str]) -> MembersView:
    """A :class:`MembersView` of the hash's fields (``CorruptMembers`` when damaged)."""
    try:
        version = int(raw.get("_version", b"0"))
    except ValueError:
        raise CorruptMembers("_version", f"not an integer: {raw['_version']!r}") from None
    members: dict[str, Member] = {}
    for field, value in raw.items():
        if field.startswith("node:"):
            members[field[5:]] = _member(field, field[5:], value)
    return MembersView(version=version, members=members)


def _member(field: str, node_id: str, value: bytes | str) -> Member:
    try:
        rec = json.loads(value)
        epoch, address, status = rec["epoch"], rec["address"], rec["status"]
    except (ValueError, TypeError, KeyError) as exc:
        raise CorruptMembers(field, f"{type(exc).__name__}: {exc}") from None
    if isinstance(epoch, bool) or not isinstance(epoch, int) or status not in STATUSES:
        raise CorruptMembers(field, f"bad epoch or status: {rec!r}")
    if not isinstance(address, str):
        raise CorruptMembers(field, f"address is not text: {address!r}")
    return Member(node_id=node_id, epoch=epoch, address=address, status=status)


def _check_node(node_id: str) -> None:
    if not isinstance(node_id, str) or not node_id or "{" in node_id or "}" in node_id:
        raise InvalidArgument(
            "node_id", f"node_id must be non-empty text without braces: {node_id!r}"
        )


def _text(value: object) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)

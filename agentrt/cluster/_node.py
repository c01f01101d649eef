"""``ClusterNode``: one node's part in the cluster: directory, placement, messaging, failover.

It holds this node's :class:`~agentrt.cluster.Membership` and runs three loops:

- **inbox**: reads this incarnation's inbox (``XREADGROUP``); an envelope forwarded from
  a dead inbox is answered from its reply record when it has one (a redelivery: never
  run twice; a fresh envelope cannot have one and skips that read), with
  ``NotHere(owner)`` when this incarnation does not own the agent, else run by the
  ``Host`` under the agent's fencing token, and its answer recorded, sent and
  acknowledged by one fenced script (:mod:`agentrt.cluster._wire`). The answer records
  of concurrent turns, like the callers' envelope ``XADD``s, share one pipeline
  (:mod:`agentrt.cluster._batch`);
- **replies**: reads this node's reply stream and wakes the caller waiting on each
  message id (chunks of a streamed turn go to its sink as they come);
- **tick** (every ``renew_ms``): publishes this node's load (and, every ``stats_ms``, its
  statistics: :mod:`agentrt.cluster._stats`, in the same pipeline), and drains the inboxes of
  incarnations the members hash says are **dead** (never because an entry looks idle: a
  long LLM turn looks idle to Redis): ``XAUTOCLAIM``, re-resolve each agent (its owner
  is dead, so it is claimed for a placed node under a new token), forward the envelope
  there (acknowledged and re-sent in one script; the request is marked
  ``"redelivered": true``), then delete the emptied inbox.

:meth:`ClusterNode.locate` answers an agent's owner: cached while the owner incarnation
lives; else read from its directory entry; else placed (:mod:`agentrt.cluster._placement`,
after ``min_nodes`` are alive) and claimed. :meth:`ClusterNode.send` delivers a request
to a remote owner and waits for its answer within the deadline (``TimeoutError`` after;
``NotHere`` when the agent kept moving). A node that loses its epoch (told dead, stalled)
forgets what it owned and calls ``Host.lost``; its next epoch gets a new inbox.

Requests and answers are JSON objects: the runtime (``agentrt.runtime._cluster``) says
what they hold; this layer never imports agents.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError, ResponseError

from agentrt._cancel import cancel_and_wait
from agentrt.cluster._batch import Batcher
from agentrt.cluster._config import ClusterConfig
from agentrt.cluster._drain import Drain
from agentrt.cluster._errors import ClusterUnavailable, NotHere
from agentrt.cluster._hosting import ChunkSend, ChunkSink, ClusterStats, Host, Owner
from agentrt.cluster._membership import Membership
from agentrt.cluster._placement import place
from agentrt.cluster._rebalance import Rebalancer
from agentrt.cluster._scripts import RELEASE
from agentrt.cluster._stats import OnDamaged, StatsPublisher, read_view
from agentrt.cluster._wire import FORWARD, GROUP, RECORD, RETIRE, Envelope, WireKeys
from agentrt.cluster._wire import decode_envelope as _decode
from agentrt.telemetry._cluster import ClusterView

__all__ = ["ClusterNode"]

_log = logging.getLogger("agentrt.cluster.node")
_REPLY_MAXLEN = 10_000
_MOVES_MAXLEN = 1_000  # rounds kept in the moves stream (a node reads it every tick)
_ROUTES = 4  # attempts of one request while its agent moves (NotHere, inbox gone)


class ClusterNode:
    """This node in ``config``'s cluster, running agents with ``host`` (module docs)."""

    def __init__(
        self, config: ClusterConfig, host: Host, *, client: aioredis.Redis | None = None
    ) -> None:
        self.config = config
        self.membership = Membership(config, client=client, on_lost=self._on_lost)
        self.node_id = self.membership.node_id
        self.scripts = self.membership.scripts
        self._client: aioredis.Redis = self.membership._client
        self.wire = WireKeys(config.key_prefix)
        self._host = host
        self._record = self._client.register_script(RECORD)
        self._forward = self._client.register_script(FORWARD)
        self._retire = self._client.register_script(RETIRE)
        self._release = self._client.register_script(RELEASE)
        self._batch = Batcher(self._client)  # XADDs and answer records of concurrent turns
        self._owners: dict[str, Owner] = {}  # callers' cache
        self._owned: dict[str, int] = {}  # agent -> token, for this epoch
        self._loads: dict[str, dict[str, float]] = {}  # node -> its published load
        self._inbox_epoch = 0
        self._moves_seen = "$"  # the moves stream read from (set at start)
        #: how many times the tick has read the load hash (a round's freshness check)
        self.loads_read = 0
        self._waiting: dict[str, tuple[asyncio.Future[dict[str, Any]], ChunkSink | None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._serving: set[asyncio.Task[None]] = set()
        # agent -> its requests being served here, each done once its answer is recorded
        # (a move waits for them: an answer recorded after the hand-off is refused)
        self._answering: dict[str, set[asyncio.Future[None]]] = {}
        self._n = dict.fromkeys(ClusterStats.__dataclass_fields__, 0)
        #: publishes this node's statistics from the tick (the runtime sets its ``sample``)
        self.publisher = StatsPublisher(config, self.node_id)
        self._closed = False
        self._leaving: Drain | None = None
        #: the rebalancing rounds (:mod:`agentrt.cluster._rebalance`); None when off
        self.rebalancer = Rebalancer(self) if config.rebalance and config.placeable else None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Join, open this epoch's inbox and start the loops. ``ClusterUnavailable``
        when Redis fails."""
        replies = self.wire.replies(self.node_id)
        try:
            last = await self._client.xrevrange(replies, count=1)
            seen = await self._client.xrevrange(self.wire.moves, count=1)
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable("start", f"{type(exc).__name__}: {exc}") from exc
        self._moves_seen = _text(seen[0][0]) if seen else "0-0"
        await self.membership.start()
        await self._open_inbox()
        with contextlib.suppress(RedisError, OSError, ClusterUnavailable):
            await self.tick()  # publish our load before anyone places on us
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._inbox_loop()),
            loop.create_task(self._reply_loop(replies, _text(last[0][0]) if last else "0-0")),
            loop.create_task(self._tick_loop()),
        ]
        if self.rebalancer is not None:
            self.rebalancer.start()

    async def aclose(self) -> None:
        """Stop the loops (and a drain), fail the callers still waiting, leave the cluster."""
        if self._closed:
            return
        self._closed = True
        if self._leaving is not None:
            await self._leaving.aclose()
        if self.rebalancer is not None:
            await self.rebalancer.aclose()
        await cancel_and_wait(*self._tasks, *self._serving)
        for fut, _ in self._waiting.values():
            if not fut.done():
                fut.set_exception(ClusterUnavailable("request", "the node is closing"))
        await self.membership.aclose()

    @property
    def epoch(self) -> int:
        """This node's current epoch (0 before joining)."""
        return self.membership.epoch

    def loads(self) -> Mapping[str, Mapping[str, float]]:
        """Each node's load as last read (by node id); ``at`` is the wall-clock second its
        node published it. A damaged entry (not a JSON object of numbers) is left out."""
        return self._loads

    def stats(self) -> ClusterStats:
        """This node's counters."""
        return ClusterStats(**self._n)

    @property
    def moves(self) -> int:
        """Agents moved off this node (published in the cluster statistics): the
        ``"moved"`` counter that drain and rebalance keep among this node's counters
        (``self._n``); 0 while nothing counts moves."""
        return self._n.get("moved", 0)

    async def cluster_view(self, on_damaged: OnDamaged | None = None) -> ClusterView:
        """Every node's published statistics, merged (:func:`agentrt.cluster._stats.read_view`;
        stale past ``config.stats_stale_s``). ``ClusterUnavailable`` when Redis fails."""
        try:
            return await read_view(
                self._client, self.publisher.keys,
                stale_after=self.config.stats_stale_s, on_damaged=on_damaged,
            )  # fmt: skip
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable("cluster stats", f"{type(exc).__name__}: {exc}") from exc

    # -- moves and drain (agentrt.cluster._drain) --------------------------------------------

    def owned(self) -> list[str]:
        """The agents this incarnation holds (live or passivated), as known here."""
        return list(self._owned)

    async def move(self, agent_id: str, to: Owner | None = None, *, limit: float = 0.0) -> bool:
        """Move ``agent_id`` off this node: the host stops it here (a turn in flight may
        finish within ``limit`` seconds; its conversation saved first), then this node's
        claim is given up by one fenced script: released (``to`` None: its next caller
        places it, never on a draining node) or handed to ``to`` under the next token.
        Turns that reach it meanwhile wait, then go to its new owner. False when this
        incarnation does not hold it, or a newer owner holds the entry (nothing
        changed); ``ClusterUnavailable`` when Redis fails (it stays here). Requests for
        it already being served here record their answers (fenced by this node's token)
        before the hand-over, within ``limit``: one recorded after it would be refused."""
        token = self._owned.get(agent_id)
        if token is None:
            return False
        started = asyncio.get_running_loop().time()
        serving = list(self._answering.get(agent_id, ()))  # begun before the move
        await self._host.hand_off(agent_id, limit)
        if serving:  # their turns are over: let them record their answers under our token
            left = limit - (asyncio.get_running_loop().time() - started)
            await asyncio.wait(serving, timeout=max(left, 0.001))
        try:
            if to is None:
                done = await self._release_now(agent_id, token)
                moved = None
            else:
                new = await self.scripts.handoff(
                    agent_id, self.node_id, token, to.node_id, to.epoch
                )
                done = new is not None
                moved = Owner(to.node_id, to.epoch, new) if new is not None else None
            if self._owned.get(agent_id) == token:
                del self._owned[agent_id]
            self._owners.pop(agent_id, None)
            if moved is not None:
                self._owners[agent_id] = moved
            if done:
                self._n["moved"] += 1
            return done
        finally:
            self._host.moved(agent_id)

    def count_rebalance(self, moved: int) -> None:
        """Count one rebalance round that moved ``moved`` agents (``ClusterStats``)."""
        self._n["rebalance_rounds"] += 1
        self._n["rebalanced"] += moved

    async def announce(self, agent_ids: list[str]) -> None:
        """Tell every node where ``agent_ids`` went (moved by this node: their owners as
        cached here), in one entry of the moves stream; each node's tick updates the
        owners its callers had cached, so their next turn goes straight to the new owner
        instead of being told ``NotHere`` by this one. ``ClusterUnavailable`` when Redis
        fails (then callers find the new owners through ``NotHere``)."""
        moved = {
            a: [o.node_id, o.epoch, o.token]
            for a in agent_ids
            if (o := self._owners.get(a)) is not None and not self.is_local(o)
        }
        if not moved:
            return
        body = json.dumps(moved, separators=(",", ":"))
        try:
            await self._client.xadd(
                self.wire.moves, {"m": body}, maxlen=_MOVES_MAXLEN, approximate=True
            )
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable("announce moves", f"{type(exc).__name__}: {exc}") from exc

    def _learn_moves(self, entries: Any) -> None:
        """Update cached owners from moves-stream ``entries`` (only agents cached here,
        and only to a newer token); a damaged entry is logged and skipped."""
        for _, items in entries or ():
            for entry_id, fields in items:
                self._moves_seen = _text(entry_id)
                try:
                    moved = json.loads(_text(fields.get(b"m", fields.get("m", b""))))
                    for agent_id, (node, epoch, token) in moved.items():
                        cached = self._owners.get(agent_id)
                        if cached is not None and int(token) > cached.token:
                            self._owners[agent_id] = Owner(str(node), int(epoch), int(token))
                except (ValueError, TypeError, AttributeError) as exc:
                    _log.warning("cluster moves entry %s is damaged (%s): skipped",
                                 self._moves_seen, exc)  # fmt: skip

    async def activate_at(self, agent_id: str, timeout: float) -> None:
        """Ask ``agent_id``'s owner to activate it now (from its snapshot) with an
        ``{"kind": "activate"}`` request: after a move, so that its next caller waits for
        no activation. ``TimeoutError`` after ``timeout``; ``ClusterUnavailable`` when
        Redis fails; nothing when the agent is this node's or moved on again."""
        owner = await self.locate(agent_id, timeout=timeout)
        if not self.is_local(owner):
            await self.send(agent_id, owner, {"kind": "activate"}, timeout=timeout)

    async def refuse(self, agent_id: str, token: int) -> None:
        """Give up ``agent_id``, claimed for this node under ``token`` but not live here,
        because this node is draining (a caller placed it from a view older than the
        drain): its entry is released by the token-checked script, so its caller, told it
        moved, places it on another node. ``ClusterUnavailable`` when Redis fails."""
        if self._owned.get(agent_id) == token:
            del self._owned[agent_id]
        self._owners.pop(agent_id, None)
        await self._release_now(agent_id, token)

    async def _release_now(self, agent_id: str, token: int) -> bool:
        """The release script, in one pipeline with the other moves' (a drain's many)."""
        sha, key = self._release.sha, self.scripts.keys.agent_dir(agent_id)
        try:
            done = await self._batch.call(
                lambda pipe: pipe.evalsha(sha, 1, key, self.node_id, token)
            )
        except NoScriptError:  # Redis restarted (its scripts are gone)
            return await self.scripts.release(agent_id, self.node_id, token)
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable("release", f"{type(exc).__name__}: {exc}") from exc
        return bool(done == 1)

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    @property
    def draining(self) -> bool:
        """Whether this node is draining (or drained)."""
        return self._leaving is not None

    def drain(self) -> Drain:
        """Start draining this node (idempotent): the :class:`~agentrt.cluster._drain.Drain`
        (await its ``done()`` for the node to be empty). The module docs of
        :mod:`agentrt.cluster._drain` say what happens."""
        if self._leaving is None:
            self._leaving = Drain(self)
            self._leaving.start()
        return self._leaving

    def busy(self) -> int:
        """Requests being served here now."""
        return len(self._serving)

    def _on_lost(self, epoch: int, reason: str) -> None:
        _log.warning("cluster node %r lost epoch %d (%s): dropping its agents", self.node_id,
                     epoch, reason)  # fmt: skip
        self._owned.clear()
        self._owners.clear()
        self._host.lost(epoch)

    async def _open_inbox(self) -> None:
        epoch = self.membership.epoch
        key = self.wire.inbox(self.node_id, epoch)
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xgroup_create(key, GROUP, id="0", mkstream=True)
                pipe.sadd(self.wire.inboxes, f"{self.node_id}|{epoch}")
                await pipe.execute(raise_on_error=False)
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable("open inbox", f"{type(exc).__name__}: {exc}") from exc
        self._inbox_epoch = epoch

    # -- locating agents -------------------------------------------------------------------

    def is_local(self, owner: Owner) -> bool:
        """Whether ``owner`` is this node's current incarnation."""
        return owner.node_id == self.node_id and owner.epoch == self.membership.epoch

    def owns(self, agent_id: str) -> int | None:
        """The token this incarnation holds ``agent_id`` with, or None."""
        return self._owned.get(agent_id)

    async def locate(self, agent_id: str, *, timeout: float | None = None) -> Owner:
        """The live owner of ``agent_id``: placed and claimed when it has none. Waits up
        to ``timeout`` for ``min_nodes``; ``ClusterUnavailable`` when Redis fails."""
        cached = self._owners.get(agent_id)
        view = self.membership.view
        if cached is not None and not view.is_dead(cached.node_id, cached.epoch):
            return cached
        key = self.scripts.keys.agent_dir(agent_id)
        for _ in range(_ROUTES):
            try:
                raw = await self._client.hmget(key, ["o", "e", "t"])
            except (RedisError, OSError) as exc:
                raise ClusterUnavailable("locate", f"{type(exc).__name__}: {exc}") from exc
            owner = _text(raw[0]) if raw[0] is not None else None
            epoch = int(raw[1]) if raw[1] is not None else 0
            if owner is not None:
                if view.is_dead(owner, epoch):  # dead is final, but read it fresh
                    view = await self.membership.members()
                if not view.is_dead(owner, epoch):
                    found = Owner(owner, epoch, int(raw[2] or 0))
                    self._remember(agent_id, found)
                    return found
            placed = await self._place(agent_id, (owner, epoch) if owner else None, timeout)
            if placed is not None:
                return placed
            view = await self.membership.members()
        raise NotHere(agent_id, "", "its entry kept changing")

    async def _place(
        self, agent_id: str, dead: tuple[str, int] | None, timeout: float | None
    ) -> Owner | None:
        view = self.membership.view
        bound = self.config.request_timeout if timeout is None else timeout
        if len(view.alive()) < self.config.min_nodes:
            view = await self.membership.wait_for(timeout=bound)
        loop = asyncio.get_running_loop()
        until = loop.time() + bound
        while True:  # no node may host it (all dead or clients): wait for one to join
            alive = [m.node_id for m in view.alive()]
            if self._leaving is not None:  # draining: never here, whatever the view says
                alive = [n for n in alive if n != self.node_id]
            target = place(
                agent_id,
                alive,
                self._loads,
                local=self.node_id,
                strategy=self.config.placement,
                local_margin=self.config.local_margin,
            )
            if target is not None:
                break
            if loop.time() >= until:
                raise NotHere(agent_id, "", "no live node may host it")
            await asyncio.sleep(self.config.renew_ms / 1000)
            view = await self.membership.members()
        member = view.members.get(target)
        if member is None:
            return None
        claim = await self.scripts.claim(agent_id, target, member.epoch, dead=dead)
        if not claim.won:
            return None if view.is_dead(claim.owner, claim.epoch) else self._found(agent_id, claim)
        self._n["claims"] += 1
        return self._found(agent_id, claim)

    def _found(self, agent_id: str, claim: Any) -> Owner:
        owner = Owner(claim.owner, claim.epoch, claim.token)
        self._remember(agent_id, owner)
        return owner

    def _remember(self, agent_id: str, owner: Owner) -> None:
        self._owners[agent_id] = owner
        if self.is_local(owner):
            self._owned[agent_id] = owner.token

    def note_owner(self, agent_id: str, owner: Owner) -> None:
        """Remember that ``owner`` holds ``agent_id`` (a claim made outside :meth:`locate`)."""
        self._remember(agent_id, owner)

    def forget(self, agent_id: str) -> None:
        """Drop the cached owner of ``agent_id`` (it answered ``NotHere``)."""
        self._owners.pop(agent_id, None)

    # -- requests --------------------------------------------------------------------------

    async def send(
        self,
        agent_id: str,
        owner: Owner,
        request: Mapping[str, Any],
        *,
        timeout: float,
        stream: ChunkSink | None = None,
        msg_id: str | None = None,
    ) -> dict[str, Any] | None:
        """Send ``request`` to ``owner``'s inbox as message ``msg_id`` (None: a new id;
        a request sent again after a ``NotHere`` keeps its id, so that its owner knows
        it) and wait up to ``timeout`` seconds for the answer; None when the owner
        answered ``NotHere`` or its inbox is gone (the owner was forgotten: locate
        again). ``TimeoutError`` after ``timeout``."""
        msg_id = msg_id or uuid.uuid4().hex
        env = Envelope(
            msg_id=msg_id,
            agent_id=agent_id,
            token=owner.token,
            reply_to=self.wire.replies(self.node_id),
            deadline=time.time() + timeout,
            stream=stream is not None,
            request=request,
        )
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = (fut, stream)
        try:
            async with asyncio.timeout(timeout):
                if not await self._post(owner, env):
                    self.forget(agent_id)
                    return None
                answer = await fut
        finally:
            self._waiting.pop(msg_id, None)
        if answer.get("o") == "nothere":  # our view of its owner is stale: read it again
            self.forget(agent_id)
            await self.membership.members()
            return None
        return answer

    async def _post(self, owner: Owner, env: Envelope) -> bool:
        """XADD ``env`` to ``owner``'s inbox; False when that incarnation is dead (its
        inbox is gone). A live owner whose inbox is not made yet (it just joined) is
        waited for, a tick at a time."""
        inbox = self.wire.inbox(owner.node_id, owner.epoch)
        fields: dict[Any, Any] = env.fields()
        while True:
            try:
                sent: Any = await self._batch.call(
                    lambda pipe: pipe.xadd(inbox, fields, nomkstream=True)
                )
            except (RedisError, OSError) as exc:
                raise ClusterUnavailable("send", f"{type(exc).__name__}: {exc}") from exc
            self._n["sent"] += 1
            if sent is not None:
                return True
            view = await self.membership.members()
            if view.is_dead(owner.node_id, owner.epoch):
                return False
            await asyncio.sleep(self.config.renew_ms / 1000)

    # -- the loops -------------------------------------------------------------------------

    async def _inbox_loop(self) -> None:
        pause = self.config.renew_ms / 1000
        while not self._closed:  # a cancel swallowed in a Redis read must end it too
            if not self.membership.serving:
                await asyncio.sleep(pause)
                continue
            if self._inbox_epoch != self.membership.epoch:
                await self._guarded(self._open_inbox())
                continue
            key = self.wire.inbox(self.node_id, self._inbox_epoch)
            try:
                got: Any = await self._client.xreadgroup(
                    GROUP, self.node_id, {key: ">"}, count=128, block=max(1, int(pause * 1000))
                )
            except ResponseError as exc:  # NOGROUP: the inbox was retired (we were dead)
                _log.info("cluster node %r: inbox %s: %s", self.node_id, key, exc)
                self._inbox_epoch = 0
                continue
            except (RedisError, OSError):
                await asyncio.sleep(pause)
                continue
            for _, entries in got or ():
                for entry_id, fields in entries:
                    task = asyncio.get_running_loop().create_task(
                        self._serve(key, _text(entry_id), fields)
                    )
                    self._serving.add(task)
                    task.add_done_callback(self._serving.discard)

    async def _guarded(self, op: Awaitable[Any]) -> None:
        try:
            await op
        except ClusterUnavailable as exc:
            _log.debug("cluster node %r: %s", self.node_id, exc)
            await asyncio.sleep(self.config.renew_ms / 1000)

    async def _serve(self, inbox: str, entry_id: str, fields: Mapping[Any, Any]) -> None:
        try:
            await self._serve_one(inbox, entry_id, fields)
        except (RedisError, OSError, ClusterUnavailable) as exc:
            # not acknowledged: served again once this node rejoins or is swept dead
            _log.warning("cluster node %r: serving %s failed: %s", self.node_id, entry_id, exc)

    async def _serve_one(self, inbox: str, entry_id: str, fields: Mapping[Any, Any]) -> None:
        client = self._client
        try:
            env = _decode(fields)
        except ValueError as exc:
            _log.error("cluster node %r: dropped entry %s: %s", self.node_id, entry_id, exc)
            await client.xack(inbox, GROUP, entry_id)
            return
        record = self.wire.record(env.agent_id, env.msg_id)
        # only a forwarded envelope can have been answered before: a fresh one (a new
        # message id, read once from this inbox) skips that round trip
        recorded = await client.get(record) if env.request.get("redelivered") else None
        if recorded is not None:  # a redelivery: answered from the record, not run again
            self._n["replayed"] += 1
            await self._answer(env, inbox, entry_id, "rec", _text(recorded))
            return
        token = self._owned.get(env.agent_id)
        dir_key = self.scripts.keys.agent_dir(env.agent_id)
        if token is None:
            raw = await client.hmget(dir_key, ["o", "e", "t"])
            mine = _text(raw[0] or b"") == self.node_id and int(raw[1] or 0) == self.epoch
            if not mine or inbox != self.wire.inbox(self.node_id, self.epoch):
                self._n["not_here"] += 1
                owner = {"owner": _text(raw[0] or b""), "epoch": int(raw[1] or 0)}
                await self._answer(env, inbox, entry_id, "nothere", json.dumps(owner))
                return
            token = self._owned[env.agent_id] = int(raw[2] or 0)
        loop = asyncio.get_running_loop()
        answering = loop.create_future()
        self._answering.setdefault(env.agent_id, set()).add(answering)
        try:
            await self._serve_owned(env, inbox, entry_id, token, dir_key, record)
        finally:
            answering.set_result(None)
            futures = self._answering.get(env.agent_id)
            if futures is not None:
                futures.discard(answering)
                if not futures:
                    del self._answering[env.agent_id]

    async def _serve_owned(
        self, env: Envelope, inbox: str, entry_id: str, token: int, dir_key: str, record: str
    ) -> None:
        """Run ``env`` on its agent held here under ``token``; record and send the answer
        (fenced by ``token``)."""
        loop = asyncio.get_running_loop()
        deadline = None if env.deadline is None else loop.time() + env.deadline - time.time()
        chunk = self._chunks(env) if env.stream else None
        answer = await self._host.serve(
            env.agent_id, token, env.request, deadline, chunk, env.msg_id
        )
        if answer.get("moved"):  # it left this node meanwhile: the caller re-resolves
            self._n["not_here"] += 1
            await self._answer(env, inbox, entry_id, "nothere", '{"owner":"","epoch":0}')
            return
        self._n["served"] += 1
        keys = [dir_key, record, env.reply_to, inbox]
        body = json.dumps(answer, separators=(",", ":"))
        args: list[str | int] = [token, self.config.reply_ttl_ms, env.msg_id, body, GROUP,
                                 entry_id, _REPLY_MAXLEN]  # fmt: skip
        sha = self._record.sha
        try:
            done, current = await self._batch.call(lambda pipe: pipe.evalsha(sha, 4, *keys, *args))
        except NoScriptError:  # Redis restarted (its scripts are gone): loaded and run
            done, current = await self._record(keys=keys, args=args)
        if not done:
            self._n["fenced_out"] += 1
            _log.warning("cluster node %r: answer to %s of %r refused: token %d < %d",
                         self.node_id, env.msg_id, env.agent_id, token, current)  # fmt: skip

    def _chunks(self, env: Envelope) -> ChunkSend:
        async def send(delta: str) -> None:  # awaited by the producer: backpressure
            await self._client.xadd(
                env.reply_to,
                {"m": env.msg_id, "o": "chunk", "p": delta},
                maxlen=_REPLY_MAXLEN,
                approximate=True,
            )

        return send

    async def _answer(self, env: Envelope, inbox: str, entry_id: str, kind: str, body: str) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xadd(env.reply_to, {"m": env.msg_id, "o": kind, "p": body},
                      maxlen=_REPLY_MAXLEN, approximate=True)  # fmt: skip
            pipe.xack(inbox, GROUP, entry_id)
            await pipe.execute()

    async def _reply_loop(self, key: str, last: str) -> None:
        pause = self.config.renew_ms / 1000
        while not self._closed:  # a cancel swallowed in a Redis read must end it too
            try:
                got: Any = await self._client.xread(
                    {key: last}, count=256, block=max(1, int(pause * 1000))
                )
            except (RedisError, OSError):
                await asyncio.sleep(pause)
                continue
            for _, entries in got or ():
                for entry_id, fields in entries:
                    last = _text(entry_id)
                    self._deliver({_text(k): _text(v) for k, v in fields.items()})

    def _deliver(self, fields: Mapping[str, str]) -> None:
        waiter = self._waiting.get(fields.get("m", ""))
        if waiter is None:
            return  # its caller gave up (deadline) or this is an old stream
        fut, sink = waiter
        kind, body = fields.get("o"), fields.get("p", "")
        if kind == "chunk":
            if sink is not None and not fut.done():
                sink(body)
            return
        if fut.done():
            return
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {"error": {"type": "ClusterError", "message": "a damaged answer"}}
        fut.set_result({"o": kind, **payload} if isinstance(payload, dict) else {"o": kind})

    async def _tick_loop(self) -> None:
        pause = self.config.renew_ms / 1000
        while not self._closed:  # a cancel swallowed in a Redis read must end it too
            await asyncio.sleep(pause)
            try:
                await self.tick()
            except (ClusterUnavailable, RedisError, OSError) as exc:
                _log.debug("cluster node %r: tick: %s", self.node_id, exc)

    async def tick(self) -> None:
        """Publish this node's load (and statistics, when due), read the others', drain
        dead incarnations' inboxes. One round trip, plus one per dead inbox."""
        client = self._client
        async with client.pipeline(transaction=False) as pipe:
            if self.membership.serving:
                load = {
                    **self._host.load(),
                    "owned": float(len(self._owned)),
                    "rebalance_rounds": float(self._n["rebalance_rounds"]),
                    "rebalancing": float(self.rebalancer is not None and self.rebalancer.moving),
                    "placeable": 1.0 if self.config.placeable else 0.0,
                    "at": time.time(),
                }
                pipe.hset(self.wire.load, self.node_id, json.dumps(load))
                self.publisher.add(pipe, self.membership.epoch, load)
            pipe.hgetall(self.wire.load)
            pipe.smembers(self.wire.inboxes)
            pipe.xread({self.wire.moves: self._moves_seen}, count=64)
            *_, raw, inboxes, moves = await pipe.execute()
        self._loads = _read_loads(self.wire.load, raw)
        self.loads_read += 1
        self._learn_moves(moves)
        view = self.membership.view
        me = view.members.get(self.node_id)
        if me is not None and me.status == "draining" and me.epoch == self.epoch:
            self.drain()  # marked by `agentrt node drain`: noticed here
        for item in inboxes:
            node, _, epoch = _text(item).rpartition("|")
            member = view.members.get(node)
            if member is not None and view.is_dead(node, int(epoch)):  # absent: not seen yet
                await self._drain(node, int(epoch))

    async def _drain(self, node: str, epoch: int) -> None:
        key = self.wire.inbox(node, epoch)
        client = self._client
        try:
            claimed: Any = await client.xautoclaim(key, GROUP, self.node_id, 0, "0-0", count=256)
            fresh: Any = await client.xreadgroup(GROUP, self.node_id, {key: ">"}, count=256)
        except ResponseError:  # no group: already retired
            claimed, fresh = [None, []], []
        entries = list(claimed[1]) + [e for _, es in fresh or () for e in es]
        for entry_id, fields in entries:
            if not fields:
                continue  # deleted meanwhile
            env = _decode(fields)
            owner = await self.locate(env.agent_id)
            moved = replace(env, request={**env.request, "redelivered": True})
            flat = [x for kv in moved.fields().items() for x in kv]
            target = self.wire.inbox(owner.node_id, owner.epoch)
            done = await self._forward(keys=[key, target], args=[GROUP, _text(entry_id), *flat])
            if done == 1:
                self._n["forwarded"] += 1
            elif done == -1:
                self.forget(env.agent_id)
        await self._retire(keys=[key, self.wire.inboxes], args=[GROUP, f"{node}|{epoch}"])


def _read_loads(key: str, raw: Mapping[Any, Any]) -> dict[str, dict[str, float]]:
    """The load hash, by node id. A damaged field (Redis data that is not a JSON object of
    numbers) is logged with the key and node and skipped, never trusted and never
    overwritten by anyone but its own node; one bad entry never stops the tick."""
    loads: dict[str, dict[str, float]] = {}
    for field, value in raw.items():
        node = _text(field)
        try:
            load = json.loads(value)
            if not isinstance(load, dict):
                raise ValueError("not a JSON object")
            loads[node] = {str(k): float(v) for k, v in load.items()}
        except (ValueError, TypeError) as exc:
            _log.warning("cluster load of node %r in %r is damaged (%s): ignored", node, key, exc)
    return loads


def _text(value: object) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)

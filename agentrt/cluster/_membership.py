"""``Membership``: this node's place in the cluster, kept alive on Redis.

A node joins with a new epoch (higher than every epoch handed out before in the cluster)
and then, every ``renew_ms``, runs one :meth:`Membership.tick`:

1. **Watchdog.** If the tick is late by more than ``ttl_ms / 2`` (the event loop
   stalled: a long GC, a blocking call, a paused VM), the node may have been swept dead
   meanwhile without knowing it: it stops serving and rejoins with a new epoch.
2. **Renew** its liveness key (``PX ttl_ms``). If the script answers that this epoch is
   dead (a sweeper marked it), the node has been told it is dead (Orleans): it stops
   serving and rejoins with a new epoch. A dead epoch never comes back.
3. **Sweep**: every node sweeps; live records whose liveness key expired become dead.
4. **Read** the members hash (:attr:`Membership.view`).

If Redis fails, the tick logs it (once per outage) and tries again next time; when no
renew has succeeded for ``ttl_ms`` the node stops serving (others may have swept it) and
rejoins once Redis answers. "Stops serving" means :attr:`Membership.serving` turns False
and ``on_lost(old_epoch, reason)`` is called; the runtime will drop the agents it held
under that epoch (not wired yet: see docs/cluster.md).

Example::

    membership = Membership(ClusterConfig(name="prod", min_nodes=2))
    await membership.start()              # join + the renew task
    await membership.wait_for()           # until 2 nodes are alive
    ...
    await membership.aclose()             # leaves: its record becomes dead at once
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from agentrt._cancel import cancel_and_wait
from agentrt.cluster._config import ClusterConfig
from agentrt.cluster._errors import ClusterUnavailable, CorruptMembers, NotServing
from agentrt.cluster._scripts import ClusterKeys, ClusterScripts, MembersView, Status
from agentrt.errors import ConfigError
from agentrt.redact import redact_url

__all__ = ["Membership", "MembershipStats"]

_log = logging.getLogger("agentrt.cluster.membership")

#: Called with the epoch that was lost and why (``"stall"``, ``"told dead"``, ``"no renew"``).
OnLost = Callable[[int, str], None]


@dataclass(frozen=True, kw_only=True, slots=True)
class MembershipStats:
    """This node's membership: ``epoch`` (0 before the first join), ``serving``,
    ``rejoins`` (by watchdog or by being told dead), ``renew_failures`` (Redis errors),
    ``swept`` (nodes this one marked dead), and the last view's ``version`` and ``alive``."""

    node_id: str
    epoch: int
    serving: bool
    rejoins: int
    renew_failures: int
    swept: int
    version: int
    alive: int


class Membership:
    """This node's membership of ``config``'s cluster (see the module docs).

    ``clock`` (``time.monotonic``) times the watchdog; tests pass a fake one. ``client``:
    a ``redis.asyncio.Redis`` to use (not closed by :meth:`aclose`); by default one is
    made from ``config.redis_url`` and closed.
    """

    def __init__(
        self,
        config: ClusterConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        client: aioredis.Redis | None = None,
        on_lost: OnLost | None = None,
    ) -> None:
        self.config = config or ClusterConfig()
        self.node_id = self.config.node_id or _default_node_id()
        self._own_client = client is None
        self._client = client if client is not None else _client(self.config)
        self.scripts = ClusterScripts(self._client, ClusterKeys(self.config.key_prefix))
        self._clock = clock
        self._on_lost = on_lost
        self._interval = self.config.renew_ms / 1000
        self._ttl = self.config.ttl_ms / 1000
        self.epoch = 0
        self.serving = False
        self.view = MembersView(version=0, members={})
        self._renewed_at = self._ticked_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._rejoins = self._renew_failures = self._swept = 0
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"Membership(cluster={self.config.name!r}, node_id={self.node_id!r}, "
            f"epoch={self.epoch}, serving={self.serving})"
        )

    async def join(self) -> int:
        """Join with a new epoch (also after a loss); the epoch. Raises
        ``ClusterUnavailable`` when Redis fails."""
        joined = await self.scripts.join(self.node_id, self.config.address, self.config.ttl_ms)
        self.epoch = joined.epoch
        self._renewed_at = self._ticked_at = self._clock()
        self.serving = True
        return joined.epoch

    async def start(self) -> None:
        """Join and start the renew task (owned: :meth:`aclose` stops it)."""
        if self._task is not None:
            return
        await self.join()
        await self._sweep_and_read()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _stopping(self) -> bool:
        """Whether :meth:`aclose` began (read after each await of the renew loop)."""
        return self._closed

    async def _run(self) -> None:
        while not self._closed:  # a cancel swallowed in a Redis call: the loop ends here
            await asyncio.sleep(self._interval)
            if self._stopping():
                return
            try:
                await self.tick()
            except ClusterUnavailable:
                pass  # counted and logged by tick; the next one tries again
            except CorruptMembers as exc:
                _log.error("cluster %r: %s (view kept)", self.config.name, exc)
            except Exception:  # a bug: say so once, stop serving; aclose() re-raises it
                _log.exception("cluster %r: the renew task crashed", self.config.name)
                if self.serving:
                    self._stop_serving("renew task crashed")
                raise

    async def tick(self) -> None:
        """One round: watchdog, renew, sweep, read (the module docs say each step)."""
        now = self._clock()
        late = now - self._ticked_at - self._interval
        self._ticked_at = now
        if not self.serving:
            await self._rejoin_now()
            return
        if late > self._ttl / 2:
            await self._lose(f"stall: tick {late * 1000:.0f} ms late", "stall")
            return
        try:
            alive = await self.scripts.renew(self.node_id, self.epoch, self.config.ttl_ms)
        except ClusterUnavailable as exc:
            self._renew_failed(now, exc)
            raise
        if self._renew_failures and self._renewed_at:
            _log.info("cluster %r: renew works again", self.config.name)
        if not alive:
            await self._lose("told dead: a sweeper marked this epoch dead", "told dead")
            return
        self._renewed_at = now
        await self._sweep_and_read()

    def _renew_failed(self, now: float, exc: ClusterUnavailable) -> None:
        self._renew_failures += 1
        level = logging.WARNING if now - self._renewed_at < 2 * self._interval else logging.DEBUG
        _log.log(level, "cluster %r: renew failed: %s", self.config.name, exc)
        if now - self._renewed_at > self._ttl and self.serving:
            self._stop_serving("no renew within ttl_ms")

    async def _lose(self, why: str, reason: str) -> None:
        _log.warning(
            "cluster %r: node %r epoch %d %s; rejoining", self.config.name, self.node_id,
            self.epoch, why,
        )  # fmt: skip
        self._stop_serving(reason)
        await self._rejoin_now()

    def _stop_serving(self, reason: str) -> None:
        self.serving = False
        if self._on_lost is not None:
            self._on_lost(self.epoch, reason)

    async def _rejoin_now(self) -> None:
        await self.join()
        self._rejoins += 1
        await self._sweep_and_read()

    async def _sweep_and_read(self) -> None:
        swept = await self.scripts.sweep()
        if swept:
            self._swept += len(swept)
            _log.warning("cluster %r: swept dead: %s", self.config.name, ", ".join(swept))
        self.view = await self.scripts.members()

    async def members(self) -> MembersView:
        """The members hash read now (also kept as :attr:`view`)."""
        self.view = await self.scripts.members()
        return self.view

    async def wait_for(
        self, min_nodes: int | None = None, timeout: float | None = None
    ) -> MembersView:
        """Wait until ``min_nodes`` (default ``config.min_nodes``) nodes are alive, reading
        the members every ``renew_ms``; the view. ``TimeoutError`` once ``timeout``
        seconds have passed (None: no bound), checked after each read: a read is never
        cut short (it is bounded by ``op_timeout``), since a Redis read cancelled midway
        left its connection unusable and a later wait hung past its own bound."""
        wanted = self.config.min_nodes if min_nodes is None else min_nodes
        if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
            raise ConfigError("min_nodes", f"must be an int >= 1, got {wanted!r}")
        loop = asyncio.get_running_loop()
        until = None if timeout is None else loop.time() + timeout
        while True:  # polls Redis: no event tells this node that another joined
            view = await self.members()
            if len(view.alive()) >= wanted:
                return view
            pause = self._interval
            if until is not None:
                left = until - loop.time()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(view.alive())} of the {wanted} nodes wanted alive "
                        f"after {timeout:g} s"
                    )
                pause = min(pause, left)
            await asyncio.sleep(pause)

    def check_serving(self) -> None:
        """Raise :class:`~agentrt.cluster.NotServing` unless this node serves now."""
        if not self.serving:
            why = "closed" if self._closed else "not a live member (joining or rejoining)"
            raise NotServing(self.node_id, why)

    def stats(self) -> MembershipStats:
        """This node's counters and the last view's totals."""
        return MembershipStats(
            node_id=self.node_id,
            epoch=self.epoch,
            serving=self.serving,
            rejoins=self._rejoins,
            renew_failures=self._renew_failures,
            swept=self._swept,
            version=self.view.version,
            alive=len(self.view.alive()),
        )

    async def aclose(self) -> None:
        """Stop the renew task and leave: this epoch's record becomes dead at once (so its
        agents may be claimed without waiting for the TTL). Idempotent; a Redis failure
        while leaving is logged (the sweepers will mark it dead after ``ttl_ms``). If the
        renew task had crashed (a bug), its exception is raised here, after closing."""
        if self._closed:
            return
        self._closed = True
        crash = await self._stop_task()
        try:
            if self.serving:
                self.serving = False
                await self.mark("dead")
        except (ClusterUnavailable, CorruptMembers) as exc:
            _log.warning("cluster %r: leaving failed (swept later): %s", self.config.name, exc)
        finally:
            if self._own_client:
                await self._client.aclose()
        if crash is not None:
            raise crash

    async def _stop_task(self) -> Exception | None:
        """Cancel the renew task; the exception it crashed with, if it did."""
        task, self._task = self._task, None
        if task is None:
            return None
        (outcome,) = await cancel_and_wait(task)  # again if a Redis call swallowed it
        if isinstance(outcome, TimeoutError):
            return None  # left behind, logged: closing goes on
        return outcome if isinstance(outcome, Exception) else None

    async def mark(self, status: Status, node_id: str | None = None) -> bool:
        """Set the status of ``node_id`` (default: this node, at its epoch; another node at
        the epoch its record holds) by compare-and-set, reading again when another write
        landed first; False when its record is absent or dead (a dead epoch never
        changes). ``ClusterUnavailable`` when Redis fails."""
        for _ in range(16):  # a version conflict means another write landed: read, retry
            view = await self.members()
            node = self.node_id if node_id is None else node_id
            member = view.members.get(node)
            epoch = self.epoch if node_id is None else (member.epoch if member else 0)
            done = await self.scripts.update(view.version, node, epoch, status)
            if not done.conflict:
                if done.done:
                    await self.members()
                return done.done
        return False


def _default_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _client(config: ClusterConfig) -> aioredis.Redis:
    try:
        return aioredis.Redis.from_url(
            config.redis_url,
            socket_timeout=config.op_timeout,
            socket_connect_timeout=config.op_timeout,
        )
    except ValueError as exc:  # a bad port or query: named, password hidden
        raise ConfigError("redis_url", f"{exc} (in {redact_url(config.redis_url)!r})") from None

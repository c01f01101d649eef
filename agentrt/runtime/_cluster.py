"""``ClusterDirectory``: the runtime's ``Directory`` in cluster mode (``Runtime(cluster=...)``).

It is the node's ``LocalDirectory`` (the agents running here, their slots) plus a
:class:`~agentrt.cluster.ClusterNode` that knows where every other agent lives:

- **Turns** (``ask``, ``stream``, ``send_turn``/tell) go through :meth:`deliver`, the
  ``TurnRouter``'s remote seam: the agent's owner is located (cached; placed and claimed
  when it has none). Owned here: the agent's slot gets the fencing token of the claim and
  the turn takes the local path (no Redis on the way; an agent this incarnation holds
  whose slot already has that token goes there at once, without locating it). Owned
  elsewhere: the turn is encoded (text, sender, deadline) and sent to the owner's inbox;
  its answer comes back as the ``Reply`` or the error the owner's agent raised
  (``TurnTimeout``, ``TurnFailed``, ``UnknownAgent``...). A ``NotHere`` answer
  re-locates the agent (a few times).
- **Serving** (``Host.serve``): a request for an agent this incarnation owns activates it
  here (from its snapshot, its conversation fenced by the token) and runs the turn.
  An id neither known here nor named by a route is answered ``UnknownAgent`` and its
  entry released.
- **Moves** (``Host.hand_off``/``Host.moved``, for a drain or a rebalance): the agent is
  passivated here (its turn in flight finishes first, within the drain limit; its
  conversation is saved), and until its entry is released no turn activates it here:
  local callers wait for the move and then go to its new owner; a remote request gets
  ``NotHere`` once the move is over (its caller re-resolves). Its slot is dropped.
- **Losing the epoch** (``Host.lost``): every agent held is stopped; their conversation
  writes are refused as stale once another node claimed them. A turn that one of them
  dropped (stopped under it) is delivered again, to the agent's new owner, not failed.

- **Plain** ``call``/``cast`` (:meth:`message`) reach the agent wherever it lives, like
  turns; the message and the reply cross as plain data (msgpack, never pickle:
  ``agentrt.cluster._payload``), and an error at the owner comes back as
  ``RemoteError`` (type name and message), ``AgentNotFound`` or ``CallTimeout``.
  ``history`` is read by the owner.

Agents that must survive their node are addressed through routes (``Runtime.route``)
that every node declares, so that any node can activate them from their snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import fields
from typing import Any

from agentrt.actor import ActorRef, CallTimeout
from agentrt.agent import (
    AgentExists,
    Reply,
    StreamSink,
    Turn,
    TurnFailed,
    TurnTimeout,
)
from agentrt.agent._context import AgentSlot
from agentrt.agent._protocol import History
from agentrt.cluster import ClusterConfig, ClusterNode, ClusterUnavailable, NotHere, Owner
from agentrt.cluster._payload import decode_payload, encode_payload
from agentrt.deadline import remaining
from agentrt.memory import Fence
from agentrt.messages import Message
from agentrt.runtime._directory import Activate, LocalDirectory, NodeInfo, _Relocated
from agentrt.runtime._remoteerrors import error as _error
from agentrt.runtime._remoteerrors import failure, remote_error, remote_failure, thrown
from agentrt.runtime._routes import Routes
from agentrt.runtime._turns import Answered

__all__ = ["ClusterDirectory"]

_log = logging.getLogger("agentrt.runtime.cluster")
_ROUTES = 32  # locations of one turn's agent while it moves (NotHere answers)
_REPLY_FIELDS = tuple(f.name for f in fields(Reply) if f.name != "tag")
#: Runs a turn on this node's agent (the ``TurnRouter``'s local path).
RunLocal = Callable[[str, Turn], Awaitable[Reply]]
#: ``call``s this node's agent with a message (the ``TurnRouter``'s ``call_local``).
CallLocal = Callable[..., Awaitable[Any]]
#: ``cast``s a message to this node's agent (the ``TurnRouter``'s ``cast_local``).
CastLocal = Callable[[str, Any], Awaitable[None]]


class ClusterDirectory(LocalDirectory):
    """The cluster ``Directory`` and ``Host`` of one runtime (see the module docs)."""

    __slots__ = (
        "_local_call",
        "_local_cast",
        "_local_run",
        "_moving",
        "cluster",
        "passivate_now",
        "stop_agent",
        "stop_agent_now",
    )

    def __init__(
        self,
        config: ClusterConfig,
        *,
        activate: Activate,
        restart_grace_s: float,
        routes: Routes,
        load: Callable[[], Mapping[str, float]],
        stop_agent: Callable[[ActorRef], None],
        stop_agent_now: Callable[[ActorRef], Awaitable[None]],
        passivate_now: Callable[[ActorRef, float], Awaitable[None]],
    ) -> None:
        """``stop_agent`` stops an incarnation in the background (an epoch lost);
        ``stop_agent_now`` stops it and waits (a newer token is about to be served);
        ``passivate_now`` passivates it once its turn in flight is over, within a limit
        in seconds (then stops it anyway), and waits (a move)."""
        self.cluster = ClusterNode(config, self)
        super().__init__(
            activate=activate,
            restart_grace_s=restart_grace_s,
            routes=routes,
            node_id=self.cluster.node_id,
            address=config.address,
            load=load,
        )
        self.stop_agent = stop_agent
        self.stop_agent_now = stop_agent_now
        self.passivate_now = passivate_now
        #: agents being moved off this node: set once the move is over
        self._moving: dict[str, asyncio.Event] = {}
        self._local_run: RunLocal | None = None
        self._local_call: CallLocal | None = None
        self._local_cast: CastLocal | None = None

    def bind_router(
        self, run_local: RunLocal, call_local: CallLocal, cast_local: CastLocal
    ) -> None:
        """The runtime's local turn path, local ``call`` and local ``cast`` (set once,
        before ``start``)."""
        self._local_run = run_local
        self._local_call = call_local
        self._local_cast = cast_local

    async def start(self) -> None:
        """Join the cluster (``ClusterUnavailable`` when Redis fails)."""
        await self.cluster.start()
        self.epoch = self.cluster.epoch

    async def aclose(self) -> None:
        """Leave the cluster (its agents may be claimed by others at once)."""
        await self.cluster.aclose()

    # -- the Directory protocol ------------------------------------------------------------

    def check(self, agent_id: str) -> None:
        """Nothing to check here: an agent may live on any node (its owner answers
        ``UnknownAgent`` when nobody has it)."""

    def nodes(self) -> list[NodeInfo]:
        """Every member of the cluster, with the load each publishes."""
        view = self.cluster.membership.view
        loads = self.cluster.loads()
        return [
            NodeInfo(
                node_id=m.node_id,
                epoch=m.epoch,
                address=m.address,
                status=m.status,
                last_seen=float(loads.get(m.node_id, {}).get("at", 0.0)),
                load={k: float(v) for k, v in loads.get(m.node_id, {}).items() if k != "at"},
            )
            for m in view.members.values()
        ]

    async def claim_here(self, agent_id: str) -> None:
        """Claim ``agent_id`` for this node (``spawn``, ``spawn_swarm``): its slot gets
        the fence. ``AgentExists`` when a live node owns it."""
        node = self.cluster
        claim = await node.scripts.claim(agent_id, node.node_id, node.epoch)
        if not claim.won:
            view = await node.membership.members()
            if not view.is_dead(claim.owner, claim.epoch):
                raise AgentExists(agent_id)
            claim = await node.scripts.claim(
                agent_id, node.node_id, node.epoch, dead=(claim.owner, claim.epoch)
            )
        self.cluster.note_owner(agent_id, Owner(node.node_id, node.epoch, claim.token))
        await self._fence(agent_id, claim.token)

    async def _fence(self, agent_id: str, token: int) -> None:
        """Give ``agent_id``'s slot the fence of ``token``; an incarnation running under
        an older token is stopped first (its writes are stale), so that it never takes a
        turn meant for the new one."""
        slot = self.slot(agent_id)
        if slot is None:
            return
        fence = Fence(key=self.cluster.scripts.keys.agent_dir(agent_id), token=token)
        if slot.fence != fence:
            old = slot.ref
            slot.fence = fence
            if old is not None and old.alive:
                slot.passive = True  # activated again (under the new token) by its next turn
                await self.stop_agent_now(old)

    # -- the remote seam of the TurnRouter -------------------------------------------------

    async def deliver(self, agent_id: str, turn: Turn) -> Reply | None:
        """Run ``turn`` at ``agent_id``'s owner: None when it is this node (the caller
        takes the local path), else the owner's ``Reply`` (or its error, raised). An
        agent moving off this node is waited for; an owner that answers ``NotHere`` (it
        moved on) is located again, until the turn's deadline."""
        answer = await self._at_owner(
            agent_id,
            turn.deadline,
            lambda: {"text": turn.text, "sender": turn.sender},
            turn.stream,
            turn.msg_id,
        )
        return None if answer is None else _reply(agent_id, answer, turn)

    async def message(
        self, agent_id: str, msg: Any, *, timeout: float | None, cast: bool
    ) -> Answered | None:
        """A plain ``call`` (``cast=False``) or ``cast`` of ``msg`` at ``agent_id``'s
        owner: None when it is this node (the caller takes the local path), else what
        the owner's agent returned (None for a cast, once the owner's mailbox took it).
        ``msg`` and the reply cross as plain data (``agentrt.cluster._payload``):
        ``UnsupportedPayload`` naming the type before anything is sent. The owner's
        failure is raised as ``AgentNotFound``, ``CallTimeout`` (``timeout``, default 5 s
        as for a local call; a cast waits up to ``request_timeout``) or ``RemoteError``
        (type name and message). Located, waited for and re-located as :meth:`deliver`;
        a call its owner's node died under is run again by the new owner (at least
        once, unless its answer was recorded)."""
        kind = "cast" if cast else "call"
        wait = self.cluster.config.request_timeout if cast else timeout
        deadline = None if wait is None else asyncio.get_running_loop().time() + wait

        def request() -> dict[str, Any]:  # encoded once the agent is known to be remote
            return {"kind": kind, "b": encode_payload(msg, f"the {kind} message to {agent_id!r}")}

        try:
            answer = await self._at_owner(agent_id, deadline, request, None, None)
        except TurnTimeout:
            raise CallTimeout(None, wait or 0.0, msg) from None
        if answer is None:
            return None
        ok = answer.get("ok")
        if isinstance(ok, dict):
            return Answered(decode_payload(ok.get("b"), f"the reply of {agent_id!r}"))
        raise remote_error(agent_id, answer.get("error"))

    async def _at_owner(
        self,
        agent_id: str,
        deadline: float | None,
        request: Callable[[], dict[str, Any]],
        stream: StreamSink | None,
        msg_id: str | None,
    ) -> dict[str, Any] | None:
        """Send ``request()`` (made at the first remote attempt) to ``agent_id``'s owner
        as one message id (``msg_id``, or a new one) for every attempt, and its answer;
        None when the owner is this node (its slot fenced: the caller takes the local
        path). ``TurnTimeout`` at ``deadline``; ``TurnFailed`` when it kept moving."""
        node = self.cluster
        await self._wait_moved(agent_id, deadline)
        await self._wait_serving(agent_id, deadline)
        held = node.owns(agent_id)
        if held is not None:  # the hot local path: held here, its slot already fenced
            slot = self.slot(agent_id)
            if slot is not None and slot.fence is not None and slot.fence.token == held:
                return None
        msg_id = msg_id or uuid.uuid4().hex  # one id for every attempt of the message
        body: dict[str, Any] | None = None
        for attempt in range(_ROUTES):
            owner = await node.locate(agent_id, timeout=remaining(deadline))
            if node.is_local(owner):
                self._ensure_slot(agent_id)
                await self._fence(agent_id, owner.token)
                return None
            left = remaining(deadline)
            if left is not None and left <= 0:
                raise TurnTimeout(agent_id)
            timeout = node.config.request_timeout if left is None else left
            body = request() if body is None else body
            sink = _Pump(stream) if stream is not None else None
            try:
                answer = await node.send(
                    agent_id, owner, body, timeout=timeout, stream=sink, msg_id=msg_id
                )
            except TimeoutError:
                raise TurnTimeout(agent_id) from None
            finally:
                if sink is not None:
                    await sink.drain()
            if answer is not None:
                return answer
            if attempt >= 2:  # it keeps moving (a drain round): let the move settle
                await asyncio.sleep(min(0.01 * attempt, node.config.renew_ms / 1000))
        raise TurnFailed(agent_id, NotHere(agent_id, "", "it kept moving"))

    async def _wait_moved(self, agent_id: str, deadline: float | None) -> None:
        """Wait while ``agent_id`` is being moved off this node (within ``deadline``)."""
        moving = self._moving.get(agent_id)
        if moving is None:
            return
        left = remaining(deadline)
        try:
            async with asyncio.timeout(left):
                await moving.wait()
        except TimeoutError:
            raise TurnTimeout(agent_id) from None

    async def _wait_serving(self, agent_id: str, deadline: float | None) -> None:
        """Wait while this node rejoins (it lost its epoch), within ``deadline``; a closed
        node goes on (its requests fail with ``ClusterUnavailable``)."""
        membership = self.cluster.membership
        if membership.serving:
            return
        try:
            async with asyncio.timeout(remaining(deadline)):
                while not membership.serving and not self.cluster.closed:  # noqa: ASYNC110 (no event: a rejoin is a Redis round trip of the renew task)
                    await asyncio.sleep(0.01)
        except TimeoutError:
            raise TurnTimeout(agent_id) from None

    def left(self, agent_id: str) -> bool:
        """Whether ``agent_id`` left this node: this node is not serving (it lost its
        epoch), the agent is moving, or its slot's fence is not the token this
        incarnation holds it with (lost with an epoch, or moved)."""
        if agent_id in self._moving or not self.cluster.membership.serving:
            return True
        slot = self.slot(agent_id)
        fence = slot.fence if slot is not None else None
        return fence is not None and self.cluster.owns(agent_id) != fence.token

    async def history(self, agent_id: str, start: int, timeout: float | None) -> list[Message]:
        """Agent ``agent_id``'s stored messages from ``start`` on, read by its owner
        (``Runtime.history`` in cluster mode). Raises like ``Runtime.history``."""
        node = self.cluster
        for _ in range(4):
            owner = await node.locate(agent_id, timeout=timeout)
            if node.is_local(owner):
                self._ensure_slot(agent_id)
                await self._fence(agent_id, owner.token)
                return await self._call_history(agent_id, start, timeout)
            request = {"kind": "history", "start": start}
            wait = node.config.request_timeout if timeout is None else timeout
            try:
                answer = await node.send(agent_id, owner, request, timeout=wait)
            except TimeoutError:
                raise TurnTimeout(agent_id) from None
            if answer is not None:
                ok = answer.get("ok")
                if isinstance(ok, dict):
                    return [_message(m) for m in ok.get("messages", ())]
                _reply(agent_id, answer, Turn(""))  # raises the owner's error
        raise TurnFailed(agent_id, NotHere(agent_id, "", "it kept moving"))

    async def _call_history(
        self, agent_id: str, start: int, timeout: float | None
    ) -> list[Message]:
        if self._local_call is None:
            raise TurnFailed(agent_id, "the node's runtime is not started")
        messages: list[Message] = await self._local_call(agent_id, History(start), timeout=timeout)
        return messages

    def _ensure_slot(self, agent_id: str) -> AgentSlot | None:
        slot = self.slot(agent_id)
        if slot is None:
            route = self._routes.match(agent_id)
            if route is None:
                return None
            slot = self.slot_for(agent_id, route.agent_class, route.options)
            slot.passive = True
        return slot

    # -- the Host protocol (agentrt.cluster) -----------------------------------------------

    async def serve(
        self,
        agent_id: str,
        token: int,
        request: Mapping[str, Any],
        deadline: float | None,
        chunk: Callable[[str], Awaitable[None]] | None,
        msg_id: str,
    ) -> dict[str, Any]:
        """Run a remote request on the local agent (errors answered, never raised). A
        turn carries ``msg_id`` (``Turn.msg_id``): an agent stores its user message once
        per id, so a turn redelivered after its node died is not stored twice."""
        if agent_id in self._moving:  # its caller finds the new owner once it has one
            await self._wait_moved(agent_id, deadline)
            return dict(_MOVED)
        if self.cluster.draining and self.local(agent_id) is None:
            # placed here from a view older than the drain: a draining node starts no agent
            try:
                await self.cluster.refuse(agent_id, token)
            except ClusterUnavailable as exc:
                return failure(exc)
            return dict(_MOVED)
        if self._ensure_slot(agent_id) is None:
            await self.cluster.scripts.release(agent_id, self.cluster.node_id, token)
            self.cluster.forget(agent_id)
            return _error("UnknownAgent", f"no agent {agent_id!r} and no route names it")
        await self._fence(agent_id, token)
        kind = request.get("kind")
        if kind == "activate":  # moved here by a rebalance: load it now
            try:
                await self.resolve(agent_id)
            except Exception as exc:
                return failure(exc)
            return {"ok": {}}
        if kind == "history":
            try:
                messages = await self._call_history(agent_id, int(request.get("start", 0)), 30.0)
            except Exception as exc:
                return failure(exc)
            return {"ok": {"messages": [_message_json(m) for m in messages]}}
        if kind in ("call", "cast"):
            return await self._plain(agent_id, kind, request, deadline)
        if request.get("redelivered"):
            done = await self._answered(agent_id, request)
            if done is not None:
                return done
        sink = StreamSink() if chunk is not None else None
        text, sender = str(request.get("text", "")), request.get("sender")
        turn = Turn(text, deadline, sender, stream=sink, msg_id=msg_id)
        run = self._local_run
        if run is None:
            return _error("TurnFailed", "the node's runtime is not started")
        pump = None
        if sink is not None and chunk is not None:
            pump = asyncio.get_running_loop().create_task(_forward(sink, chunk))
        try:
            reply = await run(agent_id, turn)
        except _Relocated:  # it left while the request waited: its caller finds it again
            return dict(_MOVED)
        except Exception as exc:  # the agent's error, or a failure of this node
            return failure(exc)
        finally:
            if pump is not None and sink is not None:
                sink.end()
                with contextlib.suppress(Exception):
                    await pump
        return {"ok": {name: getattr(reply, name) for name in _REPLY_FIELDS}}

    async def _plain(
        self, agent_id: str, kind: str, request: Mapping[str, Any], deadline: float | None
    ) -> dict[str, Any]:
        """A remote ``call``/``cast`` on the local agent: its reply encoded, or the error
        it raised by type name and message (never the exception object)."""
        call, cast = self._local_call, self._local_cast
        if call is None or cast is None:
            return _error("TurnFailed", "the node's runtime is not started")
        try:
            msg = decode_payload(request.get("b"), f"the {kind} message")
            if kind == "cast":
                await cast(agent_id, msg)
                return {"ok": {"b": encode_payload(None, "the cast's answer")}}
            left = remaining(deadline)
            value = await call(agent_id, msg, timeout=None if left is None else max(left, 0.0))
            return {"ok": {"b": encode_payload(value, f"the reply of {agent_id!r}")}}
        except _Relocated:
            return dict(_MOVED)
        except Exception as exc:
            return thrown(exc)

    async def _answered(self, agent_id: str, request: Mapping[str, Any]) -> dict[str, Any] | None:
        """The answer of a redelivered turn its dead owner had already stored (the
        conversation ends with its user message and a final reply), else None."""
        try:
            tail = (await self._call_history(agent_id, 0, 30.0))[-2:]
        except Exception:  # the turn then runs, and fails or answers itself
            return None
        if len(tail) < 2:
            return None
        asked, answer = tail
        if (
            asked.role == "user"
            and asked.text == request.get("text")
            and asked.name == request.get("sender")
            and answer.role == "assistant"
            and not answer.tool_calls
        ):
            return {"ok": {"agent_id": agent_id, "text": answer.text}}
        return None

    async def hand_off(self, agent_id: str, limit: float) -> None:
        """Passivate ``agent_id`` for a move (module docs); turns wait till :meth:`moved`."""
        self._moving.setdefault(agent_id, asyncio.Event())
        slot = self.slot(agent_id)
        ref = slot.ref if slot is not None else None
        if ref is not None and ref.alive:
            await self.passivate_now(ref, limit)

    def moved(self, agent_id: str) -> None:
        """The move of ``agent_id`` is over: its slot goes (unless it is this node's
        still: a failed release) and the turns waiting for it go on."""
        moving = self._moving.pop(agent_id, None)
        slot = self.slot(agent_id)
        if slot is not None and self.cluster.owns(agent_id) is None:
            ref = slot.ref
            if ref is None or not ref.alive:
                self._slots.pop(agent_id, None)
        if moving is not None:
            moving.set()

    def lost(self, epoch: int) -> None:
        """Stop every agent running here: they belonged to the lost ``epoch``."""
        for agent_id in list(self.ids()):
            slot = self.slot(agent_id)
            if slot is None:
                continue
            ref = slot.ref  # its fence stays: a restart of it writes nothing (stale token)
            if ref is not None and ref.alive:
                self.stop_agent(ref)
                slot.passive = True

    def load(self) -> Mapping[str, float]:
        """This node's load (the runtime's figures)."""
        return self._load() if self._load is not None else {}


class _Pump:
    """The caller's side of a remote stream: chunks arrive in the reply loop (no await
    there), are queued and put into the turn's sink in order by one task."""

    def __init__(self, sink: StreamSink) -> None:
        self._sink = sink
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def __call__(self, delta: str) -> None:
        self._queue.put_nowait(delta)

    async def _run(self) -> None:
        while True:
            await self._sink.put(await self._queue.get())
            self._queue.task_done()

    async def drain(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5.0):
                await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def _forward(sink: StreamSink, chunk: Callable[[str], Awaitable[None]]) -> None:
    while (delta := await sink.get()) is not None:
        await chunk(delta)


def _message_json(m: Message) -> dict[str, Any]:
    return {"role": m.role, "content": m.text, "name": m.name, "timestamp": m.timestamp}


def _message(raw: Any) -> Message:
    return Message(
        role=raw["role"], content=raw["content"], name=raw.get("name"),
        timestamp=float(raw.get("timestamp", 0.0)),
    )  # fmt: skip


#: A request for an agent that left this node: answered ``NotHere`` (never recorded).
_MOVED: dict[str, Any] = {"moved": True}


def _reply(agent_id: str, answer: Mapping[str, Any], turn: Turn) -> Reply:
    ok = answer.get("ok")
    if isinstance(ok, dict):
        try:
            return Reply(**{k: ok[k] for k in _REPLY_FIELDS if k in ok}, tag=turn.tag)
        except TypeError as exc:
            raise TurnFailed(agent_id, f"a damaged answer: {exc}") from None
    raise remote_failure(agent_id, answer.get("error"))

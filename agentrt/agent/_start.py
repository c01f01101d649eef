"""How an agent starts (private to ``agentrt.agent`` and the runtime's turn routing).

An agent's start is split the OTP way (``agentrt.actor.Continue``):

- ``init`` is cheap and runs while its supervisor waits: settings, tools, checks that can
  fail at spawn (an unknown option, tool or missing tenant: :func:`check_setup_options`),
  then the agent binds its slot and is addressable;
- ``handle_continue`` runs before its first message: the conversation is loaded
  (:func:`open_conversation`), then the user's ``setup``. Messages sent meanwhile wait.

The agents of a swarm (``Runtime.spawn_swarm``) get their options as one shared
:class:`SwarmOptions`: unless their class defines its own ``setup``, their
``handle_continue`` is lazy (``Continue(lazy=True)``): the conversation is loaded when
the agent's first message (or exit signal) arrives, still before that message is handled,
so a swarm costs registration only and its agents that are never talked to cost no load
at all. An agent class with its own ``setup`` starts eagerly (its ``setup`` may start
work of its own), as does an agent started by ``spawn`` or activated by a message.

A start that fails in ``handle_continue`` (a store that is down, a damaged conversation
with ``on_corrupt="fail"``, a ``setup`` that raises) stops the agent with the reason
``("shutdown", ("load_failed", error))``: not restarted (the supervisor would only fail
the same way again), its callers get ``error`` (:func:`load_failure`), and its next
message activates it again.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from agentrt.actor import ExitReason
from agentrt.errors import ArgumentTypeError
from agentrt.memory import QUARANTINE_EVENT, Conversation, CorruptSnapshot

if TYPE_CHECKING:
    from agentrt.agent._agent import Agent

__all__ = [
    "DEPRECATED_HOOKS",
    "LOAD_FAILED",
    "SETTINGS",
    "SwarmOptions",
    "check_setup_options",
    "load_failure",
    "open_conversation",
    "setup_signature",
]

#: The tag of the exit reason of an agent whose start failed in ``handle_continue``.
LOAD_FAILED = "load_failed"

#: Agent hooks of the previous release and the actor hook that replaces each.
DEPRECATED_HOOKS = {
    "on_call": "handle_call",
    "on_cast": "handle_cast",
    "on_info": "handle_info",
    "teardown": "terminate",
}

#: Spawn options that are agent settings (class attributes); the others go to ``setup``.
SETTINGS = frozenset(
    {
        "system_prompt",
        "model",
        "tools",
        "max_steps",
        "temperature",
        "max_tokens",
        "context_tokens",
        "turn_timeout",
        "memory",
        "tenant",
        "llm_cache",
    }
)


class SwarmOptions(dict[str, Any]):
    """The spawn options of a swarm's agents: one dict shared by all of them, whose type
    tells ``Agent.init`` to load lazily (see the module docs)."""

    __slots__ = ()


def setup_signature(setup: Any) -> inspect.Signature:
    """The signature of an agent class's ``setup`` function, without ``self``."""
    signature = inspect.signature(setup)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


def check_setup_options(
    cls: type[Agent], signature: inspect.Signature | None, extra: dict[str, Any]
) -> None:
    """Raise ``ArgumentTypeError`` (at spawn) when ``cls``'s ``setup``, whose signature
    is ``signature`` (None: the default ``setup``, which takes none), cannot take the spawn
    keywords ``extra``."""
    if not extra:
        return
    problem = "unknown options"
    if signature is not None:
        try:
            signature.bind(**extra)
        except TypeError as exc:
            problem = f"options its setup() does not take ({exc})"
        else:
            return
    raise ArgumentTypeError("options", f"{cls.__qualname__} got {problem}: {sorted(extra)}")


async def open_conversation(agent: Agent) -> Conversation:
    """``agent``'s stored conversation. A damaged one is quarantined (moved, never
    overwritten) and replaced by an empty one, or fails the start with
    ``on_corrupt="fail"`` (``ConversationConfig``); either way it is counted."""
    ctx = agent.ctx
    try:
        conv = await Conversation.open(
            ctx.services.store,
            f"agent/{agent.id}",
            registry=ctx.services.dictionaries,
            system=agent.system_prompt,
            config=agent.memory or ctx.memory,
            summarizer=ctx.summarizer,
            tenant=agent.tenant,  # recorded in its head: list_conversations(tenant=...)
            fence=agent._slot.fence,  # cluster mode: every write fenced by its claim
        )
    except CorruptSnapshot:
        ctx.telemetry.corrupt_snapshots += 1
        raise
    moved = conv.quarantined
    if moved is not None:
        ctx.telemetry.corrupt_snapshots += 1
        events = ctx.telemetry.events
        if events.listening(QUARANTINE_EVENT):
            meta = {"agent_id": agent.id, "conversation": moved.key}
            meta |= {"quarantine_key": moved.to, "reason": moved.reason}
            events.emit(QUARANTINE_EVENT, {"records": moved.records}, meta)
    return conv


def load_failure(reason: ExitReason) -> BaseException | None:
    """The error of an agent whose start failed (its exit reason is
    ``("shutdown", ("load_failed", error))``), else None."""
    if type(reason) is tuple and len(reason) == 2 and reason[0] == "shutdown":
        inner = reason[1]
        if type(inner) is tuple and len(inner) == 2 and inner[0] == LOAD_FAILED:
            error = inner[1]
            return error if isinstance(error, BaseException) else None
    return None

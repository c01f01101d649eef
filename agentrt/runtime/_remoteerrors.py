"""How a turn's failure crosses between cluster nodes, so that a caller on any node sees
the error the owner's agent raised, with the cause its handler maps (``agentrt serve``:
a full mailbox or a busy LLM is a 429, a deadline a 504, as on one node).

``failure(exc)`` is the owner's answer for ``exc``: ``{"error": {"type", "message",
"cause"?}}``; ``cause`` carries, by name and fields, a ``MailboxFull``, ``RateLimited``,
``Overloaded``, ``DeadlineExceeded`` or ``ProviderError`` (the turn's ``TurnFailed.cause``,
or the error itself). ``remote_failure(agent_id, error)`` is the caller's exception:
``TurnTimeout``, ``AgentCrashed``, ``AgentNotFound`` by type, a ``TurnFailed`` whose
``cause`` is the rebuilt exception when one was carried, else a ``TurnFailed`` quoting
the owner's message. Unknown or damaged fields never raise here: they fall back to the
quoted message.

A plain ``call``/``cast`` that failed at the owner comes back through
``remote_error(agent_id, error)``: ``AgentNotFound`` and ``CallTimeout`` as themselves,
anything else as a ``RemoteError`` carrying the exception's type name and message (the
exception object never crosses nodes: nothing is pickled).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentrt.actor import CallTimeout, MailboxFull
from agentrt.agent import AgentCrashed, AgentError, AgentNotFound, TurnFailed, TurnTimeout
from agentrt.cluster import RemoteError
from agentrt.llm import DeadlineExceeded, Overloaded, ProviderError, RateLimited
from agentrt.redact import redact_text

__all__ = ["error", "failure", "remote_error", "remote_failure", "thrown"]

_BY_TYPE: dict[str, Callable[[str, str], AgentError]] = {
    "TurnTimeout": lambda agent_id, _m: TurnTimeout(agent_id),
    "AgentCrashed": lambda agent_id, m: AgentCrashed(agent_id, m),
    "UnknownAgent": lambda agent_id, _m: AgentNotFound(agent_id),
    "AgentNotFound": lambda agent_id, _m: AgentNotFound(agent_id),
}


def error(kind: str, message: str) -> dict[str, Any]:
    """An answer carrying an error of type ``kind``."""
    return {"error": {"type": kind, "message": message}}


def failure(exc: BaseException) -> dict[str, Any]:
    """The owner's answer for a turn that raised ``exc`` (module docs)."""
    if isinstance(exc, AgentError):
        answer = error(type(exc).__name__, str(exc))
    else:  # a failure of the owner node itself: the caller sees it as the turn's
        answer = error("TurnFailed", f"{type(exc).__name__}: {exc}")
    inner = exc.cause if isinstance(exc, TurnFailed) and not isinstance(exc, AgentCrashed) else exc
    cause = _cause(inner)
    if cause is not None:
        answer["error"]["cause"] = cause
    return answer


def _cause(exc: object) -> dict[str, Any] | None:
    if isinstance(exc, MailboxFull):
        return {"type": "MailboxFull", "capacity": exc.capacity}
    if isinstance(exc, Overloaded):
        return {"type": "Overloaded", "provider": exc.provider, "queue_bound": exc.queue_bound}
    if isinstance(exc, DeadlineExceeded):
        return {"type": "DeadlineExceeded", "provider": exc.provider, "stage": exc.stage}
    if isinstance(exc, RateLimited):
        return {"type": "RateLimited", "provider": exc.provider, "problem": exc.problem,
                "retry_after": exc.retry_after}  # fmt: skip
    if isinstance(exc, ProviderError):
        return {"type": "ProviderError", "provider": exc.provider, "problem": exc.problem,
                "status": exc.status}  # fmt: skip
    return None


def _rebuilt(raw: Mapping[str, Any]) -> BaseException | None:
    kind = raw.get("type")
    try:
        if kind == "MailboxFull":
            return MailboxFull(None, int(raw["capacity"]))
        if kind == "Overloaded":
            return Overloaded(str(raw["provider"]), int(raw["queue_bound"]))
        if kind == "DeadlineExceeded":
            return DeadlineExceeded(str(raw["provider"]), str(raw["stage"]))
        if kind == "RateLimited":
            wait = raw.get("retry_after")
            return RateLimited(
                str(raw["provider"]), str(raw["problem"]),
                retry_after=None if wait is None else float(wait),
            )  # fmt: skip
        if kind == "ProviderError":
            status = raw.get("status")
            return ProviderError(
                str(raw["provider"]), str(raw["problem"]),
                status=None if status is None else int(status),
            )  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return None
    return None


def remote_failure(agent_id: str, err: object) -> AgentError:
    """The exception a caller raises for the owner's error answer ``err`` (module docs)."""
    if not isinstance(err, Mapping):
        return TurnFailed(agent_id, "a damaged answer")
    kind = str(err.get("type", ""))
    message = str(err.get("message", ""))
    make = _BY_TYPE.get(kind)
    if make is not None:
        return make(agent_id, message)
    raw = err.get("cause")
    cause = _rebuilt(raw) if isinstance(raw, Mapping) else None
    if cause is not None:
        return TurnFailed(agent_id, cause)
    return TurnFailed(agent_id, f"{kind}: {message}" if kind else message)


def thrown(exc: BaseException) -> dict[str, Any]:
    """The owner's answer for a plain ``call``/``cast`` that raised ``exc``: its type
    name and message (secrets redacted)."""
    return error(type(exc).__name__, redact_text(str(exc)))


def remote_error(agent_id: str, err: object) -> Exception:
    """The exception a caller raises for the owner's error answer ``err`` to a plain
    ``call``/``cast`` (module docs)."""
    if not isinstance(err, Mapping):
        return RemoteError(agent_id, "ClusterError", "a damaged answer")
    kind = str(err.get("type", "")) or "Exception"
    message = str(err.get("message", ""))
    if kind in ("UnknownAgent", "AgentNotFound"):
        return AgentNotFound(agent_id)
    if kind in ("CallTimeout", "TurnTimeout"):
        return CallTimeout(None, 0.0, None)
    return RemoteError(agent_id, kind, message)

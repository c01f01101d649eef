"""Errors of the agent layer.

::

    AgentRTError
    ├── AgentError                         ``agent_id`` names the agent
    │   ├── TurnFailed                     the turn could not complete; ``cause`` says why
    │   │   │                              (an LLM error, a tool layer bug...)
    │   │   └── AgentCrashed               the agent crashed during the turn; its
    │   │                                  supervisor restarts it from its last snapshot
    │   ├── TurnTimeout (TimeoutError)     the turn's deadline passed
    │   ├── AgentNotFound (LookupError)    no agent with this id
    │   │   └── UnknownAgent               ... and no route matches it (``routes`` named)
    │   └── AgentExists                    spawn with an id already in use
    ├── ServiceUnavailable (RuntimeError)  a runtime service is not (yet) published
    └── NotAnAgent (TypeError)             a class that is not an ``Agent`` subclass
"""

from __future__ import annotations

from typing import Any

from agentrt.errors import AgentRTError

__all__ = [
    "AgentCrashed",
    "AgentError",
    "AgentExists",
    "AgentNotFound",
    "NotAnAgent",
    "ServiceUnavailable",
    "TurnFailed",
    "TurnTimeout",
    "UnknownAgent",
]


class AgentError(AgentRTError):
    """Base class; ``agent_id`` names the agent concerned."""

    def __init__(self, agent_id: str, message: str) -> None:
        super().__init__(f"agent {agent_id!r}: {message}")
        self.agent_id = agent_id


class TurnFailed(AgentError):
    """A user turn failed; ``cause`` is the underlying error or exit reason."""

    def __init__(self, agent_id: str, cause: Any, message: str | None = None) -> None:
        super().__init__(agent_id, message or f"turn failed: {cause!r}")
        self.cause = cause


class AgentCrashed(TurnFailed):
    """The agent crashed while handling the turn (``cause`` is its crash reason). Its
    supervisor restarts it from its last snapshot; the turn is not retried."""

    def __init__(self, agent_id: str, cause: Any) -> None:
        super().__init__(agent_id, cause, f"crashed during the turn: {cause!r}")


class TurnTimeout(AgentError, TimeoutError):
    """The turn did not complete before its deadline."""

    def __init__(self, agent_id: str, timeout: float | None = None) -> None:
        within = f" within {timeout:g}s" if timeout is not None else ""
        super().__init__(agent_id, f"turn did not complete{within}")
        self.timeout = timeout


class AgentNotFound(AgentError, LookupError):
    """No agent with this id was spawned (or it was deleted)."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(agent_id, "no such agent")

    def __str__(self) -> str:  # LookupError would repr() the message
        return str(self.args[0])


class UnknownAgent(AgentNotFound):
    """No agent has this id and no route matches it (``Runtime.route``); ``routes``
    describes the runtime's routes, in the order they are tried."""

    def __init__(self, agent_id: str, routes: tuple[str, ...]) -> None:
        known = ", ".join(routes) if routes else "none (add one with Runtime.route)"
        AgentError.__init__(
            self, agent_id, f"no such agent, and no route matches it; routes: {known}"
        )
        self.routes = routes


class AgentExists(AgentError):
    """An agent with this id already exists."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(agent_id, "an agent with this id already exists")


class ServiceUnavailable(AgentRTError, RuntimeError):
    """A runtime service (``service``: ``"llm"``, ``"tools"``, ``"store"``...) is not
    there: the runtime is not started, or the service is restarting."""

    def __init__(self, service: str, problem: str = "not available") -> None:
        super().__init__(
            f"service {service!r}: {problem} (is the runtime started? is it restarting?)"
        )
        self.service = service


class NotAnAgent(AgentRTError, TypeError):
    """A class given where an ``Agent`` subclass is needed; ``given`` is what was passed."""

    def __init__(self, given: Any) -> None:
        super().__init__(f"expected an Agent subclass, got {given!r}")
        self.given = given

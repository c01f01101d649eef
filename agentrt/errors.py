"""The root of agentrt's exception tree.

Every error agentrt raises on purpose derives from :class:`AgentRTError`, and also from
the builtin it resembles, so that ``except TimeoutError`` keeps working::

    AgentRTError
    ├── ConfigError (ValueError)                 invalid configuration, the key named
    └── (each layer's errors, defined next to the layer)
        agentrt.actor.errors      ActorError, ActorDead, CallTimeout, MailboxFull, ...
        supervisors.errors        SupervisorError, StartChildError, MaxChildren, ...

Errors carry context (which actor, which provider, which tool) as attributes as well as
in their message.
"""

from __future__ import annotations

from agentrt.redact import redact_text

__all__ = ["AgentRTError", "ConfigError"]


class AgentRTError(Exception):
    """Base class of every error agentrt raises deliberately."""


class ConfigError(AgentRTError, ValueError):
    """A configuration value is invalid; ``key`` names it (dotted path). URL passwords and
    tokens quoted in ``problem`` are masked (:func:`agentrt.redact.redact_text`)."""

    def __init__(self, key: str, problem: str) -> None:
        problem = redact_text(problem)
        super().__init__(f"invalid configuration {key!r}: {problem}")
        self.key = key
        self.problem = problem

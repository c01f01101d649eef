"""Routes: the agent class that answers an id nobody spawned (virtual agents).

Users think in conversation ids, not in spawn calls. ``rt.route("support:", Support)``
says that every id starting with ``support:`` is a ``Support`` agent; the first message
to ``support:42`` then activates it, the way passivation already reactivates an agent
(``agentrt.runtime._directory``): from its stored conversation (its snapshot) when it has
one, fresh otherwise. Every id is always addressable and live only while used, as Orleans
grains and Dapr actors are.

- A pattern is a prefix (``str``: ``"support:"`` matches ``support:42``) or a compiled
  regular expression (``re.compile(r"ticket-\\d+")``, matched against the whole id).
- Routes are tried in the order they were added; the first that matches wins. The same
  pattern twice is a ``ConfigError``.
- ``options`` are the agent's spawn options (``model``, ``system_prompt``... or
  ``setup`` keywords), checked when the route is added.
- An id matching no route, and never spawned, raises ``UnknownAgent`` naming the routes.

Example::

    rt.route("support:", Support, model="gpt-4o-mini")
    rt.route(re.compile(r"ticket-\\d+"), Triage)
    reply = await rt.ask("support:42", "Where is my order?")  # activated on demand
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from agentrt.agent import Agent, NotAnAgent
from agentrt.agent._options import check_spawn_options
from agentrt.errors import ConfigError

__all__ = ["Route", "Routes", "check_agent_class"]


@dataclass(frozen=True, slots=True)
class Route:
    """One route: ids matching ``pattern`` are ``agent_class`` agents with ``options``."""

    pattern: str | re.Pattern[str]
    agent_class: type[Agent]
    options: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, agent_id: str) -> bool:
        """Whether ``agent_id`` starts with the prefix, or fully matches the expression."""
        if isinstance(self.pattern, str):
            return agent_id.startswith(self.pattern)
        return self.pattern.fullmatch(agent_id) is not None

    def describe(self) -> str:
        """``'support:' -> Support`` or ``re'ticket-\\d+' -> Triage``."""
        shown = (
            repr(self.pattern) if isinstance(self.pattern, str) else f"re{self.pattern.pattern!r}"
        )
        return f"{shown} -> {self.agent_class.__qualname__}"


class Routes:
    """A runtime's routes, tried in the order they were added (see the module docs)."""

    __slots__ = ("_routes",)

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(
        self, pattern: str | re.Pattern[str], agent_class: type[Agent], options: Mapping[str, Any]
    ) -> Route:
        """Add a route after the others. Raises ``ConfigError`` for an empty or repeated
        pattern or a bad option, ``NotAnAgent`` for a class that is not an ``Agent``."""
        if isinstance(pattern, str):
            if not pattern:
                raise ConfigError("pattern", "must not be empty (it would match every id)")
        elif not isinstance(pattern, re.Pattern):
            raise ConfigError("pattern", f"must be a prefix or a re.Pattern, got {pattern!r}")
        check_agent_class(agent_class)
        check_spawn_options(options)
        for route in self._routes:
            if route.pattern == pattern:
                raise ConfigError("pattern", f"already routed: {route.describe()}")
        route = Route(pattern, agent_class, MappingProxyType(dict(options)))
        self._routes.append(route)
        return route

    def match(self, agent_id: str) -> Route | None:
        """The first route that matches ``agent_id``, or None."""
        for route in self._routes:
            if route.matches(agent_id):
                return route
        return None

    def describe(self) -> tuple[str, ...]:
        """Each route described (``Route.describe``), in order."""
        return tuple(route.describe() for route in self._routes)

    def __iter__(self) -> Iterator[Route]:
        return iter(tuple(self._routes))

    def __len__(self) -> int:
        return len(self._routes)


def check_agent_class(agent_class: object) -> None:
    """``NotAnAgent`` unless ``agent_class`` is a subclass of ``Agent`` (for ``spawn``,
    ``spawn_swarm`` and ``route``)."""
    if not (isinstance(agent_class, type) and issubclass(agent_class, Agent)):
        raise NotAnAgent(agent_class)

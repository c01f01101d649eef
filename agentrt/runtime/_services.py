"""The runtime's supervised services: shared resources owned by actors in the tree.

Each ``Service`` actor opens one resource in ``init`` (the conversation store, the
dictionary registry, the LLM pool, the tool registry and its cache; last in the tree, the
introspection endpoint when configured), publishes it to the runtime, and closes it in
``terminate``. Under the root ``rest_for_one`` supervisor that
makes startup ordered (store → dictionaries → LLM pool → tools → agents) and shutdown the
reverse (agents flush their conversations before the store closes), and a service that
crashes restarts what depends on it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from agentrt.actor import Actor, ExitReason
from supervisors import ChildSpec

__all__ = ["Service", "service_spec"]

Opener = Callable[[], Awaitable[Any]]
Closer = Callable[[Any], Awaitable[None]]
Publish = Callable[[str, Any], None]


class Service(Actor):
    """Owns one shared resource for the runtime."""

    trap_exits = True

    async def init(self, name: str, opener: Opener, closer: Closer, publish: Publish) -> None:
        self._name = name
        self._closer = closer
        self.resource = await opener()
        publish(name, self.resource)

    async def terminate(self, reason: ExitReason) -> None:
        await self._closer(self.resource)

    def __repr__(self) -> str:
        return f"<Service {self._name}>"


def service_spec(name: str, opener: Opener, closer: Closer, publish: Publish) -> ChildSpec:
    """A child spec for a ``Service`` (shutdown: 30 s to close the resource)."""
    return ChildSpec.worker(name, Service, name, opener, closer, publish, shutdown=30.0)

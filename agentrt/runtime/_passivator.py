"""The passivator: evicts idle agents so one node can address far more than it keeps hot.

Every ``interval`` seconds it walks the runtime's agent slots and casts ``Passivate`` to
each live agent idle for longer than ``idle_timeout``. The agent refuses if a message
arrived meanwhile; otherwise it saves its conversation and stops, and its next message
reactivates it. One timer for the whole node, not one per agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from agentrt.actor import Actor, ActorError
from agentrt.agent._context import AgentSlot
from agentrt.agent._protocol import Passivate

__all__ = ["Passivator"]

_BATCH = 5_000  # slots examined between two yields to the loop


class Passivator(Actor):
    """Periodically passivates idle agents."""

    async def init(
        self, slots: Mapping[str, AgentSlot], idle_timeout: float, interval: float
    ) -> None:
        self.slots = slots
        self.idle_timeout = idle_timeout
        self.sent = 0
        self.send_interval("sweep", interval)

    async def handle_info(self, msg: Any) -> None:
        if msg == "sweep":
            await self.sweep()
        else:
            await super().handle_info(msg)

    async def sweep(self) -> int:
        """Cast ``Passivate`` to every idle live agent; returns how many were asked."""
        loop = asyncio.get_running_loop()
        idle_before = loop.time() - self.idle_timeout
        asked = 0
        for n, slot in enumerate(list(self.slots.values()), start=1):
            ref = slot.ref
            if ref is not None and not slot.passive and slot.last_active <= idle_before:
                try:
                    ref.cast_nowait(Passivate(idle_before=idle_before))
                    asked += 1
                except ActorError:  # dead (restarting) or mailbox full (busy): skip
                    pass
            if n % _BATCH == 0:
                await asyncio.sleep(0)
        self.sent += asked
        return asked

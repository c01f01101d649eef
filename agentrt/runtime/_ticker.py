"""The telemetry ticker: rotates the telemetry windows, checks the targets, and refreshes
the figures that need a request (the agents' supervisor's restart count)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from agentrt.actor import Actor
from agentrt.telemetry import Telemetry

__all__ = ["TelemetryTicker"]


class TelemetryTicker(Actor):
    """Ticks ``telemetry`` every ``interval`` seconds."""

    async def init(
        self,
        telemetry: Telemetry,
        interval: float,
        refresh: Callable[[], Awaitable[None]],
    ) -> None:
        self.telemetry = telemetry
        self.refresh = refresh
        self.ticks = 0
        self.send_interval("tick", interval)

    async def handle_info(self, msg: Any) -> None:
        if msg != "tick":
            await super().handle_info(msg)
            return
        self.ticks += 1
        await self.refresh()
        self.telemetry.tick()

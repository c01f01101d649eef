"""Actors shared by the actor-core and supervisor tests."""

from __future__ import annotations

import asyncio
from typing import Any

from agentrt.actor import Actor, Caller


class Recorder(Actor):
    """Records everything it receives; answers calls with its log length."""

    async def init(self, log: list[Any] | None = None, trap: bool = False) -> None:
        self.log: list[Any] = log if log is not None else []
        if trap:
            self.set_trap_exits(True)

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        if msg == "log":
            return list(self.log)
        if msg == "crash":
            raise RuntimeError("crash on call")
        if isinstance(msg, tuple) and msg[0] == "sleep":
            await asyncio.sleep(msg[1])
            return "slept"
        self.log.append(("call", msg))
        return msg

    async def handle_cast(self, msg: Any) -> None:
        if msg == "crash":
            raise RuntimeError("crash on cast")
        self.log.append(("cast", msg))

    async def handle_info(self, msg: Any) -> None:
        self.log.append(("info", msg))

    async def terminate(self, reason: Any) -> None:
        self.log.append(("terminate", reason))

"""Supervised test workers that record their lifecycle in a shared event log."""

from __future__ import annotations

import asyncio
from typing import Any

from agentrt.actor import IGNORE, Actor, Caller


class Worker(Actor):
    """init(log, wid, trap=False, fail_init=None, terminate_delay=0).

    Logs ("start", wid) and ("terminate", wid, reason). Casts: "crash" raises,
    "normal"/"shutdown"/... stop with that reason. Calls answer their message.
    ``fail_init``: a mutable list; while it is non-empty, init pops one item and raises.
    """

    async def init(
        self,
        log: list[Any],
        wid: str,
        trap: bool = False,
        fail_init: list[Any] | None = None,
        terminate_delay: float = 0.0,
        ignore: bool = False,
    ) -> Any:
        if ignore:
            return IGNORE
        if fail_init:
            raise RuntimeError(f"init failure {fail_init.pop()}")
        self.log = log
        self.wid = wid
        self.delay = terminate_delay
        if trap:
            self.set_trap_exits(True)
        log.append(("start", wid))
        return None

    async def handle_cast(self, msg: Any) -> None:
        if msg == "crash":
            raise RuntimeError(f"{self.wid} crashed")
        self.stop(msg)

    async def handle_call(self, msg: Any, caller: Caller) -> Any:
        return msg

    async def handle_info(self, msg: Any) -> None:
        self.log.append(("info", self.wid, msg))

    async def terminate(self, reason: Any) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.log.append(("terminate", self.wid, reason))


def events(log: list[Any], kind: str) -> list[str]:
    return [e[1] for e in log if e[0] == kind]


async def wait_for(cond: Any, what: str, tries: int = 5000) -> None:
    """Poll ``cond()`` every millisecond (a generous bound, not a timing verdict)."""
    for _ in range(tries):
        if cond():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"timed out waiting for {what}")

"""The memory trimmer: a child of the runtime's tree that calls glibc's malloc_trim."""

from __future__ import annotations

from dataclasses import replace

import pytest
from support.agents import fast_config
from support.waiting import eventually

from agentrt.errors import ConfigError
from agentrt.runtime import Runtime, RuntimeConfig
from agentrt.runtime._trim import MemoryTrimmer, malloc_trim
from supervisors import Supervisor


async def children(rt: Runtime) -> dict[object, object]:
    root = rt.node.whereis(("agentrt", rt.config.name))
    assert root is not None
    return {c.id: c.ref for c in await Supervisor.which_children(root)}


async def test_the_trimmer_trims_on_its_interval() -> None:
    async with Runtime(replace(fast_config(), trim_interval_s=0.02)) as rt:
        ref = (await children(rt))["trimmer"]
        assert ref is not None
        stats = await ref.call("stats")
        assert stats["available"] is (malloc_trim() is not None)
        if not stats["available"]:  # not glibc: nothing to call, nothing scheduled
            return

        async def trimmed_twice() -> bool:
            return bool((await ref.call("stats"))["trims"] >= 2)

        await eventually(trimmed_twice, what="two trims")


async def test_no_trimmer_when_disabled() -> None:
    async with Runtime(replace(fast_config(), trim_interval_s=None)) as rt:
        assert "trimmer" not in await children(rt)


def test_malloc_trim_is_callable_here() -> None:
    trim = malloc_trim()
    assert trim is not None  # these machines run glibc
    assert trim(0) in (0, 1)


def test_bad_interval() -> None:
    with pytest.raises(ConfigError, match="trim_interval_s"):
        RuntimeConfig(trim_interval_s=0)
    assert MemoryTrimmer.__doc__

"""agentrt: an Elixir-style actor runtime for running AI agents at scale on asyncio.

The names most programs need are here; each layer's package has the rest
(``agentrt.actor``, ``supervisors``, ``agentrt.llm``, ``agentrt.memory``,
``agentrt.tools``, ``agentrt.agent``, ``agentrt.runtime``)::

    import agentrt

    class Helper(agentrt.Agent):
        system_prompt = "You are terse."

    async def main() -> None:
        async with agentrt.Runtime() as rt:
            await rt.spawn(Helper, id="h1")
            print((await rt.ask("h1", "hello")).text)

    agentrt.run(main())
"""

from __future__ import annotations

from agentrt._version import __version__
from agentrt.actor import run
from agentrt.agent import (
    Agent,
    AgentCrashed,
    AgentError,
    AgentNotFound,
    Reply,
    TurnFailed,
    TurnTimeout,
)
from agentrt.errors import AgentRTError, ConfigError
from agentrt.messages import Message, ToolCall
from agentrt.runtime import AgentRef, Runtime, RuntimeConfig
from agentrt.tools import CachePolicy, ToolPolicy, tool

__all__ = [
    "Agent",
    "AgentCrashed",
    "AgentError",
    "AgentNotFound",
    "AgentRTError",
    "AgentRef",
    "CachePolicy",
    "ConfigError",
    "Message",
    "Reply",
    "Runtime",
    "RuntimeConfig",
    "ToolCall",
    "ToolPolicy",
    "TurnFailed",
    "TurnTimeout",
    "__version__",
    "run",
    "tool",
]

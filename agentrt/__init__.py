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

Importing ``agentrt`` loads nothing but this module: each name below is handed on
lazily (PEP 562 module ``__getattr__``, as anyio's root does) and imports its layer on
first access. So ``import agentrt.actor`` or ``import supervisors`` costs only the actor
core, never the LLM, memory or tool layers they do not use. An unknown name raises
``AttributeError`` as usual.
"""

from __future__ import annotations

from agentrt._lazy import TYPE_CHECKING as _TYPE_CHECKING
from agentrt._lazy import lazy_exports as _lazy_exports
from agentrt._version import __version__

__all__ = [
    "Agent",
    "AgentCrashed",
    "AgentError",
    "AgentNotFound",
    "AgentRTError",
    "AgentRef",
    "Anthropic",
    "CachePolicy",
    "ConfigError",
    "ImagePart",
    "Message",
    "OpenAI",
    "PoolConfig",
    "ProviderConfig",
    "Reply",
    "Runtime",
    "RuntimeConfig",
    "Secret",
    "TextPart",
    "ToolCall",
    "ToolPolicy",
    "TurnFailed",
    "TurnTimeout",
    "UnknownAgent",
    "__version__",
    "run",
    "tool",
]

if _TYPE_CHECKING:  # type checkers and IDEs see the names as eager imports
    from agentrt._secret import Secret
    from agentrt.actor import run
    from agentrt.agent import (
        Agent,
        AgentCrashed,
        AgentError,
        AgentNotFound,
        Reply,
        TurnFailed,
        TurnTimeout,
        UnknownAgent,
    )
    from agentrt.errors import AgentRTError, ConfigError
    from agentrt.llm import Anthropic, OpenAI, PoolConfig, ProviderConfig
    from agentrt.messages import ImagePart, Message, TextPart, ToolCall
    from agentrt.runtime import AgentRef, Runtime, RuntimeConfig
    from agentrt.tools import CachePolicy, ToolPolicy, tool
else:  # each name imports its layer on first access (agentrt._lazy)
    __getattr__, __dir__ = _lazy_exports(
        __name__,
        {
            "run": "agentrt.actor",
            **dict.fromkeys(
                [
                    "Agent",
                    "AgentCrashed",
                    "AgentError",
                    "AgentNotFound",
                    "Reply",
                    "TurnFailed",
                    "TurnTimeout",
                    "UnknownAgent",
                ],
                "agentrt.agent",
            ),
            "AgentRTError": "agentrt.errors",
            "ConfigError": "agentrt.errors",
            **dict.fromkeys(["ImagePart", "Message", "TextPart", "ToolCall"], "agentrt.messages"),
            **dict.fromkeys(["Anthropic", "OpenAI", "PoolConfig", "ProviderConfig"], "agentrt.llm"),
            "Secret": "agentrt._secret",
            **dict.fromkeys(["AgentRef", "Runtime", "RuntimeConfig"], "agentrt.runtime"),
            **dict.fromkeys(["CachePolicy", "ToolPolicy", "tool"], "agentrt.tools"),
        },
    )

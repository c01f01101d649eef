"""agentrt: an Elixir-style actor runtime for running AI agents at scale on asyncio."""

from __future__ import annotations

from agentrt.errors import AgentRTError, ConfigError
from agentrt.messages import Message, ToolCall

__version__ = "0.1.0"

__all__ = ["AgentRTError", "ConfigError", "Message", "ToolCall", "__version__"]

"""Bridges: agents written with LangGraph, the OpenAI Agents SDK or pydantic-ai, run
inside agentrt agents (supervision, passivation, telemetry, the mailbox) with their LLM
traffic on the runtime's shared ``LLMPool``.

Each framework has a module of its own, imported only when used, and an extra that
installs the framework:

- :mod:`agentrt.bridges.langgraph` (``pip install 'agentrt-actors[bridge-langgraph]'``):
  ``LangGraphAgent`` runs a compiled graph; ``PoolChatModel`` is a LangChain chat model
  on the pool.
- :mod:`agentrt.bridges.openai_agents` (``[bridge-openai-agents]``): ``OpenAIAgentsAgent``
  runs an Agents SDK ``Agent`` with ``Runner`` and a ``ConversationSession``;
  ``PoolModel``/``PoolModelProvider`` put the SDK's model calls on the pool.
- :mod:`agentrt.bridges.pydantic_ai` (``[bridge-pydantic-ai]``): ``PydanticAIAgent`` runs
  a pydantic-ai ``Agent`` with the conversation as its message history; ``PoolModel`` is a
  pydantic-ai model on the pool.

``governed(fn, policy=ToolPolicy(...))`` runs a framework's own tool under agentrt's tool
policy (timeout, concurrency, cache) through the runtime's tool registry.

This package itself imports no framework: ``import agentrt.bridges`` costs nothing.
See docs/bridges.md.
"""

from __future__ import annotations

from agentrt.bridges._agent import BridgeAgent
from agentrt.bridges._scope import BridgeScope, current_scope, pool_chat
from agentrt.bridges._tools import governed

__all__ = ["BridgeAgent", "BridgeScope", "current_scope", "governed", "pool_chat"]

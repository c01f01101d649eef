"""Agents: the conversational ``Agent`` actor and its protocol."""

from __future__ import annotations

from agentrt.agent._agent import Agent
from agentrt.agent._context import AgentContext, Peers, Services
from agentrt.agent._errors import (
    AgentCrashed,
    AgentError,
    AgentExists,
    AgentNotFound,
    NotAnAgent,
    ServiceUnavailable,
    TurnFailed,
    TurnTimeout,
    UnknownAgent,
)
from agentrt.agent._protocol import Reply, StreamSink, Turn, TurnError
from agentrt.agent._summarizer import LLMSummarizer
from agentrt.agent._turn import CONTEXT_SHRUNK_EVENT, TURN_EVENT

__all__ = [
    "CONTEXT_SHRUNK_EVENT",
    "TURN_EVENT",
    "Agent",
    "AgentContext",
    "AgentCrashed",
    "AgentError",
    "AgentExists",
    "AgentNotFound",
    "LLMSummarizer",
    "NotAnAgent",
    "Peers",
    "Reply",
    "ServiceUnavailable",
    "Services",
    "StreamSink",
    "Turn",
    "TurnError",
    "TurnFailed",
    "TurnTimeout",
    "UnknownAgent",
]

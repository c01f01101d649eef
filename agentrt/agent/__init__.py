"""Agents: the conversational ``Agent`` actor and its protocol."""

from __future__ import annotations

from agentrt.agent.agent import Agent
from agentrt.agent.context import AgentContext, Peers, Services
from agentrt.agent.errors import (
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
from agentrt.agent.protocol import Reply, StreamSink, Turn, TurnError
from agentrt.agent.summarizer import LLMSummarizer
from agentrt.agent.turn import CONTEXT_SHRUNK_EVENT, TURN_EVENT

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

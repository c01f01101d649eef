"""Agents: the conversational ``Agent`` actor and its protocol."""

from __future__ import annotations

from agentrt.agent.agent import Agent
from agentrt.agent.context import AgentContext, AgentSlot, LooseSlots, Peers, Services, SlotBook
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
from agentrt.agent.protocol import Passivate, Reply, StreamSink, Turn, TurnError
from agentrt.agent.summarizer import LLMSummarizer, transcript
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
    "AgentSlot",
    "LLMSummarizer",
    "LooseSlots",
    "NotAnAgent",
    "Passivate",
    "Peers",
    "Reply",
    "ServiceUnavailable",
    "Services",
    "SlotBook",
    "StreamSink",
    "Turn",
    "TurnError",
    "TurnFailed",
    "TurnTimeout",
    "UnknownAgent",
    "transcript",
]

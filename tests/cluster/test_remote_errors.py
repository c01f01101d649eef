"""A turn's failure crosses between nodes with its cause (``agentrt.runtime._remoteerrors``):
each carried cause, encoded as the wire encodes an answer (JSON), comes back as the same
exception type with its fields, inside a ``TurnFailed``; errors by type come back as
themselves; anything else comes back as a ``TurnFailed`` quoting the owner."""

from __future__ import annotations

import msgspec
import pytest

from agentrt.actor import MailboxFull
from agentrt.agent import AgentCrashed, AgentNotFound, TurnFailed, TurnTimeout
from agentrt.llm import DeadlineExceeded, Overloaded, ProviderError, RateLimited
from agentrt.runtime._remoteerrors import error, failure, remote_failure


def crossed(exc: BaseException) -> BaseException:
    wire = msgspec.json.decode(msgspec.json.encode(failure(exc)))
    return remote_failure("a1", wire["error"])


@pytest.mark.parametrize(
    ("cause", "fields"),
    [
        (MailboxFull(None, 7), {"capacity": 7}),
        (Overloaded("p", 9), {"provider": "p", "queue_bound": 9}),
        (DeadlineExceeded("p", "queued"), {"provider": "p", "stage": "queued"}),
        (
            RateLimited("p", "slow down", retry_after=2.5),
            {"problem": "slow down", "retry_after": 2.5},
        ),
        (ProviderError("p", "bad gateway", status=502), {"problem": "bad gateway", "status": 502}),
    ],
)
def test_a_carried_cause_comes_back_with_its_fields(cause: BaseException, fields: dict) -> None:
    for raised in (TurnFailed("a1", cause), cause):  # wrapped by the agent, or bare
        back = crossed(raised)
        assert type(back) is TurnFailed
        assert type(back.cause) is type(cause)
        for name, value in fields.items():
            assert getattr(back.cause, name) == value


def test_errors_by_type_and_the_rest() -> None:
    assert type(crossed(TurnTimeout("a1"))) is TurnTimeout
    assert type(crossed(AgentNotFound("a1"))) is AgentNotFound
    crashed = crossed(AgentCrashed("a1", MailboxFull(None, 1)))  # a crash keeps its type
    assert type(crashed) is AgentCrashed
    other = crossed(RuntimeError("disk on fire"))
    assert type(other) is TurnFailed
    assert "RuntimeError: disk on fire" in str(other.cause)
    damaged = remote_failure(
        "a1", {"type": "TurnFailed", "message": "m", "cause": {"type": "RateLimited"}}
    )
    assert damaged.cause == "TurnFailed: m"
    assert remote_failure("a1", None).cause == "a damaged answer"
    assert error("UnknownAgent", "x") == {"error": {"type": "UnknownAgent", "message": "x"}}

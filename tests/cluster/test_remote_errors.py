"""A turn's failure crosses between nodes with its cause (``agentrt.runtime._remoteerrors``):
each carried cause, encoded as the wire encodes an answer (JSON), comes back as the same
exception type with its fields, inside a ``TurnFailed``; errors by type come back as
themselves; anything else comes back as a ``TurnFailed`` quoting the owner. A plain
``call``/``cast``'s message and reply cross as plain data only, and its failure comes
back as ``RemoteError`` by type name and message."""

from __future__ import annotations

import base64

import msgspec
import pytest

from agentrt.actor import CallTimeout, MailboxFull
from agentrt.agent import AgentCrashed, AgentNotFound, TurnFailed, TurnTimeout
from agentrt.cluster import RemoteError, UnsupportedPayload
from agentrt.cluster._payload import MAX_PAYLOAD, decode_payload, encode_payload
from agentrt.llm import DeadlineExceeded, Overloaded, ProviderError, RateLimited
from agentrt.runtime._remoteerrors import error, failure, remote_error, remote_failure, thrown


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


def test_plain_payloads_cross_as_data_and_nothing_else_does() -> None:
    value = {"k": [1, -(2**63), 2.5, "é", b"\x00", None, False, (1, 2), {3}]}
    assert decode_payload(encode_payload(value, "m"), "m") == {
        "k": [1, -(2**63), 2.5, "é", b"\x00", None, False, [1, 2], [3]]
    }
    for bad, named in ((object(), "object"), ({"f": len}, "builtin_function_or_method"),
                       (2**64, "int")):  # fmt: skip
        with pytest.raises(UnsupportedPayload, match=named) as refused:
            encode_payload(bad, "the call message to 'a1'")
        assert refused.value.type_name == named
        assert "the call message to 'a1'" in str(refused.value)
    with pytest.raises(UnsupportedPayload, match="limit"):
        encode_payload(b"x" * (MAX_PAYLOAD + 1), "m")
    for damaged in ("not base64!", 7, base64.b64encode(b"\xc1").decode()):
        with pytest.raises(UnsupportedPayload, match="damaged"):
            decode_payload(damaged, "the reply")


def test_a_plain_call_failure_comes_back_by_type_name() -> None:
    def back(exc: BaseException) -> Exception:
        wire = msgspec.json.decode(msgspec.json.encode(thrown(exc)))
        return remote_error("a1", wire["error"])

    err = back(ValueError("bad value at redis://:s3cretpw@cache:6379/0"))
    assert isinstance(err, RemoteError)
    assert (err.agent_id, err.type_name) == ("a1", "ValueError")
    assert "bad value" in str(err)
    assert "s3cretpw" not in str(err)  # secrets never cross
    assert type(back(AgentNotFound("a1"))) is AgentNotFound
    assert isinstance(back(CallTimeout(None, 1.0)), CallTimeout)
    assert remote_error("a1", None).type_name == "ClusterError"  # type: ignore[attr-defined]

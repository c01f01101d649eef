"""The event API: attach, spans, failing handlers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from agentrt.telemetry import Events


def recorder(log: list[Any]) -> Any:
    def handler(name: Any, measurements: Mapping[str, float], metadata: Any, state: Any) -> None:
        log.append((name, dict(measurements), dict(metadata)))
        state["seen"] = state.get("seen", 0) + 1

    return handler


def test_plain_event_and_listening() -> None:
    events = Events()
    log: list[Any] = []
    assert not events.listening(("a", "b"))
    events.attach("h", ("a", "b"), recorder(log))
    assert events.listening(("a", "b"))
    assert events.listening(("a",))  # a handler on ("a", "b") listens to the span ("a",)
    assert not events.listening(("x",))
    events.emit(("a", "b"), {"n": 1.0}, {"who": "x"})
    events.emit(("a", "c"), {"n": 2.0}, {})
    assert log == [(("a", "b"), {"n": 1.0}, {"who": "x"})]
    assert events.detach("h") is True
    assert events.detach("h") is False
    assert not events.listening(("a", "b"))


def test_span_start_stop_and_state() -> None:
    events = Events()
    log: list[Any] = []
    events.attach("h", [("s", "start"), ("s", "stop")], recorder(log))
    assert events.listening(("s",))
    span = events.span(("s",), {"k": 1})
    duration = span.stop(extra=2.0)
    assert [e[0] for e in log] == [("s", "start"), ("s", "stop")]
    assert log[1][1]["duration_s"] == duration
    assert log[1][1]["extra"] == 2.0
    assert span.state == {"seen": 2}  # start and stop shared one state dict


def test_span_exception_as_context_manager() -> None:
    events = Events()
    log: list[Any] = []
    events.attach("h", ("s", "exception"), recorder(log))
    with pytest.raises(KeyError), events.span(("s",), {}):
        raise KeyError("x")
    assert log[0][2]["kind"] == "KeyError"
    assert "duration_s" in log[0][1]


def test_failing_handler_is_detached_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    events = Events()
    reported: list[Any] = []

    def broken(*_: Any) -> None:
        raise RuntimeError("handler bug")

    events.attach("broken", ("e",), broken)
    events.attach("watch", ("agentrt", "telemetry", "handler_failed"), recorder(reported))
    events.emit(("e",), {}, {})  # must not raise
    events.emit(("e",), {}, {})
    assert events.failures == 1
    assert events.handlers() == {("agentrt", "telemetry", "handler_failed"): ["watch"]}
    assert reported[0][2]["handler_id"] == "broken"
    assert any("broken" in r.getMessage() for r in caplog.records)


def test_duplicate_handler_id_rejected() -> None:
    events = Events()
    events.attach("h", ("a",), recorder([]))
    with pytest.raises(ValueError, match="already attached"):
        events.attach("h", ("b",), recorder([]))


def test_listening_follows_attach_and_detach_of_each_handler() -> None:
    events = Events()
    events.attach("one", ("t", "start"), recorder([]))
    events.attach("two", [("t", "stop"), ("u",)], recorder([]))
    assert events.listening(("t",))
    assert events.listening(("u",))
    assert not events.listening(("t", "start", "x"))
    events.detach("one")
    assert events.listening(("t",))  # "two" still listens to ("t", "stop")
    assert not events.listening(("t", "start"))
    events.detach("two")
    assert not events.listening(("t",))
    assert not events.listening(("u",))

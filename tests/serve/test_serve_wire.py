"""The wire format's fast paths give what the plain ones give: ``Chunks`` (id, created and
model encoded once per stream) is byte for byte the whole chunk object encoded; the typed
read of a plain request equals the field-by-field read."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from agentrt.serve import _wire
from agentrt.serve._wire import Chunks, parse_request


def whole(delta: Any, finish: str | None, *, usage_field: bool, usage: Any = None) -> bytes:
    body: dict[str, Any] = {
        "id": 'chatcmpl-"x"',
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m\u00e9",
        "system_fingerprint": None,
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage_field:
        body["usage"] = usage
    return b"data: " + msgspec.json.encode(body) + b"\n\n"


@pytest.mark.parametrize("usage_field", [False, True])
def test_chunks_are_the_whole_object_encoded(usage_field: bool) -> None:
    chunk = Chunks('chatcmpl-"x"', 1700000000, "m\u00e9", usage_field=usage_field)
    role = {"role": "assistant", "content": "", "refusal": None}
    assert chunk(role) == whole(role, None, usage_field=usage_field)
    assert chunk({"content": 'a "b"\n'}) == whole(
        {"content": 'a "b"\n'}, None, usage_field=usage_field
    )
    assert chunk({}, "stop") == whole({}, "stop", usage_field=usage_field)
    counts = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert chunk.usage(counts) == whole(None, None, usage_field=True, usage=counts)


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"},
            ],
            "stream": True,
            "user": "u",
        },
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "user": ""},
    ],
)
def test_the_typed_read_equals_the_field_by_field_read(
    body: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = msgspec.json.encode(body)
    fast = parse_request(raw, ignore=frozenset(), system="reject")

    class NeverPlain:
        def decode(self, _: bytes) -> Any:
            raise msgspec.ValidationError("not plain")

    monkeypatch.setattr(_wire, "_decode_plain", NeverPlain())
    assert parse_request(raw, ignore=frozenset(), system="reject") == fast

"""Message and chunk codecs: msgpack (via msgspec) for messages, zstd for sealed chunks.

Messages are encoded with ``msgspec.msgpack`` against the :class:`~agentrt.messages.Message`
struct. Measured on the benchmark corpus (``python -m loadtest.bench.memory_codec``; figures
in docs/memory.md) msgpack is the fastest of msgspec-msgpack, msgspec-JSON and orjson to
decode and the smallest raw; inside a zstd chunk JSON and msgpack end up within a few
percent of each other, so raw speed and size decide. Decoding validates the schema: bytes
that are not a list of messages raise :class:`msgspec.ValidationError`/``DecodeError``,
which the callers turn into :class:`~agentrt.memory._errors.CorruptSnapshot` naming the key.

A sealed chunk is one msgpack array of ~50 messages, compressed as a single zstd frame
with the runtime's current dictionary. :class:`ChunkMeta` records where the chunk sits in
the conversation, which dictionary compressed it and its sizes; the compressed bytes are
held separately so that they can be evicted to a store and read back.

Example::

    meta, data = seal(messages, start=0, registry=registry)
    assert open_chunk(meta, data, registry) == messages
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from agentrt.memory._dictionary import DictionaryRegistry
from agentrt.messages import Message

__all__ = [
    "ChunkMeta",
    "decode_message",
    "decode_messages",
    "encode_message",
    "encode_messages",
    "open_chunk",
    "seal",
]

# Codec objects are stateless and reused (msgspec caches the struct's schema in them).
_ENCODER = msgspec.msgpack.Encoder()
_MESSAGE = msgspec.msgpack.Decoder(Message)
_MESSAGES = msgspec.msgpack.Decoder(list[Message])


class ChunkMeta(msgspec.Struct, frozen=True, array_like=True):
    """Where a sealed chunk sits and how it was compressed.

    ``start``: index of its first message in the conversation; ``count``: messages in it;
    ``dict_id``: the dictionary that compressed it (0 = none); ``raw_size``: bytes of its
    msgpack encoding; ``stored_size``: bytes of its compressed form.
    """

    start: int
    count: int
    dict_id: int
    raw_size: int
    stored_size: int

    @property
    def stop(self) -> int:
        """Index one past the chunk's last message."""
        return self.start + self.count


def _str_header(size: int) -> bytes:
    """The msgpack header of a string of ``size`` UTF-8 bytes."""
    if size < 32:
        return bytes((0xA0 | size,))
    if size < 0x100:
        return bytes((0xD9, size))
    if size < 0x10000:
        return b"\xda" + size.to_bytes(2, "big")
    return b"\xdb" + size.to_bytes(4, "big")


def encode_message(message: Message) -> bytes:
    """One message as msgpack bytes.

    A non-ASCII text content is written from ``str.encode()``'s bytes (as a
    ``msgspec.Raw``): msgspec asks CPython for a string's UTF-8 form, which CPython then
    caches on the string for its lifetime (about the text's size again, held by the
    window as long as the message); ``str.encode`` caches nothing. The bytes are the same.
    """
    content = message.content
    if content.__class__ is str and not content.isascii():
        data = content.encode()
        raw = msgspec.Raw(_str_header(len(data)) + data)
        return _ENCODER.encode(msgspec.structs.replace(message, content=raw))
    return _ENCODER.encode(message)


def decode_message(data: bytes) -> Message:
    """Inverse of :func:`encode_message`; raises ``msgspec`` errors on bad bytes."""
    return _MESSAGE.decode(data)


def encode_messages(messages: Sequence[Message]) -> bytes:
    """Messages as one msgpack array."""
    return _ENCODER.encode(messages)


def decode_messages(data: bytes) -> list[Message]:
    """Inverse of :func:`encode_messages`; raises ``msgspec`` errors on bad bytes."""
    return _MESSAGES.decode(data)


def seal(
    messages: Sequence[Message], *, start: int, registry: DictionaryRegistry
) -> tuple[ChunkMeta, bytes]:
    """Compress ``messages`` (the conversation's messages from index ``start``) into a chunk.

    Uses the registry's current dictionary and its cached compressor (the messages fed
    its training samples when they were appended, not here).
    """
    raw = encode_messages(messages)
    dict_id, data = registry.compress(raw)
    meta = ChunkMeta(start, len(messages), dict_id, len(raw), len(data))
    return meta, data


def open_chunk(meta: ChunkMeta, data: bytes, registry: DictionaryRegistry) -> list[Message]:
    """The messages of a sealed chunk. Raises ``UnknownDictionary`` or ``ValueError``."""
    raw = registry.decompress(meta.dict_id, data, meta.raw_size)
    messages = decode_messages(raw)
    if len(messages) != meta.count:
        raise ValueError(f"chunk at {meta.start} holds {len(messages)} messages, not {meta.count}")
    return messages

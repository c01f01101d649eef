"""The versioned binary formats of conversation state.

**Snapshot** (``Conversation.snapshot()``; also the durable *head* record)::

    b"AGRTCONV" | version u8 (=1) | body length u32 BE | CRC-32 of body u32 BE | body

``body`` is the msgpack encoding of :class:`ConversationState`. A full snapshot carries the
compressed bytes of every sealed chunk and the recent messages inline; a *head* (written
to the store at each seal/summary) carries only the chunk table, the summary and the
system prompt, the chunks and recent messages living under their own keys.

**Durable layout** under a conversation key ``K`` in a :class:`~agentrt.memory.Store`:

- ``K/head``: the head (above);
- ``K/c/{n}``: sealed chunk ``n``: ``b"AGC\\x01"`` + its zstd bytes;
- ``K/m/{i}``: message ``i`` not yet sealed: ``b"AGM\\x01"`` + the conversation's 8-byte
  epoch + the msgpack message. The epoch (random, fixed when a conversation is created or
  restored into a key) makes leftovers of an earlier incarnation under ``K`` unreadable as
  current messages.

Every decoder validates magic, version, lengths, checksum, schema and the chunk table's
invariants (contiguous, non-empty chunks; a summary inside the table), and raises
:class:`~agentrt.memory._errors.CorruptSnapshot` naming the key on any failure. Nothing is
pickled.
"""

from __future__ import annotations

import struct
import zlib

import msgspec

from agentrt.memory._codec import ChunkMeta, decode_message, encode_message
from agentrt.memory._errors import CorruptSnapshot
from agentrt.memory._summary import Summary
from agentrt.messages import Message

__all__ = [
    "SNAPSHOT_VERSION",
    "ConversationState",
    "decode_chunk_record",
    "decode_log_record",
    "decode_state",
    "encode_chunk_record",
    "encode_log_record",
    "encode_state",
]

SNAPSHOT_VERSION = 1
_MAGIC = b"AGRTCONV"
_HEADER = struct.Struct(">BII")
_CHUNK_MAGIC = b"AGC\x01"
_LOG_MAGIC = b"AGM\x01"


class ConversationState(msgspec.Struct, array_like=True):
    """Everything a conversation persists.

    ``epoch``: identifies this incarnation's message log; ``data``: chunk bytes (one per
    entry of ``chunks`` in a full snapshot, empty in a head); ``recent``: the unsealed
    messages (empty in a head).
    """

    epoch: int
    system: Message | None
    summary: Summary | None
    chunks: list[ChunkMeta]
    data: list[bytes]
    recent: list[Message]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(ConversationState)


def encode_state(state: ConversationState) -> bytes:
    """``state`` in the snapshot format."""
    body = _ENCODER.encode(state)
    return _MAGIC + _HEADER.pack(SNAPSHOT_VERSION, len(body), zlib.crc32(body)) + body


def decode_state(key: str, data: bytes) -> ConversationState:
    """Decode and validate a snapshot or head; :class:`CorruptSnapshot` names ``key``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CorruptSnapshot(key, f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    start = len(_MAGIC) + _HEADER.size
    if not data.startswith(_MAGIC):
        raise CorruptSnapshot(key, "bad magic (not an agentrt conversation snapshot)")
    if len(data) < start:
        raise CorruptSnapshot(key, f"truncated header ({len(data)} bytes)")
    version, length, crc = _HEADER.unpack_from(data, len(_MAGIC))
    if version != SNAPSHOT_VERSION:
        raise CorruptSnapshot(key, f"unsupported snapshot version {version}")
    body = data[start:]
    if len(body) != length:
        raise CorruptSnapshot(key, f"body is {len(body)} bytes, header says {length}")
    if zlib.crc32(body) != crc:
        raise CorruptSnapshot(key, "checksum mismatch")
    try:
        state = _DECODER.decode(body)
    except msgspec.MsgspecError as exc:
        raise CorruptSnapshot(key, f"body does not decode: {exc}") from exc
    _validate(key, state)
    return state


def _validate(key: str, state: ConversationState) -> None:
    expected = 0
    for n, chunk in enumerate(state.chunks):
        if chunk.start != expected or chunk.count <= 0:
            raise CorruptSnapshot(key, f"chunk {n} starts at {chunk.start}, expected {expected}")
        expected = chunk.stop
    if state.data and len(state.data) != len(state.chunks):
        raise CorruptSnapshot(key, f"{len(state.data)} chunk bodies for {len(state.chunks)}")
    for n, (chunk, body) in enumerate(zip(state.chunks, state.data, strict=False)):
        if len(body) != chunk.stored_size:
            raise CorruptSnapshot(
                key, f"chunk {n} holds {len(body)} bytes, not {chunk.stored_size}"
            )
    summary = state.summary
    if summary is not None:
        if not 0 <= summary.end_chunk <= len(state.chunks):
            raise CorruptSnapshot(key, "summary covers chunks outside the chunk table")
        end = state.chunks[summary.end_chunk - 1].stop if summary.end_chunk else 0
        if summary.end_message != end:
            raise CorruptSnapshot(key, "summary covers chunks outside the chunk table")


def encode_chunk_record(data: bytes) -> bytes:
    """A sealed chunk's bytes as stored under ``K/c/{n}``."""
    return _CHUNK_MAGIC + data


def decode_chunk_record(key: str, record: bytes, meta: ChunkMeta) -> bytes:
    """The chunk bytes of a ``K/c/{n}`` record, checked against its table entry."""
    if not record.startswith(_CHUNK_MAGIC):
        raise CorruptSnapshot(key, "not a chunk record (bad magic)")
    data = record[len(_CHUNK_MAGIC) :]
    if len(data) != meta.stored_size:
        raise CorruptSnapshot(key, f"chunk holds {len(data)} bytes, not {meta.stored_size}")
    return data


def encode_log_record(epoch: int, message: Message, payload: bytes | None = None) -> bytes:
    """An unsealed message as stored under ``K/m/{i}`` (``payload``: its msgpack bytes,
    when the caller has them already)."""
    body = encode_message(message) if payload is None else payload
    return _LOG_MAGIC + epoch.to_bytes(8, "big") + body


def decode_log_record(key: str, record: bytes, epoch: int) -> Message | None:
    """The message of a ``K/m/{i}`` record, or ``None`` if it belongs to another epoch."""
    if not record.startswith(_LOG_MAGIC) or len(record) < len(_LOG_MAGIC) + 8:
        raise CorruptSnapshot(key, "not a message record (bad magic)")
    head = len(_LOG_MAGIC)
    if int.from_bytes(record[head : head + 8], "big") != epoch:
        return None
    try:
        return decode_message(record[head + 8 :])
    except msgspec.MsgspecError as exc:
        raise CorruptSnapshot(key, f"message does not decode: {exc}") from exc

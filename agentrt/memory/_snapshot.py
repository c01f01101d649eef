"""The versioned binary formats of conversation state.

**Snapshot** (``Conversation.snapshot()``; also the durable *head* record), version 2::

    b"AGRTCONV" | version u8 (=2) | dictionary id u32 BE | raw length u32 BE
                | body length u32 BE | CRC-32 u32 BE | body

(the CRC-32 covers the four header fields before it and the body).

``body`` is the msgpack encoding of :class:`ConversationState` (``raw length`` bytes),
compressed as one zstd frame with the runtime's dictionary ``dictionary id`` (0: plain
zstd, no dictionary yet), so a short conversation's snapshot is compressed with what the
node learned from every conversation. The id names the dictionary version: a reader loads
it first (:meth:`~agentrt.memory.DictionaryRegistry.load`, from the store) and a snapshot
naming a dictionary nobody can load raises :class:`~agentrt.memory.UnknownDictionary`.

Version 3 is version 2 with the conversation's tenant (``Conversation.tenant``: the
agent's ``tenant`` setting) in the clear before the CRC, so that a tenant's conversations
are listed without decompressing anything (:func:`~agentrt.memory.list_conversations`)::

    b"AGRTCONV" | version u8 (=3) | dictionary id u32 BE | raw length u32 BE
                | body length u32 BE | tenant length u16 BE | tenant UTF-8 | CRC-32 u32 BE
                | body

It is written only for a conversation with a tenant (without one, version 2 as before,
so that releases reading versions 1-2 read it); a head of version 1 or 2 reads as tenant
None.

Version 1 (written before; still read)::

    b"AGRTCONV" | version u8 (=1) | body length u32 BE | CRC-32 of body u32 BE | body

with the msgpack body uncompressed.

A full snapshot carries the compressed bytes of every sealed chunk and the recent messages
inline; a *head* (written to the store at each seal/summary) carries the chunk table, the
summary and the system prompt, and inline only the unsealed messages a compaction
(``Conversation.compact``, run when a conversation closes, e.g. at passivation) moved
into it: the messages from the last chunk's end up to ``len(recent)``; later ones live
under their own keys.

**Durable layout** under a conversation key ``K`` in a :class:`~agentrt.memory.Store`:

- ``K/head``: the head (above);
- ``K/c/{n}``: sealed chunk ``n``: ``b"AGC\\x01"`` + its zstd bytes;
- ``K/m/{i}``: message ``i`` not yet sealed: ``b"AGM\\x01"`` + the conversation's 8-byte
  epoch + the msgpack message. A user message appended with a turn id
  (``Conversation.append_user``: a cross-node turn's message id) has one more key in its
  msgpack map, ``"turn"``: readers of older releases ignore it. The epoch (new and
  increasing, made when a conversation is created or restored into a key:
  ``agentrt.memory._epoch``) makes leftovers of an earlier incarnation under ``K``
  unreadable as current messages.

Every decoder validates magic, version, lengths, checksum, schema and the chunk table's
invariants (contiguous, non-empty chunks; a summary inside the table), and raises
:class:`~agentrt.memory._errors.CorruptSnapshot` naming the key on any failure. Nothing is
pickled.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

import msgspec
import zstandard

from agentrt.errors import InvalidArgument
from agentrt.memory._codec import ChunkMeta, decode_message, encode_message
from agentrt.memory._dictionary import DictionaryRegistry
from agentrt.memory._errors import CorruptSnapshot
from agentrt.memory._summary import Summary
from agentrt.messages import Message

__all__ = [
    "MAX_TENANT_BYTES",
    "SNAPSHOT_VERSION",
    "ConversationState",
    "check_tenant",
    "decode_chunk_record",
    "decode_log_record",
    "decode_state",
    "encode_chunk_record",
    "encode_log_record",
    "encode_state",
    "log_record_turn",
    "snapshot_dictionary",
    "snapshot_tenant",
]

SNAPSHOT_VERSION = 2
RAW_BELOW = 256
"""Snapshot bodies shorter than this (without a tenant) are stored uncompressed."""
_MAGIC = b"AGRTCONV"
_HEADER = struct.Struct(">BII")  # version 1: version, body length, CRC
_HEADER_V2 = struct.Struct(">BIIII")  # version, dictionary id, raw length, body length, CRC
_FIELDS_V2 = struct.Struct(">BIII")  # the version 2 header without its CRC
_TENANT_LEN = struct.Struct(">H")  # version 3: the tenant's length, after _FIELDS_V2
TENANT_VERSION = 3
#: the longest tenant a snapshot records, in UTF-8 bytes
MAX_TENANT_BYTES = 0xFFFF
_CRC = struct.Struct(">I")
_CHUNK_MAGIC = b"AGC\x01"
_LOG_MAGIC = b"AGM\x01"


class ConversationState(msgspec.Struct, array_like=True):
    """Everything a conversation persists.

    ``epoch``: identifies this incarnation's message log; ``data``: chunk bytes (one per
    entry of ``chunks`` in a full snapshot, empty in a head); ``recent``: the unsealed
    messages (empty in a head); ``turn``: the turn id of the latest user message appended
    with one (``Conversation.append_user``), None when none was; written last, so that
    older releases (which ignore trailing fields) read the state, and states they wrote
    read as None.
    """

    epoch: int
    system: Message | None
    summary: Summary | None
    chunks: list[ChunkMeta]
    data: list[bytes]
    recent: list[Message]
    turn: str | None = None


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(ConversationState)


class _Turn(msgspec.Struct):
    """The turn id of a message log record (its other keys are skipped)."""

    turn: str | None = None


_TURN = msgspec.msgpack.Decoder(_Turn)
_TURN_KEY = _ENCODER.encode("turn")


def encode_state(
    state: ConversationState,
    registry: DictionaryRegistry | None = None,
    tenant: str | None = None,
) -> bytes:
    """``state`` in the snapshot format: version 2, compressed with ``registry``'s current
    dictionary, or version 3 when ``tenant`` is given (it must be at most
    ``MAX_TENANT_BYTES`` in UTF-8: ``Conversation`` checks it); without a registry,
    version 1 (uncompressed, the format older releases wrote and every release reads;
    it records no tenant). A body under ``RAW_BELOW`` bytes without a tenant (a new
    conversation's head: its system prompt, no messages) is written as version 1 too:
    compressing it saves a few bytes and costs 5-25 µs (zstd's tables for the level,
    cold in the CPU cache), a third of an agent's start."""
    body = _ENCODER.encode(state)
    if registry is None or (tenant is None and len(body) < RAW_BELOW):
        return _MAGIC + _HEADER.pack(1, len(body), zlib.crc32(body)) + body
    dict_id, packed = registry.compress_snapshot(body)
    version = SNAPSHOT_VERSION if tenant is None else TENANT_VERSION
    fields = _FIELDS_V2.pack(version, dict_id, len(body), len(packed))
    if tenant is not None:
        name = tenant.encode()
        fields += _TENANT_LEN.pack(len(name)) + name
    return _MAGIC + fields + _CRC.pack(zlib.crc32(packed, zlib.crc32(fields))) + packed


def check_tenant(tenant: object) -> str | None:
    """``tenant`` if it is None or non-empty text a snapshot can record (at most
    ``MAX_TENANT_BYTES`` in UTF-8); ``InvalidArgument`` naming ``tenant`` otherwise."""
    if tenant is None:
        return None
    if not isinstance(tenant, str) or not tenant:
        raise InvalidArgument("tenant", f"must be None or non-empty text, got {tenant!r}")
    try:
        size = len(tenant.encode())
    except UnicodeEncodeError:
        raise InvalidArgument("tenant", "must be valid text (a lone surrogate)") from None
    if size > MAX_TENANT_BYTES:
        raise InvalidArgument("tenant", f"at most {MAX_TENANT_BYTES} UTF-8 bytes, got {size}")
    return tenant


class _Frame(NamedTuple):
    version: int
    dict_id: int
    raw_size: int
    body: bytes
    tenant: str | None


def _frame(key: str, data: object) -> _Frame:
    """A snapshot's framing, checked with its checksum (version 2 and 3's covers their
    header fields too)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CorruptSnapshot(key, f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data.startswith(_MAGIC):
        raise CorruptSnapshot(key, "bad magic (not an agentrt conversation snapshot)")
    version = data[len(_MAGIC)] if len(data) > len(_MAGIC) else None
    header = _HEADER_V2 if version in (SNAPSHOT_VERSION, TENANT_VERSION) else _HEADER
    start = len(_MAGIC) + header.size
    if len(data) < start:
        raise CorruptSnapshot(key, f"truncated header ({len(data)} bytes)")
    tenant = None
    if version == 1:
        _, length, crc = _HEADER.unpack_from(data, len(_MAGIC))
        dict_id = raw_size = 0
        body = data[start:]
        expected = zlib.crc32(body)
    elif version in (SNAPSHOT_VERSION, TENANT_VERSION):
        _, dict_id, raw_size, length = _FIELDS_V2.unpack_from(data, len(_MAGIC))
        end = len(_MAGIC) + _FIELDS_V2.size
        if version == TENANT_VERSION:
            end, tenant = _tenant(key, data, end)
        if len(data) < end + _CRC.size:
            raise CorruptSnapshot(key, f"truncated header ({len(data)} bytes)")
        (crc,) = _CRC.unpack_from(data, end)
        body = data[end + _CRC.size :]
        expected = zlib.crc32(body, zlib.crc32(data[len(_MAGIC) : end]))
    else:
        raise CorruptSnapshot(key, f"unsupported snapshot version {version}")
    if len(body) != length:
        raise CorruptSnapshot(key, f"body is {len(body)} bytes, header says {length}")
    if expected != crc:
        raise CorruptSnapshot(key, "checksum mismatch")
    return _Frame(version, dict_id, raw_size, body, tenant)


def _tenant(key: str, data: bytes, at: int) -> tuple[int, str]:
    """The tenant of a version 3 header whose tenant length sits at ``at``, and where the
    header goes on after it."""
    if len(data) < at + _TENANT_LEN.size:
        raise CorruptSnapshot(key, f"truncated header ({len(data)} bytes)")
    (size,) = _TENANT_LEN.unpack_from(data, at)
    at += _TENANT_LEN.size
    if len(data) < at + size:
        raise CorruptSnapshot(key, f"truncated header ({len(data)} bytes)")
    try:
        return at + size, data[at : at + size].decode()
    except UnicodeDecodeError:
        raise CorruptSnapshot(key, "the tenant is not UTF-8") from None


def snapshot_dictionary(key: str, data: bytes) -> int:
    """The id of the dictionary snapshot ``data`` was compressed with (0: none), so that
    the caller can load it before :func:`decode_state`. Raises :class:`CorruptSnapshot`
    naming ``key`` when the framing or checksum is wrong."""
    return _frame(key, data).dict_id


def snapshot_tenant(key: str, data: bytes) -> str | None:
    """The tenant snapshot or head ``data`` records (None: none, or a version 1 or 2
    record, written before tenants were recorded), read without decompressing it.
    Raises :class:`CorruptSnapshot` naming ``key`` when the framing or checksum is
    wrong."""
    return _frame(key, data).tenant


def decode_state(
    key: str, data: bytes, registry: DictionaryRegistry | None = None
) -> ConversationState:
    """Decode and validate a snapshot or head of version 1, 2 or 3; :class:`CorruptSnapshot`
    names ``key``. Versions 2 and 3 need ``registry`` with the snapshot's dictionary loaded
    (:class:`~agentrt.memory.UnknownDictionary` otherwise; see
    :func:`snapshot_dictionary`)."""
    version, dict_id, raw_size, body, _ = _frame(key, data)
    if version != 1:
        if registry is None:
            raise CorruptSnapshot(key, f"a version {version} snapshot needs the registry")
        try:
            body = registry.decompress(dict_id, body, raw_size)
        except zstandard.ZstdError as exc:
            raise CorruptSnapshot(key, f"body does not decompress: {exc}") from exc
        if len(body) != raw_size:
            raise CorruptSnapshot(key, f"body is {len(body)} bytes raw, header says {raw_size}")
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


def encode_log_record(
    epoch: int, message: Message, payload: bytes | None = None, turn: str | None = None
) -> bytes:
    """An unsealed message as stored under ``K/m/{i}`` (``payload``: its msgpack bytes,
    when the caller has them already), with ``turn`` (a turn id) as one more key of its
    msgpack map when given."""
    body = encode_message(message) if payload is None else payload
    if turn is not None:
        body = _with_turn(body, turn)
    return _LOG_MAGIC + epoch.to_bytes(8, "big") + body


def _with_turn(body: bytes, turn: str) -> bytes:
    """The msgpack map ``body`` with the key ``"turn"`` added (its count bumped: a
    message has at most 8 keys, so its map header is one byte: a fixmap)."""
    if body[0] & 0xF0 != 0x80 or body[0] == 0x8F:  # not a fixmap with room: re-encoded
        fields = msgspec.msgpack.decode(body)
        return _ENCODER.encode({**fields, "turn": turn})
    return bytes((body[0] + 1,)) + body[1:] + _TURN_KEY + _ENCODER.encode(turn)


def log_record_turn(key: str, record: bytes) -> str | None:
    """The turn id a ``K/m/{i}`` record carries (None: none); :class:`CorruptSnapshot`
    naming ``key`` when it does not decode."""
    try:
        return _TURN.decode(record[len(_LOG_MAGIC) + 8 :]).turn
    except msgspec.MsgspecError as exc:
        raise CorruptSnapshot(key, f"message does not decode: {exc}") from exc


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

"""A labelled paraphrase set for the semantic cache benchmark, generated (no download).

Each *intent* has several wordings of one question (templates) and a slot filled with an
entity. Two questions **mean the same** when they are two wordings of one intent with
one entity; they **differ** when they are near misses that share most words:

- ``entity``: one wording, another city / country / phrase ("weather in Paris" vs
  "weather in London");
- ``number``: another number ("5 miles" vs "50 miles", "order 1042" vs "order 1043");
- ``action``: another account action in the same frame ("reset my password" vs "change
  my email address");
- ``negation``: the opposite question ("enable" vs "disable two-factor authentication",
  "open on Sunday" vs "closed on Sunday").

:func:`pairs` gives labelled pairs; :func:`lookups` gives what a cache would see: one
stored wording per (intent, entity) for most entities, then queries that are other
wordings of stored questions (each should get its own answer) and questions about
entities never stored (any hit is a wrong answer).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

__all__ = ["INTENTS", "Intent", "Pair", "lookups", "pairs"]


@dataclass(frozen=True)
class Intent:
    name: str
    kind: str  # what a different entity makes a near miss: entity, number, action
    templates: tuple[str, ...]
    entities: tuple[str, ...]


INTENTS = (
    Intent(
        "weather",
        "entity",
        (
            "What's the weather like in {x}?",
            "How is the weather in {x} today?",
            "Tell me the current weather in {x}.",
            "What is the weather forecast for {x} today?",
            "Can you give me today's weather for {x}?",
        ),
        ("Paris", "London", "Tokyo", "Berlin", "Madrid", "Chicago"),
    ),
    Intent(
        "capital",
        "entity",
        (
            "What is the capital of {x}?",
            "Which city is the capital of {x}?",
            "Name the capital city of {x}.",
            "What city serves as the capital of {x}?",
            "Tell me what the capital of {x} is.",
        ),
        ("France", "Germany", "Japan", "Brazil", "Canada", "Kenya"),
    ),
    Intent(
        "translate",
        "entity",
        (
            "Translate '{x}' into French.",
            "How do you say '{x}' in French?",
            "What is '{x}' in French?",
            "What's the French for '{x}'?",
            "Give me the French translation of '{x}'.",
        ),
        ("good morning", "good night", "thank you", "see you tomorrow", "good evening", "you"),
    ),
    Intent(
        "convert",
        "number",
        (
            "Convert {x} miles to kilometres.",
            "How many kilometres is {x} miles?",
            "What is {x} miles in km?",
            "{x} miles equals how many kilometres?",
            "Change {x} miles into kilometres for me.",
        ),
        ("5", "50", "12", "120", "3", "30"),
    ),
    Intent(
        "order",
        "number",
        (
            "Where is my order {x}?",
            "What's the status of order {x}?",
            "Can you track order number {x} for me?",
            "Check the delivery status of order {x}.",
            "Where is order #{x} right now?",
        ),
        ("1042", "1043", "2210", "7781", "1024", "2201"),
    ),
    Intent(
        "account",
        "action",
        (
            "How do I {x}?",
            "How can I {x}?",
            "What are the steps to {x}?",
            "Can you tell me how to {x}?",
            "Explain how to {x}.",
        ),
        (
            "reset my password",
            "change my email address",
            "enable two-factor authentication",
            "update my billing details",
            "delete my account",
            "disable two-factor authentication",
        ),
    ),
    Intent(
        "open",
        "entity",
        (
            "Are you open on {x}?",
            "Is the store open on {x}?",
            "Do you open on {x}?",
            "Will the shop be open on {x}?",
            "Can I visit the store on {x}, are you open?",
        ),
        ("Sunday", "Monday", "Christmas Day", "New Year's Day", "Saturday", "Good Friday"),
    ),
    Intent(
        "closed",
        "entity",
        (
            "Are you closed on {x}?",
            "Is the store closed on {x}?",
            "Do you close on {x}?",
            "Will the shop be closed on {x}?",
            "Is the shop shut on {x}?",
        ),
        ("Sunday", "Monday", "Christmas Day", "New Year's Day", "Saturday", "Good Friday"),
    ),
)

#: Opposite questions with the same entities (and answers that flip).
_NEGATIONS = (("open", "closed"),)
_NEGATED_ENTITIES = (("enable two-factor authentication", "disable two-factor authentication"),)


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same: bool
    kind: str  # "paraphrase", or the near miss's kind


def pairs(limit_per_kind: int | None = None, seed: int = 7) -> list[Pair]:
    """Every labelled pair (or at most ``limit_per_kind`` of each kind, drawn with
    ``seed``): paraphrases, then near misses by kind."""
    by_kind: dict[str, list[Pair]] = {}
    for intent in INTENTS:
        for x in intent.entities:
            for t1, t2 in itertools.combinations(intent.templates, 2):
                _add(by_kind, Pair(t1.format(x=x), t2.format(x=x), True, "paraphrase"))
        negated = {frozenset(p) for p in _NEGATED_ENTITIES}
        for x1, x2 in itertools.combinations(intent.entities, 2):
            kind = "negation" if frozenset((x1, x2)) in negated else intent.kind
            for t in intent.templates:
                _add(by_kind, Pair(t.format(x=x1), t.format(x=x2), False, kind))
    names = {i.name: i for i in INTENTS}
    for yes, no in _NEGATIONS:
        first, second = names[yes], names[no]
        for x in first.entities:
            for t1, t2 in zip(first.templates, second.templates, strict=True):
                _add(by_kind, Pair(t1.format(x=x), t2.format(x=x), False, "negation"))
    rng = random.Random(seed)
    out: list[Pair] = []
    for kind in sorted(by_kind):
        group = by_kind[kind]
        if limit_per_kind is not None and len(group) > limit_per_kind:
            group = rng.sample(group, limit_per_kind)
        out.extend(group)
    return out


def _add(by_kind: dict[str, list[Pair]], pair: Pair) -> None:
    by_kind.setdefault(pair.kind, []).append(pair)


@dataclass(frozen=True)
class Lookups:
    stored: list[tuple[str, str]]  # (question, answer id)
    paraphrases: list[tuple[str, str]]  # (question, the answer id it should get)
    near_misses: list[str]  # questions whose answer is not stored


def lookups(held_out: int = 2) -> Lookups:
    """Store wording 0 of each (intent, entity) but the last ``held_out`` entities of
    each intent; query the other wordings of stored ones, and every wording of the held
    out ones (plus the negated twin of each stored "open" question)."""
    stored: list[tuple[str, str]] = []
    paraphrases: list[tuple[str, str]] = []
    near: list[str] = []
    for intent in INTENTS:
        keep = intent.entities[: len(intent.entities) - held_out]
        for x in intent.entities:
            answer = f"{intent.name}:{x}"
            if x in keep and intent.name != "closed":
                stored.append((intent.templates[0].format(x=x), answer))
                paraphrases.extend((t.format(x=x), answer) for t in intent.templates[1:])
            else:
                near.extend(t.format(x=x) for t in intent.templates)
    return Lookups(stored, paraphrases, near)

"""Public-chat-like conversations for the memory benchmarks' real-text mode.

The agent corpus (:mod:`loadtest.bench.chat_corpus`) is long, tool-heavy agent work with
a 1.4 KB system prompt repeated in every conversation. What people actually have with a
chat assistant is different, and that is what :func:`chat` generates, deterministically
from its ``seed`` (only :mod:`random`; nothing is downloaded):

- **Length**: a conversation has ``2 * turns`` messages (user, assistant, ...), the
  number of turns geometric with p = 0.25, so the median conversation has 6 messages and
  one in ~10 has 18 or more (measured on ~17k real public chats: median 6 messages; only
  0.1% of messages ever reached a 50-message chunk). No system prompt, no tools.
- **User messages**: log-normal length, median 80 characters, sigma 1.1 (a greeting or a
  question of one line; one in ~20 over 500 characters: pasted text or code).
- **Assistant messages**: log-normal length, median ~750 characters, sigma 0.7; Markdown
  prose, a bullet list in a third, a fenced code block in a fifth.
- **Language**: 70% of conversations in English (Zipf-distributed ~540-word vocabulary,
  the agent corpus's prose), the others mostly in one of ten languages (Chinese,
  Japanese, Korean, Russian, Arabic, Hindi, Greek, German, Spanish, Portuguese, with
  emoji): the agent corpus's chat sentences, and mostly their words recombined, with an
  English sentence in one of five.

Synthetic text is more regular than real text (a finite vocabulary and sentence set), so
a dictionary trained on it does better than on real chats; the benchmark therefore trains
on one set of conversations and measures on others, and reports zstd with and without a
dictionary of the same size on the same text beside it.
"""

from __future__ import annotations

import random

from agentrt.messages import Message
from loadtest.bench.chat_corpus import _CHAT_SENTENCES, _LANGUAGES, _code, _sentence

__all__ = ["chat", "chats"]


_UNSPACED = ("zh", "ja")


def _vocabulary(language: str) -> tuple[str, ...]:
    """The words of ``language``'s chat sentences (2-3 character pieces for Chinese and
    Japanese, which do not separate words by spaces)."""
    words: set[str] = set()
    for sentence in _CHAT_SENTENCES[language]:
        if language in _UNSPACED:
            words.update(sentence[i : i + 2 + i % 2] for i in range(0, len(sentence), 2))
        else:
            words.update(sentence.split())
    return tuple(sorted(words))


_VOCABULARY = {language: _vocabulary(language) for language in _LANGUAGES}


def _foreign(rng: random.Random, language: str) -> str:
    """A sentence of ``language``: a known one, or (mostly) its words recombined, so that
    long conversations do not repeat a handful of sentences."""
    if rng.random() < 0.2:
        return rng.choice(_CHAT_SENTENCES[language])
    vocabulary = _VOCABULARY[language]
    words = [vocabulary[min(int(rng.paretovariate(1.2)) - 1, len(vocabulary) - 1)]]
    words += rng.choices(vocabulary, k=rng.randint(5, 18))
    return ("" if language in _UNSPACED else " ").join(words)


def _fill(rng: random.Random, chars: int, language: str | None) -> str:
    """Text of about ``chars`` characters: English sentences, or (with ``language``)
    mostly that language's sentences with an English one now and then."""
    parts: list[str] = []
    size = 0
    while size < chars:
        if language is not None and rng.random() < 0.8:
            piece = _foreign(rng, language)
        else:
            piece = _sentence(rng)
        parts.append(piece)
        size += len(piece) + 1
    return " ".join(parts)


def _user(rng: random.Random, language: str | None) -> str:
    chars = max(2, int(rng.lognormvariate(4.38, 1.1)))  # median e^4.38 ≈ 80
    return _fill(rng, chars, language)[:chars]


def _assistant(rng: random.Random, language: str | None) -> str:
    chars = max(20, int(rng.lognormvariate(6.3, 0.7)))  # whole paragraphs: median ≈ 700
    paragraphs = []
    size = 0
    while size < chars:
        para = _fill(rng, min(chars - size, rng.randint(150, 450)), language)
        if rng.random() < 0.33:
            para = "\n".join(f"- {_fill(rng, rng.randint(30, 90), language)}" for _ in range(3))
        paragraphs.append(para)
        size += len(para) + 2
    if rng.random() < 0.2:
        paragraphs.insert(rng.randint(0, len(paragraphs)), _code(rng))
    return "\n\n".join(paragraphs)


def chat(seed: int, n_messages: int | None = None) -> list[Message]:
    """One conversation: ``n_messages`` messages, or a length drawn as documented."""
    rng = random.Random(seed ^ 0xC4A7)
    language = None if rng.random() < 0.7 else rng.choice(_LANGUAGES)
    if n_messages is None:
        turns = 1
        while rng.random() > 0.25:
            turns += 1
        n_messages = 2 * turns
    out = []
    for i in range(n_messages):
        if i % 2 == 0:
            out.append(Message.user(_user(rng, language)))
        else:
            out.append(Message.assistant(_assistant(rng, language)))
    return out


def chats(first_seed: int, count: int, n_messages: int | None = None) -> list[list[Message]]:
    """``count`` conversations with seeds ``first_seed``, ``first_seed + 1``, ..."""
    return [chat(s, n_messages) for s in range(first_seed, first_seed + count)]

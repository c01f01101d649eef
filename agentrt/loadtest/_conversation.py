"""What simulated users say and how long they think: plain functions of a seeded RNG.

:class:`TurnSource` turns a scenario's ``[conversation]`` and ``[tools]`` sections into the
text of each user turn; :func:`think_seconds` draws a think time. Generated turns carry
the mock LLM's directives (``[[tool:lookup {...}]]``, ``[[words:N]]``), which make the mock
call the tool or answer at length; a real model reads them as text.

Example::

    source = TurnSource(scenario)
    source.text(random.Random(1), agent=3, turn=0)   # "Hi! I have a few questions."
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import random
from collections.abc import Callable
from typing import Any

from agentrt.errors import ConfigError
from agentrt.loadtest._importing import import_object
from agentrt.loadtest._scenario import Scenario
from agentrt.loadtest._sections import ThinkTime, ToolsSpec

__all__ = ["KeyDraw", "TurnSource", "think_seconds"]


class KeyDraw:
    """Lookup keys drawn with the tools' repeat distribution (see ``ToolsSpec``)."""

    def __init__(self, spec: ToolsSpec) -> None:
        self.spec = spec
        self._unique = itertools.count()
        weights = [1.0 / (rank**spec.zipf_s) for rank in range(1, spec.keys + 1)]
        self._cumulative = list(itertools.accumulate(weights))

    def draw(self, rng: random.Random) -> str:
        spec = self.spec
        if spec.repeat == "unique":
            return f"key-{next(self._unique)}"
        if spec.repeat == "uniform":
            return f"key-{rng.randrange(spec.keys)}"
        point = rng.random() * self._cumulative[-1]
        return f"key-{bisect.bisect_left(self._cumulative, point)}"


class TurnSource:
    """The text of each user turn of a scenario (deterministic for a given RNG)."""

    def __init__(self, scenario: Scenario) -> None:
        conv = scenario.conversation
        self.conversation = conv
        self.keys = KeyDraw(scenario.tools)
        mix = {k: w for k, w in scenario.tools.mix.items() if w > 0}
        self._kinds = list(mix)
        self._kind_weights = list(itertools.accumulate(mix.values()))
        self._generator: Callable[[random.Random, int, int], Any] | None = None
        if conv.generator:
            near = scenario.source or None
            gen = import_object(conv.generator, key="conversation.generator", near=near)
            if not callable(gen):
                raise ConfigError("conversation.generator", f"{conv.generator!r} is not callable")
            self._generator = gen

    def text(self, rng: random.Random, agent: int, turn: int) -> str:
        """User turn ``turn`` (from 0) of agent number ``agent``."""
        conv = self.conversation
        if self._generator is not None:
            out = self._generator(rng, agent, turn)
            if not isinstance(out, str) or not out:
                raise ConfigError(
                    "conversation.generator", f"must return a non-empty str, got {out!r}"
                )
            return out
        if conv.messages:
            return conv.messages[turn % len(conv.messages)]
        if conv.templates:
            template = rng.choice(conv.templates)
            values = {name: rng.choice(options) for name, options in conv.variables.items()}
            return template.format(agent=agent, turn=turn, key=self.keys.draw(rng), **values)
        if turn == 0 and conv.first_message:
            return conv.first_message
        return self._mixed(rng)

    def _mixed(self, rng: random.Random) -> str:
        point = rng.random() * self._kind_weights[-1]
        kind = self._kinds[bisect.bisect_right(self._kind_weights, point)]
        if kind == "lookup":
            key = self.keys.draw(rng)
            args = json.dumps({"topic": key})
            return f"What do you know about {key}? [[tool:lookup {args}]]"
        if kind == "calc":
            a, b = rng.randint(2, 99), rng.randint(2, 99)
            args = json.dumps({"a": a, "b": b})
            return f"What is {a} times {b}? [[tool:calc {args}]]"
        if kind == "long":
            return f"Could you explain that in detail? [[words:{rng.randint(80, 200)}]]"
        return f"Thanks. One more thing, briefly? [[words:{rng.randint(8, 30)}]]"


def think_seconds(spec: ThinkTime, rng: random.Random) -> float:
    """One think time from ``spec``'s distribution, clamped to [min, max]."""
    mean = float(spec.mean)
    if spec.distribution == "constant":
        value = mean
    elif spec.distribution == "uniform":
        value = rng.uniform(0.0, 2.0 * mean)
    elif spec.distribution == "exponential":
        value = rng.expovariate(1.0 / mean) if mean > 0 else 0.0
    else:  # lognormal with this mean: mu = ln(mean) - sigma^2 / 2
        value = rng.lognormvariate(math.log(mean) - spec.sigma**2 / 2, spec.sigma) if mean else 0.0
    return min(max(value, float(spec.min)), float(spec.max))

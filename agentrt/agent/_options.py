"""Checks of an agent's settings given at spawn (``Runtime.spawn(..., max_steps=3)``).

A bad option used to be accepted and then crash every turn; :func:`check_spawn_options`
refuses it when it is given, with ``ConfigError`` (a ``ValueError``) naming the option.
The numbers are bounded by :class:`~agentrt.bounds.Bounds` declared once, in
:class:`SpawnNumbers`:

- ``max_steps``: 1..1,000 LLM calls per turn;
- ``temperature``: 0..2 or None (the provider's default);
- ``max_tokens``: 1..10,000,000 or None;
- ``context_tokens``: 1..100,000,000;
- ``turn_timeout``: > 0 and at most a week, in seconds;

and the others by type: ``system_prompt`` a string, ``model`` a non-empty string,
``tools`` a list or tuple of tool names or ``Tool`` objects, ``memory`` a
``ConversationConfig`` or None, ``llm_cache`` a ``ResponseCachePolicy`` or None.
Options an agent's ``setup`` takes are not checked here.

:func:`with_default_model` gives an agent whose class and options name no ``model`` the
runtime's default model (``PoolConfig.default_model``).

Example::

    check_spawn_options({"max_steps": -1})   # ConfigError: 'max_steps': must be within 1..1,000
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from agentrt.agent._agent import Agent
from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.llm import ResponseCachePolicy
from agentrt.memory import ConversationConfig
from agentrt.tools import Tool

__all__ = ["SpawnNumbers", "check_spawn_options", "with_default_model"]


@dataclass(frozen=True, kw_only=True)
class SpawnNumbers:
    """The numeric agent settings and their bounds (None: not given)."""

    max_steps: Annotated[int, Bounds(low=1, high=1_000)] | None = None
    temperature: Annotated[float, Bounds(low=0, high=2)] | None = None
    max_tokens: Annotated[int, Bounds(low=1, high=10_000_000)] | None = None
    context_tokens: Annotated[int, Bounds(low=1, high=100_000_000)] | None = None
    turn_timeout: Annotated[float, Bounds(low=0, open_low=True, high=7 * 86_400)] | None = None

    def __post_init__(self) -> None:
        check_fields(self)


_NUMBERS = frozenset(f.name for f in dataclasses.fields(SpawnNumbers))


def check_spawn_options(options: Mapping[str, Any]) -> None:
    """Raise ConfigError naming the first agent setting in ``options`` that is invalid."""
    SpawnNumbers(**{k: v for k, v in options.items() if k in _NUMBERS})
    if "system_prompt" in options and not isinstance(options["system_prompt"], str):
        raise ConfigError("system_prompt", f"expected a string, got {options['system_prompt']!r}")
    model = options.get("model", "mock")
    if not isinstance(model, str) or not model:
        raise ConfigError("model", f"expected a non-empty string, got {model!r}")
    tools = options.get("tools", ())
    if not isinstance(tools, list | tuple) or not all(isinstance(t, str | Tool) for t in tools):
        raise ConfigError("tools", f"expected a list of tool names or Tools, got {tools!r}")
    cache = options.get("llm_cache")
    if cache is not None and not isinstance(cache, ResponseCachePolicy):
        raise ConfigError("llm_cache", f"expected a ResponseCachePolicy or None, got {cache!r}")
    memory = options.get("memory")
    if memory is not None and not isinstance(memory, ConversationConfig):
        raise ConfigError("memory", f"expected a ConversationConfig or None, got {memory!r}")


def with_default_model(
    agent_class: type[Agent], options: Mapping[str, Any], model: str
) -> Mapping[str, Any]:
    """``options`` plus ``model=model`` when neither they nor ``agent_class`` (below
    ``Agent`` itself, whose ``"mock"`` is only the fallback) name a model."""
    if "model" in options:
        return options
    for klass in agent_class.__mro__:
        if klass is Agent:
            break
        if "model" in vars(klass):
            return options
    return {**options, "model": model}

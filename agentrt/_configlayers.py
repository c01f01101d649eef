"""Configuration from layers, and which layer set each value.

The order, lowest first: **defaults** (the dataclass's own, or a command's defaults
given as a table), the **file** (``--config agentrt.toml``), the **environment**
(``AGENTRT_*``), the command-line **flags**. Each layer overrides only the keys it sets:
tables merge key by key, an array (``[[llm.providers]]``) is one value and is replaced
whole. An error names the key and where its value came from (file and line, the
environment variable, or the flag).

A variable that names a secret is never a config key
(:func:`agentrt._configfile.is_secret_variable`): one whose last word is ``TOKEN``,
``SECRET``, ``PASSWORD``, ``PASSWD``, ``CREDENTIAL(S)`` or ``API_KEY`` / ``ACCESS_KEY``
/ ``PRIVATE_KEY`` (``AGENTRT_TOP_TOKEN``), and any variable that a ``*_env`` setting
names (``token_env = "AGENTRT_PASS"``), is skipped by the environment layer, so the
documented ``export AGENTRT_TOP_TOKEN=...`` works.

Example::

    layered = load_layers(RuntimeConfig, path="agentrt.toml", env=os.environ,
                          flags={"llm": {"providers": [...]}})
    layered.config                     # the RuntimeConfig
    layered.source("llm.providers")    # "flag"
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from agentrt._configfile import (
    KeyLines,
    build,
    env_entries,
    env_overrides,
    load_toml,
    merge,
    named_variables,
)

__all__ = ["Layered", "Source", "load_layers", "walk"]

T = TypeVar("T")
Source = Literal["default", "file", "env", "flag"]


def _env_layer(
    env: Mapping[str, str], prefix: str, named: frozenset[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The nested table of the environment layer and the variable behind each key."""
    names = {key: name for key, (name, _) in env_entries(env, prefix, named).items()}
    return env_overrides(env, prefix, named), names


def _leaves(data: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted keys of ``data``'s values; tables are walked, arrays are values."""
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, dotted)
        else:
            yield dotted


@dataclass(frozen=True)
class Layered(Generic[T]):
    """A configuration and the layer each key it holds came from."""

    config: T
    sources: Mapping[str, Source]
    env_names: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def source(self, key: str) -> Source:
        """The layer that set ``key`` (or a table or array holding it, or, for a table, one
        of its keys); ``"default"``."""
        parts = key.replace("[", ".[").split(".")
        while parts:
            found = self.sources.get(".".join(parts).replace(".[", "["))
            if found is not None:
                return found
            parts.pop()
        for set_key, found in self.sources.items():  # a table whose keys a layer set
            if set_key.startswith((f"{key}.", f"{key}[")):
                return found
        return "default"


class _LayerLines(KeyLines):
    """Says where a key's value came from: file line, variable or flag."""

    def __init__(self, file_lines: KeyLines, layered: Layered[None]) -> None:
        super().__init__()
        self._file = file_lines
        self._layered = layered

    def where(self, key: str) -> str:
        source = self._layered.source(key)
        if source == "file":
            return self._file.where(key)
        if source == "env":
            parts = key.split(".")
            while parts and ".".join(parts) not in self._layered.env_names:
                parts.pop()
            name = self._layered.env_names.get(".".join(parts), "an AGENTRT_ variable")
            return f" (from environment variable {name})"
        if source == "flag":
            return " (from a command-line flag)"
        return " (a default)"


def load_layers(
    cls: type[T],
    *,
    defaults: Mapping[str, Any] | None = None,
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    env_prefix: str = "AGENTRT_",
    flags: Mapping[str, Any] | None = None,
) -> Layered[T]:
    """Build ``cls`` from the layers (see the module docs); ConfigError names the key
    and where its bad value came from."""
    file_data: dict[str, Any] = {}
    file_lines = KeyLines()
    if path is not None:
        file_data, file_lines = load_toml(path)
    named = named_variables([defaults or {}, file_data, flags or {}])
    env_data, env_names = _env_layer(env, env_prefix, named) if env is not None else ({}, {})
    data: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    layers: list[tuple[Source, Mapping[str, Any]]] = [
        ("default", defaults or {}),
        ("file", file_data),
        ("env", env_data),
        ("flag", flags or {}),
    ]
    for source, layer in layers:
        data = merge(data, layer)
        sources.update(dict.fromkeys(_leaves(layer), source))
    where: Layered[None] = Layered(None, sources, env_names)
    config = build(cls, data, lines=_LayerLines(file_lines, where))
    return Layered(config, sources, env_names)


def walk(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted key, value)`` for every leaf field of the dataclass ``obj``: nested
    dataclasses are walked, and so are arrays of them (``llm.providers[0].kind``); a
    ``None`` section is one value. Keys use each field's TOML key (``metadata["key"]``
    or its name)."""
    for f in dataclasses.fields(obj):
        if not f.init:
            continue
        key = f.metadata.get("key", f.name)
        dotted = f"{prefix}.{key}" if prefix else key
        value = getattr(obj, f.name)
        if _is_table(value):
            yield from walk(value, dotted)
        elif isinstance(value, tuple | list) and value and all(map(_is_table, value)):
            for i, item in enumerate(value):
                yield from walk(item, f"{dotted}[{i}]")
        else:
            yield dotted, value


def _is_table(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)

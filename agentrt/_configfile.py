"""Typed configuration from TOML files and environment variables.

``build(Config, data)`` turns a TOML table into a (nested) frozen dataclass, checking
every value against the field's type and rejecting unknown keys; any problem raises
``ConfigError`` naming the dotted key and, when the data came from a file, the file and
line. Validation in the dataclasses' own ``__post_init__`` (which raise ``ConfigError``
with a field name) is re-raised with the full key path.

A field's key is its name, or ``field(metadata={"key": "class"})`` for a key that is not a
Python identifier. Supported field types: ``str``, ``int``, ``float`` (ints accepted),
``bool``, ``Literal``, ``X | None``, unions of these, ``tuple[X, ...]``, ``list[X]``,
``dict[str, X]``, nested dataclasses, ``Any``, and numbers bounded by
``Annotated[float, Bounds(...)]`` (:mod:`agentrt.bounds`). A float is never NaN or
infinite.

Example::

    cfg = load(RuntimeConfig, "agentrt.toml", env=os.environ, env_prefix="AGENTRT_")

Environment overrides: ``AGENTRT_LLM__TIMEOUT=30`` sets ``llm.timeout`` (double underscore
separates levels, names are case-insensitive); values are parsed as TOML values when they
can be (``30``, ``true``, ``["a", "b"]``) and kept as strings otherwise.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_args, get_origin, get_type_hints

from agentrt.bounds import bounds_of
from agentrt.errors import ConfigError
from agentrt.redact import redacted

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "KeyLines",
    "build",
    "env_entries",
    "env_overrides",
    "is_secret_variable",
    "load",
    "load_toml",
    "merge",
    "named_variables",
    "text_value",
]

T = TypeVar("T")

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


class KeyLines:
    """Where each dotted key of a TOML document is defined (best effort: tables, dotted
    keys and ``[[arrays]]``; array items share their header's line)."""

    def __init__(self, text: str = "", source: str = "") -> None:
        self.source = source
        self._lines: dict[str, int] = {}
        arrays: dict[str, int] = {}  # [[array]] name -> index of its current item
        table = ""
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                name = _clean(header.group(1))
                if line.lstrip().startswith("[["):
                    arrays[name] = arrays.get(name, -1) + 1
                    self._lines.setdefault(name, number)  # the array as a whole
                table = _indexed(name, arrays)
                self._lines.setdefault(table, number)
                continue
            assign = _ASSIGN.match(line)
            if assign:
                key = _clean(assign.group(1))
                self._lines.setdefault(f"{table}.{key}" if table else key, number)

    def where(self, key: str) -> str:
        """``" (file:line)"`` for ``key`` or its closest defined parent, else ``""``."""
        parts = [p for p in re.split(r"\.(?![^\[]*\])", key.replace("[", ".[")) if p]
        while parts:
            number = self._lines.get(".".join(parts).replace(".[", "["))
            if number is not None:
                return f" ({self.source}:{number})" if self.source else f" (line {number})"
            parts.pop()
        return f" ({self.source})" if self.source else ""


def _indexed(name: str, arrays: dict[str, int]) -> str:
    """``a.b.c`` with the current item index after every array-of-tables prefix."""
    out: list[str] = []
    plain: list[str] = []
    for part in name.split("."):
        plain.append(part)
        out.append(part)
        index = arrays.get(".".join(plain))
        if index is not None:
            out[-1] = f"{part}[{index}]"
    return ".".join(out)


def _clean(key: str) -> str:
    return ".".join(p.strip().strip("\"'") for p in key.split("."))


def load_toml(path: str | Path | Traversable) -> tuple[dict[str, Any], KeyLines]:
    """Read and parse a TOML file (a path, or a package resource from
    :func:`importlib.resources.files`); syntax errors raise ``ConfigError`` with the line."""
    file = Path(path) if isinstance(path, str) else path
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read the file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"invalid TOML: {exc}") from None
    return data, KeyLines(text, str(path))


_SECRET_LAST = re.compile(
    r"(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|API_?KEY|ACCESS_KEY|PRIVATE_KEY)$"
)


def is_secret_variable(name: str, named: frozenset[str] = frozenset()) -> bool:
    """True when variable ``name`` holds a secret: its last word says so (``TOKEN``,
    ``SECRET``, ``PASSWORD``, ``PASSWD``, ``CREDENTIAL(S)``, ``API_KEY``,
    ``ACCESS_KEY``, ``PRIVATE_KEY``), or a ``*_env`` setting names it (``named``,
    upper-cased). Such a variable is never read as a config key."""
    upper = name.upper()
    return upper in named or _SECRET_LAST.search(upper) is not None


def named_variables(data: Any) -> frozenset[str]:
    """Upper-cased string values of every ``*_env`` key in ``data``: the variables a
    configuration reads its secrets from."""
    found: set[str] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            for key, value in item.items():
                if str(key).endswith("_env") and isinstance(value, str):
                    found.add(value.upper())
                else:
                    stack.append(value)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return frozenset(found)


def env_entries(
    env: Mapping[str, str], prefix: str, named: frozenset[str] = frozenset()
) -> dict[str, tuple[str, Any]]:
    """``{dotted key: (variable, value)}`` of the variables named ``<prefix>KEY__SUB...``,
    secrets skipped (:func:`is_secret_variable`)."""
    out: dict[str, tuple[str, Any]] = {}
    for name, raw in sorted(env.items()):
        if not name.upper().startswith(prefix.upper()) or len(name) == len(prefix):
            continue
        if is_secret_variable(name, named):
            continue
        path = [p.lower() for p in name[len(prefix) :].split("__") if p]
        out[".".join(path)] = (name, text_value(raw))
    return out


def env_overrides(
    env: Mapping[str, str], prefix: str, named: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Nested overrides from variables named ``<prefix><KEY>__<SUBKEY>...`` (variables
    holding secrets are skipped: :func:`is_secret_variable`)."""
    out: dict[str, Any] = {}
    for dotted, (name, value) in env_entries(env, prefix, named).items():
        path = dotted.split(".")
        target = out
        for part in path[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(name, "conflicts with another variable")
        if isinstance(target.get(path[-1]), dict):
            raise ConfigError(name, "conflicts with another variable")
        target[path[-1]] = value
    return out


def text_value(raw: str) -> Any:
    """``raw`` read as a TOML value (``30``, ``true``, ``["a"]``), else the string itself."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` laid over it, tables merged recursively."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load(
    cls: type[T],
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    env_prefix: str = "AGENTRT_",
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Build ``cls`` from the file at ``path`` (optional), then environment variables with
    ``env_prefix``, then ``overrides`` (each layer wins over the previous one)."""
    data: dict[str, Any] = {}
    lines = KeyLines()
    if path is not None:
        data, lines = load_toml(path)
    if env is not None:
        named = named_variables([data, overrides or {}])
        data = merge(data, env_overrides(env, env_prefix, named))
    if overrides:
        data = merge(data, overrides)
    return build(cls, data, lines=lines)


def build(cls: type[T], data: Any, *, key: str = "", lines: KeyLines | None = None) -> T:
    """Build the dataclass ``cls`` from the mapping ``data`` (see the module docs)."""
    return typing.cast(T, _convert(cls, data, key, lines or KeyLines()))


def _fail(key: str, lines: KeyLines, problem: str) -> ConfigError:
    return ConfigError(key or "<root>", problem + lines.where(key))


def _dataclass(cls: type[Any], data: Any, key: str, lines: KeyLines) -> Any:
    if not isinstance(data, Mapping):
        raise _fail(key, lines, f"expected a table, got {type(data).__name__}")
    hints = get_type_hints(cls)
    # A field's TOML key is its name, or ``metadata["key"]`` (for keys such as ``class``).
    fields = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        sub = f"{key}.{name}" if key else name
        if name not in fields:
            close = difflib.get_close_matches(str(name), list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _fail(sub, lines, f"unknown key{hint}; known keys: {sorted(fields)}")
        field = fields[name]
        kwargs[field.name] = _convert(hints[field.name], value, sub, lines)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        inner = f"{key}.{exc.key}" if key and not exc.key.startswith(key) else exc.key
        raise _fail(inner, lines, exc.problem) from None
    except (TypeError, ValueError) as exc:
        raise _fail(key, lines, str(exc)) from None


def _convert(tp: Any, value: Any, key: str, lines: KeyLines) -> Any:
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp, value, key, lines)
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is typing.Annotated:  # ``Annotated[float, Bounds(...)]``: see agentrt.bounds
        converted = _convert(args[0], value, key, lines)
        declared = bounds_of(tp)
        if declared is not None:
            try:
                declared[0].check(converted, key, declared[1])
            except ConfigError as exc:
                raise _fail(key, lines, exc.problem) from None
        return converted
    if origin is typing.Literal:
        if value not in args:
            raise _fail(key, lines, f"must be one of {list(args)}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [arg for arg in args if arg is not type(None)]
        if len(options) == 1:  # ``X | None``: X's own error, with its own key
            return _convert(options[0], value, key, lines)
        problems = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, key, lines)
            except ConfigError as exc:
                problems.append(exc.problem)
        raise _fail(key, lines, " or ".join(dict.fromkeys(problems)))
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise _fail(key, lines, f"expected an array, got {type(value).__name__}")
        item_tp = args[0] if args else Any
        if (origin is tuple and len(args) == 2 and args[1] is Ellipsis) or origin is list:
            items = [_convert(item_tp, v, f"{key}[{i}]", lines) for i, v in enumerate(value)]
            return tuple(items) if origin is tuple else items
        if len(args) != len(value):
            raise _fail(key, lines, f"expected {len(args)} items, got {len(value)}")
        return tuple(
            _convert(a, v, f"{key}[{i}]", lines)
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _fail(key, lines, f"expected a table, got {type(value).__name__}")
        val_tp = args[1] if len(args) == 2 else Any
        return {str(k): _convert(val_tp, v, f"{key}.{k}", lines) for k, v in value.items()}
    return _scalar(tp, value, key, lines)


def _scalar(tp: Any, value: Any, key: str, lines: KeyLines) -> Any:
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):  # TOML and env values may spell nan and inf
                raise _fail(key, lines, f"must be a finite number, got {value!r}")
            return float(value)
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is bool or tp is str:
        if type(value) is tp:
            return value
    elif isinstance(tp, type):
        if isinstance(value, tp):
            return value
    else:
        return value
    name = getattr(tp, "__name__", str(tp))
    shown = redacted(value, key.rsplit(".", 1)[-1])  # a secret-named value shows as ***
    raise _fail(key, lines, f"expected {name}, got {type(value).__name__} {shown!r}")

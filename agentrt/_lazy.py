"""Lazy re-exports for package ``__init__`` modules (PEP 562 module ``__getattr__``).

A package lists the names it hands on lazily and the module that defines each; the
module is imported on first access of one of its names, and the value is then cached in
the package, so later accesses cost a plain attribute lookup. Importing the package
therefore costs only its eager imports: ``import agentrt`` loads no layer, and
``import agentrt.memory`` loads neither redis nor sqlite3 until ``RedisStore`` or
``SQLiteStore`` is used. Example (in a package ``__init__``)::

    if TYPE_CHECKING:  # type checkers and IDEs see an eager import
        from agentrt.memory.stores import RedisStore
    else:
        __getattr__, __dir__ = lazy_exports(__name__, {"RedisStore": "agentrt.memory.stores"})

An unknown name raises ``AttributeError`` as usual; an error raised while importing the
defining module (a missing optional dependency, say) propagates unchanged. A lazy name
must not equal a submodule's name: importing that submodule would bind the module to it.
"""

from __future__ import annotations

import importlib
import sys

# ``typing`` costs more than this whole module: the root package (and so every import of
# agentrt, and ``agentrt --help``) must not pay for it. Type checkers read this as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

__all__ = ["TYPE_CHECKING", "lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` for ``package`` that hand on ``exports``
    (public name -> the module that defines it) on first access."""
    table = dict(exports)

    def __getattr__(name: str) -> Any:
        source = table.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__

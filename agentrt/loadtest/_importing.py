"""Importing the code a scenario names (``agents.class``, ``conversation.generator``).

``import_object("mymod:MyAgent", key="agents.class", near="scenarios/my.toml")`` imports
``mymod`` with the scenario's folder first on ``sys.path`` for that import only, so a
module sitting next to the scenario file is found without installing it or setting
``PYTHONPATH``. Errors are ``ConfigError`` naming the key.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentrt.errors import ConfigError

__all__ = ["import_object"]


def import_object(path: str, *, key: str, near: str | Path | None = None) -> Any:
    """The object at ``module:name`` (or ``module.name``); ConfigError names ``key``.

    ``near``: the scenario file; its folder is put first on ``sys.path`` for this import
    only (then removed), so ``class = "mymod:MyAgent"`` finds ``mymod.py`` next to the
    scenario. A module of that name already imported is reused as Python always does.
    """
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ConfigError(key, f"expected an import path 'module:name', got {path!r}")
    folder = str(Path(near).resolve().parent) if near else None
    try:
        with _on_path(folder):
            module = importlib.import_module(module_name)
    except ImportError as exc:
        where = f" (looked next to the scenario too: {folder})" if folder else ""
        raise ConfigError(key, f"cannot import {module_name!r}: {exc}{where}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(key, f"module {module_name!r} has no {attr!r}") from None


@contextlib.contextmanager
def _on_path(folder: str | None) -> Iterator[None]:
    """``folder`` first on ``sys.path`` while the block runs (nothing when None)."""
    if folder is None:
        yield
        return
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)

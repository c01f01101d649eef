"""Every public package lists its public names in ``__all__`` and they all exist."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import agentrt
import supervisors


def _packages() -> list[str]:
    names = ["agentrt", "supervisors"]
    for pkg in (agentrt, supervisors):
        prefix = pkg.__name__ + "."
        names.extend(m.name for m in pkgutil.walk_packages(pkg.__path__, prefix) if m.ispkg)
    return names


@pytest.mark.parametrize("name", _packages())
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(exported) == len(set(exported)), f"{name}.__all__ has duplicates"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing attributes: {missing}"


@pytest.mark.parametrize("name", _packages())
def test_public_names_are_exported(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and getattr(v, "__module__", "").startswith(name + ".")
        and not isinstance(v, type(module))
    }
    missing = sorted(public - set(module.__all__))
    assert not missing, f"{name} defines public names missing from __all__: {missing}"

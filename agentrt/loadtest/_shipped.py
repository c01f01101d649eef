"""The scenarios shipped with agentrt: ``agentrt/loadtest/scenarios/*.toml``.

They are package data, found with :mod:`importlib.resources`, so ``agentrt loadtest run
smoke`` finds them in an installed wheel as in a source checkout. A scenario's name is its
file's name without ``.toml`` (``smoke``, ``swarm_1k``, ``swarm_10k``, ``chaos``, ``soak``).

Example::

    scenario = load_scenario(shipped_scenario("smoke"))
    names = list(shipped_scenarios())  # ["chaos", "smoke", "soak", "swarm_10k", "swarm_1k"]
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from agentrt.errors import ConfigError

__all__ = ["shipped_scenario", "shipped_scenarios"]

_PACKAGE = "agentrt.loadtest"
_FOLDER = "scenarios"
_SUFFIX = ".toml"


def shipped_scenarios() -> dict[str, Traversable]:
    """Every shipped scenario file by name, sorted by name.

    Empty (never an error) when the package was installed without its data files, so a
    caller can say which scenario it wanted and that none are shipped.
    """
    folder = resources.files(_PACKAGE).joinpath(_FOLDER)
    if not folder.is_dir():
        return {}
    found = {
        entry.name.removesuffix(_SUFFIX): entry
        for entry in folder.iterdir()
        if entry.name.endswith(_SUFFIX) and entry.is_file()
    }
    return dict(sorted(found.items()))


def shipped_scenario(name: str) -> Traversable:
    """The shipped scenario file called ``name`` (``"smoke"``).

    Raises ``ConfigError`` naming ``name`` and listing the shipped scenarios when there is
    no such scenario.
    """
    shipped = shipped_scenarios()
    try:
        return shipped[name]
    except KeyError:
        known = list(shipped) or "none (the package's data files are missing)"
        raise ConfigError(name, f"no such shipped scenario; shipped: {known}") from None

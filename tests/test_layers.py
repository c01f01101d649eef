"""Layers import only layers below them (ARCHITECTURE.md, "The layers").

Each module's imports of ``agentrt``/``supervisors`` are read with ``ast`` (including
imports inside functions and ``TYPE_CHECKING`` blocks) and checked against the table.
A new subpackage must be added to the table, which is the point: it makes the layering
a decision.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_BASE = {
    "agentrt._cancel",
    "agentrt._lazy",
    "agentrt._version",
    "agentrt.errors",
    "agentrt.messages",
    "agentrt.bounds",
    "agentrt._configfile",
    "agentrt._configlayers",
    "agentrt.tokens",
    "agentrt.redact",
    "agentrt._secret",
    "agentrt.deadline",
}
_LAYERS = {"agentrt.llm", "agentrt.memory", "agentrt.tools", "agentrt.telemetry"}
# layer -> the layers (module prefixes) it may import, besides itself.
ALLOWED: dict[str, set[str]] = {
    "agentrt._lazy": set(),  # lazy re-exports for package __init__ modules
    "agentrt._cancel": set(),  # stopping background tasks
    "agentrt._version": set(),
    "agentrt.errors": {"agentrt.redact"},
    "agentrt.redact": set(),
    "agentrt._secret": {"agentrt.errors", "agentrt.redact"},
    "agentrt.deadline": set(),
    "agentrt.messages": {"agentrt.errors"},
    "agentrt.bounds": {"agentrt.errors"},
    "agentrt._configfile": {"agentrt.errors", "agentrt.bounds", "agentrt.redact"},
    "agentrt._configlayers": {"agentrt.errors", "agentrt.bounds", "agentrt._configfile"},
    "agentrt.tokens": {"agentrt.errors", "agentrt.messages"},
    "agentrt.actor": _BASE,
    "supervisors": _BASE | {"agentrt.actor"},
    "agentrt.telemetry": _BASE,
    "agentrt.llm": _BASE | {"agentrt.telemetry"},
    "agentrt.memory": _BASE | {"agentrt.telemetry"},
    "agentrt.tools": _BASE | {"agentrt.telemetry", "agentrt.actor", "supervisors"},
    "agentrt.cluster": _BASE | {"agentrt.memory", "agentrt.telemetry"},
    "agentrt.testing": _BASE | _LAYERS | {"agentrt.actor", "supervisors"},
    "agentrt.agent": _BASE | _LAYERS | {"agentrt.actor", "supervisors", "agentrt.testing"},
    "agentrt.runtime": _BASE
    | _LAYERS
    | {"agentrt.actor", "supervisors", "agentrt.agent", "agentrt.testing", "agentrt.cluster"},
    # framework bridges: agents (hence everything below them) that run another framework
    "agentrt.bridges": _BASE | _LAYERS | {"agentrt.actor", "supervisors", "agentrt.agent"},
    # the HTTP front door: names agents by id through the runtime, never below it
    "agentrt.serve": _BASE
    | _LAYERS
    | {"agentrt.actor", "supervisors", "agentrt.agent", "agentrt.runtime"},
    "agentrt.loadtest": {"agentrt", "supervisors"},
    "agentrt.cli": {"agentrt", "supervisors"},
    "agentrt": {"agentrt", "supervisors"},  # the package root re-exports the public surface
}


def _layer_of(module: str) -> str:
    best = ""
    for layer in ALLOWED:
        if (module == layer or module.startswith(layer + ".")) and len(layer) > len(best):
            best = layer
    if not best:
        raise AssertionError(f"{module} belongs to no layer: add it to tests/test_layers.py")
    return best


def _modules() -> list[tuple[str, Path]]:
    out = []
    for pkg in ("agentrt", "supervisors"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            out.append((".".join(parts), path))
    return out


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
    return {n for n in found if n.split(".")[0] in ("agentrt", "supervisors")}


@pytest.mark.parametrize(("module", "path"), _modules(), ids=lambda v: str(v))
def test_layer_imports(module: str, path: Path) -> None:
    layer = _layer_of(module)
    allowed = ALLOWED[layer] | {layer}
    bad = sorted(
        imp
        for imp in _imports(module, path)
        if not any(imp == a or imp.startswith(a + ".") for a in allowed)
    )
    assert not bad, f"{module} (layer {layer}) imports {bad}; allowed: {sorted(allowed)}"

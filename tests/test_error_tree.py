"""The exception tree drawn in ``agentrt/errors.py``'s docstring is the real one.

Every exception class defined in ``agentrt/`` and ``supervisors/`` derives from
``AgentRTError`` and is drawn in the tree under its real parent, with the builtins it
also subclasses in brackets; the tree names no class that does not exist. The only
exceptions outside the tree are the private control-flow signals in ``PRIVATE``, each
with the reason it never reaches a user.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass

import agentrt
import agentrt.errors
import supervisors
from agentrt.errors import AgentRTError

#: Private exceptions: raised and caught inside one module, never seen by a caller.
PRIVATE = {
    "agentrt.actor._calls._Expired": "a call's timer fired; the call raises CallTimeout",
    "agentrt.actor._scheduler._ExitNow": "unwinds an actor's task on kill (a BaseException)",
    "agentrt.llm._batching._LeaderGone": "a coalesced request's leader left; a follower retries",
    "agentrt.runtime._endpoint._BadParameter": "a bad query parameter; the endpoint answers 400",
    "agentrt.runtime._directory._Relocated": (
        "a cluster agent left its node mid-delivery; the turn router delivers the turn again"
    ),
    "agentrt.serve._wire._Refused": "a request refused; the server answers OpenAI's error",
    "agentrt.tools._resource._Crash": "the resource thread's crash; raised as ResourceBroken",
    "supervisors._base._StartFailed": "a child's start failed; the supervisor raises or reports",
}

_LINE = re.compile(
    r"^(?P<glyphs>[\s│├└─]*)(?P<names>[A-Z]\w*(?:, [A-Z]\w*)*)(?: \((?P<bases>[\w, ]+)\))?"
)


@dataclass(frozen=True)
class Drawn:
    parent: str | None
    builtins: frozenset[str]


def drawn_tree() -> dict[str, Drawn]:
    """Class name -> its parent and bracketed builtins, as the docstring draws them."""
    doc = agentrt.errors.__doc__ or ""
    block = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    tree: dict[str, Drawn] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        match = _LINE.match(line)
        assert match, f"unreadable tree line: {line!r}"
        depth = len(match["glyphs"])
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1] if stack else None
        bases = frozenset(b.strip() for b in (match["bases"] or "").split(",") if b.strip())
        names = match["names"].split(", ")
        for name in names:
            assert name not in tree, f"{name} drawn twice"
            tree[name] = Drawn(parent, bases)
        stack.append((depth, names[-1]))
    return tree


def defined_exceptions() -> dict[str, type[BaseException]]:
    """Dotted name -> every exception class defined in agentrt/ and supervisors/."""
    found: dict[str, type[BaseException]] = {}
    for pkg in (agentrt, supervisors):
        names = [pkg.__name__]
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
        for name in names:
            if name.endswith("__main__"):
                continue
            for attr, value in vars(importlib.import_module(name)).items():
                if (
                    inspect.isclass(value)
                    and issubclass(value, BaseException)
                    and value.__module__ == name
                ):
                    found[f"{name}.{attr}"] = value
    return found


def test_the_tree_parses_and_has_one_root() -> None:
    tree = drawn_tree()
    roots = [name for name, node in tree.items() if node.parent is None]
    assert roots == ["AgentRTError"]
    assert len(tree) > 60  # the whole tree, not the first branches only


def test_every_public_exception_is_drawn_under_its_real_parent() -> None:
    tree = drawn_tree()
    problems = []
    for dotted, cls in defined_exceptions().items():
        if cls.__name__.startswith("_") or cls is AgentRTError:
            continue
        if not issubclass(cls, AgentRTError):
            problems.append(f"{dotted} does not derive from AgentRTError")
            continue
        node = tree.get(cls.__name__)
        if node is None:
            problems.append(f"{dotted} is not drawn in agentrt/errors.py's tree")
            continue
        ours = [b.__name__ for b in cls.__bases__ if issubclass(b, AgentRTError)]
        if ours != [node.parent]:
            problems.append(f"{dotted}: drawn under {node.parent}, derives from {ours}")
        builtins = {b.__name__ for b in cls.__bases__ if not issubclass(b, AgentRTError)}
        if builtins - {"Exception"} != node.builtins:
            problems.append(f"{dotted}: drawn with {sorted(node.builtins)}, has {builtins}")
    assert not problems, "\n".join(problems)


def test_the_tree_names_only_real_classes() -> None:
    real = {cls.__name__ for cls in defined_exceptions().values()}
    assert set(drawn_tree()) - real == set()


def test_private_exceptions_are_the_documented_ones() -> None:
    private = {d for d, cls in defined_exceptions().items() if cls.__name__.startswith("_")}
    assert private == set(PRIVATE)
    leaked = [d for d in private if issubclass(defined_exceptions()[d], AgentRTError)]
    assert not leaked

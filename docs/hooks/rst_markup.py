"""A griffe extension for the API reference: the docstrings' reStructuredText markup as
Markdown.

agentrt's docstrings use a little reST: roles (``:func:`run```, ``:class:`~x.Node```) and
literal blocks introduced by ``::`` (``Example::`` then an indented block). mkdocstrings
renders docstrings as Markdown, where a role would show as ``:func:`` text and ``::`` as
two colons. This extension rewrites both when griffe loads an object: a role becomes inline
code of its target's last name part when written with ``~``, else of the whole target;
``Example::`` becomes ``Example:`` (the indented block after it already is a Markdown code
block). The sources are not changed.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|exc|data|obj|const):`(~?)([^`]+)`")
_LITERAL = re.compile(r"(?<=\S)::$", re.MULTILINE)  # "Example::" at the end of a line


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def to_markdown(text: str) -> str:
    """``text`` with reST roles as inline code and ``Name::`` as ``Name:``."""
    return _LITERAL.sub(":", _ROLE.sub(_role, text))


class RstMarkup(griffe.Extension):
    """Rewrite each docstring once, as griffe creates its object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)

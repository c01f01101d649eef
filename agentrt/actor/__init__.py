"""The actor core: nodes, actors, refs, mailboxes, links, monitors, registry, timers."""

from __future__ import annotations

__all__: list[str] = []

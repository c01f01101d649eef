"""Cache keys: which tool, which arguments, who may see the result.

A key is ``"{namespace}:tool:{tool}:{digest}"`` where the digest is a 128-bit BLAKE2b of the
tool name, the scope (with the agent or tenant id it is private to) and the canonical JSON
of the validated arguments. The namespace separates runtimes sharing one Redis; the tool
name stays readable (for operators), the principal does not (it is only hashed). An
``agent``-scoped key without an agent id raises :class:`~agentrt.tools.CacheScopeError`:
a private result is never silently shared.

Example::

    tool_key("rt1", "weather", b'{"city":"Paris"}', scope="agent", agent_id="a-7")
    # 'rt1:tool:weather:3f0c...'
"""

from __future__ import annotations

from hashlib import blake2b

from agentrt.tools._errors import CacheScopeError
from agentrt.tools._policy import CacheScope

__all__ = ["tool_key", "tool_tag"]

_SEP = b"\x00"


def _digest(*parts: bytes) -> str:
    return blake2b(_SEP.join(parts), digest_size=16).hexdigest()


def _principal(scope: CacheScope, agent_id: str | None, tenant_id: str | None) -> bytes:
    if scope == "shared":
        return b"s"
    if scope == "agent":
        if not agent_id:
            raise CacheScopeError("agent", "agent_id")
        return b"a:" + agent_id.encode()
    if scope == "tenant":
        if not tenant_id:
            raise CacheScopeError("tenant", "tenant_id")
        return b"t:" + tenant_id.encode()
    raise CacheScopeError(str(scope), "a known scope (shared, agent, tenant)")


def tool_key(
    namespace: str,
    tool: str,
    arguments: bytes,
    *,
    scope: CacheScope = "shared",
    agent_id: str | None = None,
    tenant_id: str | None = None,
) -> str:
    """The key of one tool result. ``arguments`` is the canonical JSON of the validated
    arguments (:meth:`Tool.canonical_arguments`)."""
    principal = _principal(scope, agent_id, tenant_id)
    return f"{namespace}:tool:{tool}:{_digest(tool.encode(), principal, arguments)}"


def tool_tag(tool: str) -> str:
    """The tag every cached result of ``tool`` carries (invalidation by tool)."""
    return f"tool:{tool}"

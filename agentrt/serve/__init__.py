"""``agentrt serve``: a runtime's agents behind an OpenAI-compatible HTTP API.

``Server(rt, ServeConfig(...))`` serves ``POST /v1/chat/completions`` (JSON and SSE
streaming, in OpenAI's wire format) and ``GET /v1/models``; ``server.expose(name, Cls)``
makes ``model=name`` an agent class (one agent per conversation, activated on demand),
``server.expose(name, "agent-id")`` a named agent. docs/serve.md has the whole story.

Example::

    async with agentrt.Runtime() as rt:
        server = Server(rt, ServeConfig(port=8000))
        server.expose("support", Support)
        async with server:
            ...  # openai.OpenAI(base_url=server.url, api_key="-").chat.completions...
"""

from __future__ import annotations

from agentrt.serve._config import RateLimit, ServeConfig, Tenant
from agentrt.serve._server import Server

__all__ = ["RateLimit", "ServeConfig", "Server", "Tenant"]

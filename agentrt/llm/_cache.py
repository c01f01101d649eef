"""The response-cache seam of the pool.

The pool does not cache by itself; give it any object with the two methods of
:class:`ResponseCache` (the tools layer provides real ones). By default only
deterministic requests (``temperature == 0``) consult the cache: ``get`` before sending,
``put`` after a successful answer. A cache that raises never fails the request: the error
is counted in ``pool.stats()["cache_errors"]`` and the request goes to the provider.

Example (a dict-backed cache, fine for a test)::

    class DictCache:
        def __init__(self):
            self.data = {}

        async def get(self, request):
            return self.data.get(request_key(request))

        async def put(self, request, response):
            self.data[request_key(request)] = response

    pool = LLMPool(config, response_cache=DictCache())
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from agentrt.llm._types import ChatRequest, ChatResponse

__all__ = ["ResponseCache"]


@runtime_checkable
class ResponseCache(Protocol):
    """Anything with async ``get(request)`` and ``put(request, response)``."""

    async def get(self, request: ChatRequest) -> ChatResponse | None:
        """The cached answer to ``request``, or None."""
        ...

    async def put(self, request: ChatRequest, response: ChatResponse) -> None:
        """Remember ``response`` as the answer to ``request``."""
        ...

"""Structured outputs: a reply's JSON checked against the request's JSON schema.

:class:`SchemaValidators` compiles each schema once (fastjsonschema turns a schema into a
Python function) and keeps at most ``max_schemas`` of them, least recently used dropped
first. :meth:`SchemaValidators.parse` decodes a reply's text and validates it, so the
caller gets ``ChatResponse.parsed``, or a :class:`MalformedResponse` naming the provider,
the model and what did not match. An invalid schema is the caller's mistake: it raises
:class:`InvalidRequest` before anything is sent.

Example::

    validators = SchemaValidators()
    validators.check(request)                    # InvalidRequest for a bad schema
    response = validators.parse(request, response)
    response.parsed  # {"city": "Oslo", ...}
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import fastjsonschema
import msgspec

from agentrt.llm._errors import InvalidRequest, MalformedResponse
from agentrt.llm._types import ChatRequest, ChatResponse, JsonSchemaFormat

__all__ = ["SchemaValidators"]

_key = msgspec.json.Encoder(order="sorted")


class SchemaValidators:
    """Compiled JSON-schema validators, bounded (see module doc)."""

    def __init__(self, max_schemas: int = 256) -> None:
        self.max_schemas = max_schemas
        self._validators: OrderedDict[bytes, Callable[[Any], Any]] = OrderedDict()
        self.compiled = 0

    def __len__(self) -> int:
        return len(self._validators)

    def _validator(self, fmt: JsonSchemaFormat) -> Callable[[Any], Any]:
        key = _key.encode(fmt.schema)
        validator = self._validators.get(key)
        if validator is not None:
            self._validators.move_to_end(key)
            return validator
        try:
            validator = fastjsonschema.compile(fmt.schema)
        except (fastjsonschema.JsonSchemaDefinitionException, TypeError, ValueError) as exc:
            problem = f"not a valid JSON schema: {exc}"
            raise InvalidRequest("response_format.schema", problem) from None
        self.compiled += 1
        self._validators[key] = validator
        if len(self._validators) > self.max_schemas:
            self._validators.popitem(last=False)
        return validator

    def check(self, request: ChatRequest) -> None:
        """Raise InvalidRequest when the request's schema is not a valid JSON schema."""
        if request.response_format is not None:
            self._validator(request.response_format)

    def parse(self, request: ChatRequest, response: ChatResponse) -> ChatResponse:
        """``response`` with ``parsed`` set from its JSON text (unchanged without a
        ``response_format``, or for a tool-call answer)."""
        fmt = request.response_format
        if fmt is None or response.tool_calls:
            return response
        model = response.model or request.model
        try:
            value = json.loads(response.content)
        except ValueError as exc:
            problem = f"reply to response_format {fmt.name!r} is not JSON: {exc}"
            raise MalformedResponse(response.provider, problem, model=model) from None
        try:
            self._validator(fmt)(value)
        except fastjsonschema.JsonSchemaValueException as exc:
            problem = f"reply does not match response_format {fmt.name!r}: {exc.message}"
            raise MalformedResponse(response.provider, problem, model=model) from None
        return msgspec.structs.replace(response, parsed=value)

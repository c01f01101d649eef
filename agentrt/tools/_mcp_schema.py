"""Validation of an MCP tool's arguments against the JSON schema its server lists (private).

:class:`SchemaValidator` checks with ``jsonschema`` (Draft 2020-12), without coercion (the
server validates again), and names every bad field the way a native tool's validator
does (``ArgumentProblem``s in one ``ToolArgumentError``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentrt.tools._errors import ArgumentProblem, ToolArgumentError
from agentrt.tools._validate import describe_schema, describe_value

__all__ = ["SchemaValidator", "compile_schema"]


def compile_schema(tool: str, schema: dict[str, Any]) -> SchemaValidator:
    """A validator for ``schema`` (already ``$ref``-free); ToolDefinitionError when it is
    not a valid JSON schema."""
    import jsonschema

    from agentrt.tools._errors import ToolDefinitionError

    try:
        validator = jsonschema.Draft202012Validator(schema)
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ToolDefinitionError(tool, f"invalid inputSchema: {exc.message}") from None
    return SchemaValidator(tool, schema, validator)


class SchemaValidator:
    """Validates an MCP tool's arguments against its JSON schema (no coercion: the
    server validates again), naming every bad field like a native tool's validator."""

    def __init__(self, tool: str, schema: dict[str, Any], validator: Any) -> None:
        self.tool = tool
        self.schema = schema
        self._validator = validator

    def validate(self, arguments: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        value: object = arguments
        if isinstance(value, str | bytes):
            import msgspec

            text = value
            try:
                value = msgspec.json.decode(text) if text.strip() else {}
            except msgspec.DecodeError as exc:
                given = describe_value(
                    text if isinstance(text, str) else text.decode("utf-8", "replace")
                )
                problem = ArgumentProblem("", f"valid JSON object text ({exc})", given)
                raise ToolArgumentError(self.tool, [problem]) from None
        if not isinstance(value, Mapping):
            problem = ArgumentProblem("", "a JSON object", describe_value(value))
            raise ToolArgumentError(self.tool, [problem])
        out = dict(value)
        problems = [_problem(e) for e in self._validator.iter_errors(out)]
        if problems:
            raise ToolArgumentError(self.tool, problems)
        return out


def _problem(error: Any) -> ArgumentProblem:
    path = ""
    for part in error.absolute_path:
        path = f"{path}[{part}]" if isinstance(part, int) else (f"{path}.{part}" if path else part)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        field_path = f"{path}.{missing}" if path else missing
        schema = error.schema.get("properties", {}).get(missing, {})
        return ArgumentProblem(field_path, describe_schema(schema), None)
    if error.validator == "additionalProperties":
        allowed = ", ".join(error.schema.get("properties", {})) or "(none)"
        extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
        field_path = ".".join(p for p in (path, ",".join(map(str, extra))) if p)
        return ArgumentProblem(field_path, allowed, describe_value(error.instance), unknown=True)
    return ArgumentProblem(path, _expected(error), describe_value(error.instance))


def _expected(error: Any) -> str:
    if error.validator in ("type", "enum", "const"):
        return describe_schema(error.schema)
    return f"{error.validator} {error.validator_value!r} ({error.message})"

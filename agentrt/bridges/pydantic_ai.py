"""pydantic-ai on agentrt: ``PydanticAIAgent`` runs a pydantic-ai ``Agent`` inside an
agentrt agent with the stored conversation as its message history; ``PoolModel`` is a
pydantic-ai ``Model`` whose requests go through the runtime's ``LLMPool``. Needs the
``bridge-pydantic-ai`` extra (``pydantic-ai-slim``).

Example::

    from pydantic_ai import Agent

    from agentrt.bridges.pydantic_ai import PoolModel, PydanticAIAgent


    class Forecaster(PydanticAIAgent):
        @classmethod
        def build(cls, model: PoolModel) -> Agent[None, str]:
            return Agent(model, instructions="Use the tool.", tools=[weather])


    async with agentrt.Runtime() as rt:
        await rt.spawn(Forecaster, id="f1")
        print((await rt.ask("f1", "Weather in Oslo?")).text)

**A turn** is ``agent.run(turn.text, message_history=<the conversation>)``; the answer is
``result.output`` (text, or the JSON of a structured ``output_type``). pydantic-ai's
``AgentRunError`` (``UnexpectedModelBehavior``, ``UsageLimitExceeded``...) fails the
turn (``TurnFailed``); its ``UserError`` (a bug) crashes the agent.

**Memory.** The message history is the agent's stored conversation: each turn passes
``build_context()`` (summary + the recent messages that fit ``context_tokens``, without the
agent's system prompt) as pydantic-ai messages, and appends ``result.new_messages()`` (the
user prompt, tool calls and returns, the answer) to the conversation. System prompts and
instructions stay pydantic-ai's: they are sent on every request, never stored. Text and
tool calls are bridged; images, files and thinking parts are not (a history holding them
raises ``InvalidArgument``; thinking parts are dropped).

**Model.** ``PoolModel.request`` turns the messages, instructions and tool definitions
(function and output tools; ``tool_choice="required"`` when text output is not allowed)
and the settings (``temperature``, ``max_tokens``, ``top_p``, ``seed``,
``stop_sequences``, ``parallel_tool_calls``) into an agentrt ``ChatRequest`` sent with
``LLMPool.chat``. ``request_stream`` (``agent.run_stream``) is not bridged; a turn sent
with ``rt.stream`` streams each model call from the pool all the same (``pool_chat``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic_ai import Agent as PAIAgent
from pydantic_ai.exceptions import AgentRunError
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    ModelResponsePart,
    SystemPromptPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models import _sendable_request_parts as sendable_parts
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage

from agentrt.agent import Turn
from agentrt.bridges._agent import BridgeAgent, BridgeResult, output_text
from agentrt.bridges._scope import pool_chat, resolve_model
from agentrt.bridges._wire import refuse, text_of
from agentrt.llm import ChatRequest, LLMPool, ToolSpec
from agentrt.messages import Message, ToolCall

__all__ = ["PoolModel", "PydanticAIAgent", "from_pydantic_ai", "to_pydantic_ai"]

_FINISH: dict[str, Any] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_call",
    "content_filter": "content_filter",
}


def to_pydantic_ai(messages: list[Message]) -> list[ModelMessage]:
    """Agentrt messages as pydantic-ai messages: consecutive user, system and tool-result
    messages form one ``ModelRequest``; an assistant message is a ``ModelResponse``."""
    out: list[ModelMessage] = []
    names: dict[str, str] = {}  # tool call id -> tool name, for the returns
    parts: list[ModelRequestPart] = []
    for message in messages:
        if message.role == "assistant":
            if parts:
                out.append(ModelRequest(parts=parts))
                parts = []
            answer: list[ModelResponsePart] = [TextPart(message.text)] if message.text else []
            for call in message.tool_calls:
                names[call.id] = call.name
                answer.append(ToolCallPart(call.name, call.arguments, tool_call_id=call.id))
            out.append(ModelResponse(parts=answer))
        elif message.role == "tool":
            call_id = message.tool_call_id or ""
            parts.append(ToolReturnPart(names.get(call_id, ""), message.text, tool_call_id=call_id))
        elif message.role == "system":
            parts.append(SystemPromptPart(message.text))
        else:
            parts.append(UserPromptPart(message.text))
    if parts:
        out.append(ModelRequest(parts=parts))
    return out


def _request_part(part: Any) -> Message:
    if isinstance(part, UserPromptPart):
        return Message.user(text_of(part.content, "UserPromptPart.content"))
    if isinstance(part, ToolReturnPart):
        return Message.tool_result(part.tool_call_id, part.model_response_str())
    if isinstance(part, SystemPromptPart):
        return Message.system(part.content)
    raise refuse("message", f"cannot bridge a {type(part).__name__}")


def from_pydantic_ai(messages: list[ModelMessage], *, system: bool = True) -> list[Message]:
    """pydantic-ai messages as agentrt messages (``system=False``: without their system
    prompt parts). Thinking parts are dropped; another non-text part raises
    ``InvalidArgument``."""
    out: list[Message] = []
    for message in messages:
        if isinstance(message, ModelResponse):
            texts, calls = [], []
            for part in message.parts:
                if isinstance(part, TextPart):
                    texts.append(part.content)
                elif isinstance(part, ToolCallPart):
                    args = part.args_as_json_str()
                    calls.append(ToolCall(part.tool_call_id, part.tool_name, args))
                elif not isinstance(part, ThinkingPart):
                    raise refuse("message", f"cannot bridge a {type(part).__name__}")
            out.append(Message.assistant("".join(texts), tool_calls=tuple(calls)))
            continue
        out.extend(
            _request_part(asked)
            for asked in sendable_parts(message.parts)
            if system or not isinstance(asked, SystemPromptPart)
        )
    return out


def _tool(definition: Any) -> ToolSpec:
    return ToolSpec(
        name=definition.name,
        description=definition.description or "",
        parameters=dict(definition.parameters_json_schema),
    )


class PoolModel(Model):
    """A pydantic-ai ``Model`` on an agentrt ``LLMPool`` (see the module docs).

    ``model``: the name sent to the pool (None: the bridge agent's ``model`` setting, else
    "mock"); ``pool``: None uses the running bridge turn's (``NotRunning`` outside one).
    """

    def __init__(self, model: str | None = None, *, pool: LLMPool | None = None) -> None:
        super().__init__()
        self._model = model
        self.pool = pool

    @property
    def model_name(self) -> str:
        return self._model or "agentrt-pool"

    @property
    def system(self) -> str:
        return "agentrt"

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        model_settings, params = self.prepare_request(model_settings, model_request_parameters)
        settings: dict[str, Any] = dict(model_settings or {})
        converted = from_pydantic_ai(messages)
        instructions = self._get_instruction_parts(messages, params) or []
        at = next((i for i, m in enumerate(converted) if m.role != "system"), len(converted))
        converted[at:at] = [Message.system(p.content) for p in instructions]
        tools = tuple(_tool(d) for d in params.declared_tool_defs.values())
        request = ChatRequest(
            model=resolve_model(self._model),
            messages=tuple(converted),
            tools=tools,
            tool_choice="required" if tools and not params.allow_text_output else None,
            temperature=settings.get("temperature"),
            top_p=settings.get("top_p"),
            max_tokens=settings.get("max_tokens"),
            seed=settings.get("seed"),
            stop=tuple(settings.get("stop_sequences") or ()),
            parallel_tool_calls=settings.get("parallel_tool_calls") if tools else None,
        )
        response = await pool_chat(request, self.pool)
        parts: list[ModelResponsePart] = [TextPart(response.content)] if response.content else []
        parts += [ToolCallPart(c.name, c.arguments, tool_call_id=c.id) for c in response.tool_calls]
        usage = response.usage
        return ModelResponse(
            parts=parts,
            usage=RequestUsage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens),
            model_name=response.model or self.model_name,
            provider_name=response.provider or self.system,
            finish_reason=_FINISH.get(response.finish_reason),
            provider_response_id=response.id or None,
        )


class PydanticAIAgent(BridgeAgent):
    """An agentrt agent that answers with a pydantic-ai ``Agent`` (see the module docs).
    Implement ``build(model)``."""

    turn_errors: ClassVar[tuple[type[Exception], ...]] = (AgentRunError,)

    @classmethod
    def make_model(cls, pool: LLMPool) -> PoolModel:
        return PoolModel(pool=pool)

    @classmethod
    def build(cls, model: PoolModel) -> PAIAgent[Any, Any]:
        """The pydantic-ai ``Agent`` this class runs, built on ``model``."""
        raise NotImplementedError(f"{cls.__qualname__} must implement build(model)")

    async def run_framework(self, turn: Turn, history: list[Message]) -> BridgeResult:
        agent: PAIAgent[Any, Any] = self.framework()
        result = await agent.run(turn.text, message_history=to_pydantic_ai(history) or None)
        new = from_pydantic_ai(result.new_messages(), system=False)
        if new and new[0].role == "user":
            del new[0]  # the turn's own message, stored already
        tools = sum(m.role == "tool" for m in new)
        return BridgeResult(output_text(result.output), new, tools)

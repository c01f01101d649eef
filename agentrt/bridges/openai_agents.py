"""The OpenAI Agents SDK on agentrt: ``OpenAIAgentsAgent`` runs an SDK ``Agent`` with
``Runner`` and a ``ConversationSession`` inside an agentrt agent; ``PoolModel`` (an SDK
``Model``) and ``PoolModelProvider`` (a ``ModelProvider``) send the SDK's model calls
through the runtime's ``LLMPool``. Needs the ``bridge-openai-agents`` extra
(``openai-agents``).

Example::

    from agents import Agent, function_tool

    from agentrt.bridges.openai_agents import OpenAIAgentsAgent, PoolModel


    class Forecaster(OpenAIAgentsAgent):
        @classmethod
        def build(cls, model: PoolModel) -> Agent[Any]:
            return Agent(name="forecaster", instructions="Use the tool.", model=model,
                         tools=[function_tool(weather)])


    async with agentrt.Runtime() as rt:
        await rt.spawn(Forecaster, id="f1")
        print((await rt.ask("f1", "Weather in Oslo?")).text)

**A turn** is ``Runner.run(agent, turn.text, session=ConversationSession(self),
max_turns=max_steps, run_config=self.run_config())``; the answer is ``str(final_output)``.
``run_config`` sets ``PoolModelProvider`` as the model provider (so agents that name a
model by string, handoffs included, also go through the pool) and turns the SDK's own
tracing off (``sdk_tracing = False``: it would upload traces to OpenAI; agentrt's
telemetry records the turn and every LLM call). The SDK's ``MaxTurnsExceeded`` and
``ModelBehaviorError`` fail the turn (``TurnFailed``); its ``UserError`` (a bug) crashes
the agent.

**Memory.** The session *is* the agent's stored conversation: ``get_items`` returns
``build_context()`` (summary + the recent messages that fit ``context_tokens``, without
the agent's system prompt) as Responses-format input items, ``add_items`` appends the
items the SDK saves (the user input, the model's tool calls, their outputs, the answer)
to the conversation. Conversations are append-only: ``pop_item`` and ``clear_session``
raise ``NotImplementedError``. Only text and function calls are bridged.

**Model.** ``PoolModel.get_response`` converts the SDK's input items with its own
``Converter`` (``items_to_messages``) into an agentrt ``ChatRequest`` (function tools,
handoffs, a JSON-schema ``output_type``, ``temperature``, ``max_tokens``,
``tool_choice``, ``parallel_tool_calls``) and the answer back into output items.
``stream_response`` (``Runner.run_streamed``) is not bridged: it raises
``NotImplementedError``; a turn sent with ``rt.stream`` streams each model call from the
pool all the same (``pool_chat``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from agents import (
    Agent as SDKAgent,
)
from agents import (
    AgentOutputSchemaBase,
    Handoff,
    MaxTurnsExceeded,
    Model,
    ModelBehaviorError,
    ModelProvider,
    ModelResponse,
    ModelSettings,
    ModelTracing,
    RunConfig,
    Runner,
    Tool,
    TResponseInputItem,
    Usage,
)
from agents.memory import SessionABC
from agents.models.chatcmpl_converter import Converter
from agents.stream_events import TResponseStreamEvent  # type: ignore[attr-defined]
from openai.types.chat import ChatCompletionMessage, ChatCompletionMessageFunctionToolCall
from openai.types.chat.chat_completion_message_function_tool_call import Function
from openai.types.responses.response_prompt_param import ResponsePromptParam

from agentrt.agent import Turn
from agentrt.bridges._agent import BridgeAgent, BridgeResult, output_text
from agentrt.bridges._scope import pool_chat, resolve_model
from agentrt.bridges._wire import message_from_openai, tool_spec_from_openai
from agentrt.llm import ChatRequest, ChatResponse, JsonSchemaFormat, LLMPool
from agentrt.messages import Message

__all__ = [
    "ConversationSession",
    "OpenAIAgentsAgent",
    "PoolModel",
    "PoolModelProvider",
    "items_to_messages",
    "messages_to_items",
]


def items_to_messages(items: str | list[TResponseInputItem]) -> list[Message]:
    """Responses-format input items as agentrt messages (through the SDK's converter)."""
    return [
        message_from_openai(dict(m), f"input[{i}]")
        for i, m in enumerate(Converter.items_to_messages(items))
    ]


def messages_to_items(messages: list[Message]) -> list[TResponseInputItem]:
    """Agentrt messages as Responses-format input items."""
    items: list[Any] = []
    for message in messages:
        if message.role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.tool_call_id,
                    "output": message.text,
                }
            )
            continue
        if message.text or not message.tool_calls:
            items.append({"role": message.role, "content": message.text})
        items.extend(
            {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments}
            for c in message.tool_calls
        )
    return items


def _output_items(response: ChatResponse) -> list[Any]:
    calls: list[Any] = [
        ChatCompletionMessageFunctionToolCall(
            id=c.id, type="function", function=Function(name=c.name, arguments=c.arguments)
        )
        for c in response.tool_calls
    ]
    message = ChatCompletionMessage(
        role="assistant", content=response.content or None, tool_calls=calls or None
    )
    return list(Converter.message_to_output_items(message))


def _tool_choice(choice: Any) -> str | None:
    if choice is None or isinstance(choice, str):
        return choice
    name = getattr(choice, "name", None)  # MCPToolChoice
    return name if isinstance(name, str) else None


class PoolModel(Model):
    """An Agents SDK ``Model`` on an agentrt ``LLMPool`` (see the module docs).

    ``model``: the name sent to the pool (None: the bridge agent's ``model`` setting, else
    "mock"); ``pool``: None uses the running bridge turn's (``NotRunning`` outside one).
    """

    def __init__(self, model: str | None = None, *, pool: LLMPool | None = None) -> None:
        self.model = model
        self.pool = pool

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: ResponsePromptParam | None = None,
    ) -> ModelResponse:
        messages = items_to_messages(input)
        if system_instructions:
            messages.insert(0, Message.system(system_instructions))
        offered = [Converter.tool_to_openai(t) for t in tools]
        offered += [Converter.convert_handoff_tool(h) for h in handoffs]
        response_format = None
        if output_schema is not None and not output_schema.is_plain_text():
            response_format = JsonSchemaFormat(
                name="final_output",
                schema=output_schema.json_schema(),
                strict=output_schema.is_strict_json_schema(),
            )
        request = ChatRequest(
            model=resolve_model(self.model),
            messages=tuple(messages),
            tools=tuple(tool_spec_from_openai(dict(t)) for t in offered),
            tool_choice=_tool_choice(model_settings.tool_choice) if offered else None,
            temperature=model_settings.temperature,
            top_p=model_settings.top_p,
            max_tokens=model_settings.max_tokens,
            parallel_tool_calls=model_settings.parallel_tool_calls if offered else None,
            response_format=response_format,
        )
        response = await pool_chat(request, self.pool)
        usage = response.usage
        return ModelResponse(
            output=_output_items(response),
            usage=Usage(
                requests=1,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                total_tokens=usage.total_tokens,
            ),
            response_id=None,
        )

    def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: ResponsePromptParam | None = None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        raise NotImplementedError("PoolModel does not stream: use Runner.run, not run_streamed")


class PoolModelProvider(ModelProvider):
    """Resolves every model name to a ``PoolModel`` on ``pool`` (None: the running
    bridge turn's), so ``RunConfig(model_provider=PoolModelProvider(rt.llm))`` puts an
    agent that names its model by string on the pool."""

    def __init__(self, pool: LLMPool | None = None) -> None:
        self.pool = pool

    def get_model(self, model_name: str | None) -> Model:
        return PoolModel(model_name, pool=self.pool)


class ConversationSession(SessionABC):
    """An Agents SDK session whose items are a bridge agent's stored conversation (see
    the module docs); ``session_id`` is the agent's id. ``tool_outputs`` counts the
    function-call outputs added so far."""

    def __init__(self, agent: BridgeAgent) -> None:
        self.agent = agent
        self.session_id = agent.id
        self.tool_outputs = 0

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The conversation's context as input items (the newest ``limit`` when given)."""
        items = messages_to_items(self.agent.framework_history())
        return items[-limit:] if limit else items

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append ``items`` to the conversation."""
        if not items:
            return
        self.tool_outputs += sum(
            isinstance(i, dict) and i.get("type") == "function_call_output" for i in items
        )
        await self.agent.remember(*items_to_messages(items))

    async def pop_item(self) -> TResponseInputItem | None:
        raise NotImplementedError("an agentrt conversation is append-only: pop_item")

    async def clear_session(self) -> None:
        raise NotImplementedError("an agentrt conversation is append-only: clear_session")


class OpenAIAgentsAgent(BridgeAgent):
    """An agentrt agent that answers with an Agents SDK ``Agent`` (see the module docs).
    Implement ``build(model)``; ``sdk_tracing`` (False) turns the SDK's tracing on."""

    sdk_tracing: ClassVar[bool] = False
    turn_errors = (MaxTurnsExceeded, ModelBehaviorError)
    stores_input = True  # the session saves the turn's input

    @classmethod
    def make_model(cls, pool: LLMPool) -> PoolModel:
        return PoolModel(pool=pool)

    @classmethod
    def build(cls, model: PoolModel) -> SDKAgent[Any]:
        """The SDK ``Agent`` this class runs, built on ``model``."""
        raise NotImplementedError(f"{cls.__qualname__} must implement build(model)")

    def run_config(self) -> RunConfig:
        """The ``RunConfig`` of each turn: the pool as model provider, the SDK's tracing
        off unless ``sdk_tracing``. Override to add guardrails, hooks, settings."""
        return RunConfig(
            model_provider=PoolModelProvider(self.ctx.services.llm),
            tracing_disabled=not self.sdk_tracing,
        )

    async def run_framework(self, turn: Turn, history: list[Message]) -> BridgeResult:
        session = ConversationSession(self)
        result = await Runner.run(
            self.framework(),
            turn.text,
            session=session,
            max_turns=self.max_steps,
            run_config=self.run_config(),
        )
        return BridgeResult(output_text(result.final_output), (), session.tool_outputs)

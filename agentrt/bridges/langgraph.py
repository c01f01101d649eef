"""LangGraph on agentrt: ``LangGraphAgent`` runs a compiled graph inside an agentrt agent,
``PoolChatModel`` is a LangChain chat model whose calls go through the runtime's
``LLMPool``. Needs the ``bridge-langgraph`` extra (``langgraph``, ``langchain-core``).

Example::

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent

    from agentrt.bridges.langgraph import LangGraphAgent, PoolChatModel


    class Forecaster(LangGraphAgent):
        @classmethod
        def build(cls, model: PoolChatModel) -> Any:
            return create_react_agent(
                model, [weather], prompt="Use the weather tool.", checkpointer=InMemorySaver()
            )


    async with agentrt.Runtime() as rt:
        await rt.spawn(Forecaster, id="f1")
        print((await rt.ask("f1", "Weather in Oslo?")).text)

**The graph.** ``build(model)`` returns a compiled graph whose state has a ``messages``
channel of LangChain messages (``MessagesState``, ``create_react_agent``, your own
``StateGraph``); it is built once per agent class and runtime and shared by its agents.
A turn invokes it with ``{"messages": [HumanMessage(turn.text)]}``; the answer is the
last message's text.

**Memory.** The agent's stored conversation is the durable record: every turn's user
message, the model's tool calls with their results and the answer are appended to it.
With a checkpointer, each agent is the thread ``thread_id = agent id``; the checkpoint is
the graph's working copy. When an agent starts (spawned, reactivated after passivation,
restarted after a crash) and its thread has no messages, the thread is seeded from the
conversation (``build_context()``: summary + the recent messages that fit
``context_tokens``); when it stops, the thread is deleted (``drop_thread_on_stop = True``,
the default, so an in-memory checkpointer holds only live agents). Set
``drop_thread_on_stop = False`` with a durable checkpointer whose other state channels you
want kept across restarts: the thread then wins over the conversation when both have
messages. Without a checkpointer the graph gets the conversation's context, then the new
message, on every turn.

**Model.** ``PoolChatModel`` implements ``BaseChatModel._agenerate`` and ``bind_tools``:
LangChain messages and tools become an agentrt ``ChatRequest`` sent with
``LLMPool.chat`` (so the swarm shares one pool, its limits, retries, breakers and
response cache) with the agent's id, deadline and tenant while a bridge turn runs. It is
asynchronous only: ``invoke`` (sync) raises ``NotImplementedError``. Text and tool calls
are bridged; images and other content blocks are refused (``InvalidArgument``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages import (
    ToolCall as LCToolCall,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic import ConfigDict

from agentrt.actor import ExitReason
from agentrt.agent import Turn
from agentrt.bridges._agent import BridgeAgent, BridgeResult
from agentrt.bridges._scope import pool_chat, resolve_model
from agentrt.bridges._wire import refuse, text_of, tool_spec_from_openai
from agentrt.llm import ChatRequest, LLMPool
from agentrt.messages import Message, ToolCall

__all__ = ["LangGraphAgent", "PoolChatModel", "from_langchain", "to_langchain"]

_log = logging.getLogger("agentrt.bridges")


def to_langchain(message: Message) -> BaseMessage:
    """An agentrt message as a LangChain message (text content only)."""
    text = message.text
    if message.role == "system":
        return SystemMessage(content=text)
    if message.role == "user":
        return HumanMessage(content=text, name=message.name)
    if message.role == "tool":
        status = "error" if message.is_error else "success"
        return ToolMessage(content=text, tool_call_id=message.tool_call_id or "", status=status)
    calls: list[LCToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in message.tool_calls:
        try:
            args = json.loads(call.arguments)
        except ValueError:
            args = None
        if isinstance(args, dict):
            calls.append(LCToolCall(name=call.name, args=args, id=call.id, type="tool_call"))
        else:
            invalid.append(
                InvalidToolCall(
                    name=call.name,
                    args=call.arguments,
                    id=call.id,
                    error="arguments are not a JSON object",
                    type="invalid_tool_call",
                )
            )
    return AIMessage(content=text, tool_calls=calls, invalid_tool_calls=invalid)


def from_langchain(message: BaseMessage) -> Message:
    """A LangChain message as an agentrt message (text content only: another content
    block raises ``InvalidArgument``)."""
    text = text_of(message.content, f"{type(message).__name__}.content")
    if isinstance(message, SystemMessage):
        return Message.system(text)
    if isinstance(message, HumanMessage):
        return Message.user(text, name=message.name)
    if isinstance(message, ToolMessage):
        return Message.tool_result(message.tool_call_id, text, is_error=message.status == "error")
    if isinstance(message, AIMessage):
        calls = [
            ToolCall(c.get("id") or "", c["name"], json.dumps(c["args"]))
            for c in message.tool_calls
        ]
        calls += [
            ToolCall(c.get("id") or "", c.get("name") or "", c.get("args") or "{}")
            for c in message.invalid_tool_calls
        ]
        return Message.assistant(text, tool_calls=tuple(calls))
    raise refuse("message", f"cannot bridge a {type(message).__name__}")


def _tool_choice(choice: Any) -> str | None:
    """LangChain's ``tool_choice`` ("any" means "required") as agentrt's."""
    if choice is None or isinstance(choice, str):
        return "required" if choice == "any" else choice
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        if isinstance(name, str):
            return name
    raise refuse("tool_choice", f"expected a string or a function choice, got {choice!r}")


class PoolChatModel(BaseChatModel):
    """A LangChain chat model on an agentrt ``LLMPool`` (asynchronous only).

    - ``pool``: the pool (None: the running bridge turn's, ``NotRunning`` outside one);
    - ``model``: the model name sent to the pool (None: the bridge agent's ``model``
      setting, else "mock").

    ``temperature``, ``max_tokens``, ``stop`` and bound ``tools``/``tool_choice`` are passed
    on; unset ones default to the bridge agent's settings. Errors are the pool's
    (``LLMError`` subclasses). ``PoolChatModel(pool=rt.llm).bind_tools([weather])``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pool: LLMPool | None = None
    model: str | None = None

    @property
    def _llm_type(self) -> str:
        return "agentrt-pool"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError("PoolChatModel is asynchronous only: use ainvoke/astream")

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = kwargs.get("tools") or ()
        request = ChatRequest(
            model=resolve_model(self.model),
            messages=tuple(from_langchain(m) for m in messages),
            tools=tuple(tool_spec_from_openai(t, f"tools[{i}]") for i, t in enumerate(tools)),
            tool_choice=_tool_choice(kwargs.get("tool_choice")),
            temperature=kwargs.get("temperature"),
            max_tokens=kwargs.get("max_tokens"),
            stop=tuple(stop or ()),
        )
        response = await pool_chat(request, self.pool)
        answer = to_langchain(response.message)
        usage = response.usage
        answer.usage_metadata = {  # type: ignore[attr-defined]
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
        }
        answer.response_metadata = {
            "finish_reason": response.finish_reason,
            "model_name": response.model,
            "provider": response.provider,
        }
        return ChatResult(generations=[ChatGeneration(message=answer)])

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer ``tools`` (LangChain tools, functions, pydantic models or OpenAI tool
        dicts) to the model on every call of the returned runnable."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)


class LangGraphAgent(BridgeAgent):
    """An agentrt agent that answers with a compiled LangGraph graph (see the module
    docs). Implement ``build(model)``; ``drop_thread_on_stop`` (True) deletes the
    agent's checkpointer thread when it stops."""

    drop_thread_on_stop: ClassVar[bool] = True
    _seeded: bool = False
    _saver: BaseCheckpointSaver[Any] | None = None  # the thread this incarnation used

    @classmethod
    def make_model(cls, pool: LLMPool) -> PoolChatModel:
        return PoolChatModel(pool=pool)

    @classmethod
    def build(cls, model: PoolChatModel) -> Any:
        """The compiled graph this class runs (``StateGraph(...).compile(...)`` or
        ``create_react_agent(model, tools, checkpointer=...)``), built on ``model``."""
        raise NotImplementedError(f"{cls.__qualname__} must implement build(model)")

    def thread(self) -> RunnableConfig:
        """The graph config of this agent's thread: ``thread_id`` is the agent's id."""
        return {"configurable": {"thread_id": self.id}}

    async def run_framework(self, turn: Turn, history: list[Message]) -> BridgeResult:
        graph = self.framework()
        user = HumanMessage(content=turn.text, name=turn.sender, id=uuid.uuid4().hex)
        if isinstance(graph.checkpointer, BaseCheckpointSaver):
            config = self.thread()
            if not self._seeded:
                self._saver = graph.checkpointer
                await self._seed(graph, config, history)
            inputs: list[BaseMessage] = [user]
        else:
            config = {}
            inputs = [*map(to_langchain, history), user]
        state = await graph.ainvoke({"messages": inputs}, config)
        out: list[BaseMessage] = state["messages"]
        start = next((i for i, m in enumerate(out) if m.id == user.id), None)
        if start is None:
            raise refuse("messages", "the graph's output lost the turn's message")
        new = out[start + 1 :]
        text = text_of(new[-1].content) if new else ""
        tools = sum(isinstance(m, ToolMessage) for m in new)
        return BridgeResult(text, [from_langchain(m) for m in new], tools)

    async def _seed(self, graph: Any, config: RunnableConfig, history: list[Message]) -> None:
        """A thread with no messages gets the conversation's (a restart, a passivation,
        an in-memory checkpointer that was emptied)."""
        self._seeded = True
        if not history:
            return
        snapshot = await graph.aget_state(config)
        if not snapshot.values.get("messages"):
            await graph.aupdate_state(config, {"messages": [to_langchain(m) for m in history]})

    async def terminate(self, reason: ExitReason) -> None:
        """Delete the agent's thread (``drop_thread_on_stop``; a checkpointer that fails
        to is logged, the thread is then seeded-over or kept), then the usual flush."""
        saver = self._saver
        try:
            if self.drop_thread_on_stop and saver is not None:
                await saver.adelete_thread(self.id)
        except Exception as exc:
            _log.warning("agent %r: could not delete its LangGraph thread: %r", self.id, exc)
        finally:
            await super().terminate(reason)

"""The root of agentrt's exception tree, and the whole tree.

Every error agentrt raises on purpose derives from :class:`AgentRTError`, and also from
the builtin it resembles, so that ``except TimeoutError`` keeps working. Each layer's
errors live next to the layer (the module in brackets)::

    AgentRTError
    ├── ConfigError (ValueError)                 invalid configuration, the key named
    ├── InvalidArgument (ValueError)             an argument's value is wrong, ``name`` named
    ├── ArgumentTypeError (TypeError)            an argument's type is wrong, ``name`` named
    ├── NotRunning (RuntimeError)                used before start or after close
    ├── ActorError                               [agentrt.actor._errors]
    │   ├── ActorDead (LookupError)              the actor is not alive (``reason``)
    │   ├── CallTimeout (TimeoutError)           no reply within the call's timeout
    │   ├── StopTimeout (TimeoutError)           the actor did not stop in time
    │   ├── MailboxFull                          its overflow policy refused the message
    │   ├── InitError                            ``init`` raised
    │   ├── Ignored                              ``init`` returned IGNORE
    │   ├── NameTaken (KeyError)                 the name is registered already
    │   ├── NodeClosed (RuntimeError)            the node is not running
    │   └── ActorDefinitionError (TypeError)     an Actor subclass defines a hook wrongly
    ├── SupervisorError                          [supervisors._errors]
    │   ├── StartChildError                      a child failed to start (``child_reason``)
    │   ├── AlreadyStarted, AlreadyPresent, ChildRunning
    │   ├── ChildNotFound (LookupError)
    │   └── MaxChildren                          a DynamicSupervisor is full
    ├── LLMError                                 [agentrt.llm._errors]
    │   ├── Overloaded                           the provider's wait queue is full
    │   ├── DeadlineExceeded (TimeoutError)      the caller's deadline passed
    │   ├── PoolClosed (RuntimeError)
    │   ├── InvalidRequest (ValueError)          a bad request object, before sending
    │   ├── LimitStateDamaged (ValueError)       a shared rate-limit key in Redis, named
    │   └── ProviderError                        what a provider answered (``provider``)
    │       ├── BadRequest (ValueError)
    │       │   └── ContextLengthExceeded        the prompt is over the model's context
    │       ├── AuthenticationError (PermissionError)
    │       ├── MalformedResponse (ValueError)
    │       │   └── ResponseTooLarge             the body passed the response limit
    │       ├── RateLimited                      429 (``retry_after``)
    │       ├── ProviderTimeout (TimeoutError)
    │       └── ProviderUnavailable (ConnectionError)
    │           └── CircuitOpen
    ├── BodyTooLarge (ValueError)                [agentrt.llm._transport] a transport's body limit
    ├── MessageError                             [agentrt.messages] the field named
    │   ├── MessageTypeError (TypeError)
    │   └── MessageValueError (ValueError)
    ├── ConversationError                        [agentrt.memory._errors]
    │   ├── CorruptSnapshot (ValueError)
    │   ├── UnknownDictionary (LookupError)
    │   ├── StoreError (ConnectionError)
    │   │   └── StaleWrite                       a fenced write's token is stale
    │   └── ConversationClosed (RuntimeError)
    ├── ClusterError                             [agentrt.cluster._errors]
    │   ├── ClusterUnavailable (ConnectionError) Redis failed during ``operation``
    │   ├── CorruptMembers (ValueError)          a damaged members record, ``field`` named
    │   ├── NotHere (LookupError)                an agent kept moving while being reached
    │   ├── NotServing (RuntimeError)            this node is not a live member now
    │   ├── RemoteError                          a call/cast failed at the agent's owner
    │   └── UnsupportedPayload (TypeError)       a message or reply that cannot cross nodes
    ├── ToolError                                [agentrt.tools._errors] (``tool``)
    │   ├── ToolDefinitionError (TypeError)
    │   ├── UnknownTool (LookupError)
    │   ├── ToolArgumentError (ValueError)       fields named
    │   ├── ToolTimeout (TimeoutError)
    │   ├── ToolBusy (RuntimeError)
    │   ├── ToolExecutionError (RuntimeError)    the tool raised (``__cause__``)
    │   ├── ToolResultError (TypeError)          its return value is not JSON-serializable
    │   ├── ResourceUnavailable (RuntimeError)
    │   │   └── MCPUnavailable                   an MCP server is down or restarting
    │   ├── ResourceBroken (RuntimeError)
    │   ├── MCPProtocolError (ValueError)        an MCP server answered malformed
    │   ├── MCPToolError (RuntimeError)          an MCP tool answered with isError
    │   ├── CacheScopeError (ValueError)
    │   ├── CacheEncodeError (TypeError)         a value to cache is not msgpack-serializable
    │   └── CacheBackendError (ConnectionError)
    │       ├── CacheDecodeError (ValueError)
    │       └── CacheValueTooLarge (ValueError)  a value over a backend's item limit
    ├── AgentError                               [agentrt.agent._errors] (``agent_id``)
    │   ├── TurnFailed                           ``cause`` says why
    │   │   └── AgentCrashed                     the agent crashed during the turn
    │   ├── TurnTimeout (TimeoutError)
    │   ├── AgentNotFound (LookupError)
    │   │   └── UnknownAgent                     no agent and no route for the id
    │   └── AgentExists
    ├── ServiceUnavailable (RuntimeError)        [agentrt.agent._errors] a runtime service
    ├── NotAnAgent (TypeError)                   [agentrt.agent._errors]
    ├── RedisServerError (RuntimeError)          [agentrt.testing._redis_server]
    ├── MemcachedServerError (RuntimeError)      [agentrt.testing._memcached_server]
    ├── MockLLMError (RuntimeError)              [agentrt.testing._llm] the server did not start
    ├── WireError (ValueError)                   [agentrt.llm._mockparts] the mock refused a request
    ├── RoundFailed (RuntimeError)               [agentrt.loadtest._rounds] a run wrote no report
    ├── ClusterRunError (RuntimeError)           [agentrt.loadtest._cluster_run] not started
    └── TopError                                 [agentrt.cli._top] the endpoint is unreadable

Errors carry context (which actor, which provider, which tool) as attributes as well as
in their message.
"""

from __future__ import annotations

from agentrt.redact import redact_text

__all__ = [
    "AgentRTError",
    "ArgumentTypeError",
    "ConfigError",
    "InvalidArgument",
    "NotRunning",
]


class AgentRTError(Exception):
    """Base class of every error agentrt raises deliberately."""


class ConfigError(AgentRTError, ValueError):
    """A configuration value is invalid; ``key`` names it (dotted path). URL passwords and
    tokens quoted in ``problem`` are masked (:func:`agentrt.redact.redact_text`)."""

    def __init__(self, key: str, problem: str) -> None:
        problem = redact_text(problem)
        super().__init__(f"invalid configuration {key!r}: {problem}")
        self.key = key
        self.problem = problem


class InvalidArgument(AgentRTError, ValueError):
    """An argument's value is invalid; ``name`` names the argument."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class ArgumentTypeError(AgentRTError, TypeError):
    """An argument has the wrong type; ``name`` names the argument."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class NotRunning(AgentRTError, RuntimeError):
    """Something was used before it started or after it closed; ``what`` names it."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what

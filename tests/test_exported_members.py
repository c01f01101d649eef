"""Every public package lists its public names in ``__all__``, they all exist, and the
surface is pinned: ``EXPECTED`` is the exact ``__all__`` of every package (httpx
``tests/test_exported_members.py``). Adding or removing a public name means editing this
list, the package's docs/api page and CHANGELOG.md in the same change."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import agentrt
import supervisors

# The promise: each package's exact public names (whitespace-separated, sorted loosely).
EXPECTED: dict[str, str] = {
    "agentrt": """
        __version__ Agent AgentCrashed AgentError AgentNotFound AgentRef AgentRTError
        CachePolicy ConfigError Message Reply run Runtime RuntimeConfig tool ToolCall
        ToolPolicy TurnFailed TurnTimeout
        Anthropic OpenAI PoolConfig ProviderConfig Secret UnknownAgent ImagePart TextPart
    """,
    "agentrt.actor": """
        Actor ActorDead ActorDefinitionError ActorError ActorInfo ActorRef
        BlockedEpisode Caller CallTimeout Continue Down Exit ExitReason IGNORE Ignored InitError
        is_crash is_shutdown KILLED LoopStats MailboxConfig MailboxFull MailboxStats
        MonitorRef NameTaken Node NodeClosed NodeConfig NodeStats NOPROC NOREPLY NORMAL
        Overflow Registry run SERVER_GC_THRESHOLDS SHUTDOWN Stop StopTimeout TimerRef
    """,
    "agentrt.agent": """
        Agent AgentContext AgentCrashed AgentError AgentExists AgentNotFound
        CONTEXT_SHRUNK_EVENT LLMSummarizer NotAnAgent Peers Reply Services
        ServiceUnavailable StreamSink Turn TURN_EVENT TurnError TurnFailed TurnTimeout
        UnknownAgent
    """,
    "agentrt.bridges": """
        BridgeAgent BridgeScope current_scope governed pool_chat
    """,
    "agentrt.cli": """
        build_parser command_help COMMANDS main
    """,
    "agentrt.llm": """
        Anthropic OpenAI DEFAULT_CONCURRENCY
        AiohttpTransport AuthenticationError Backend BadRequest BatchConfig BodyTooLarge
        BreakerConfig ByteSender CHAT_EVENT ChatRequest ChatResponse ChatStream
        ChunkSource CircuitOpen ContextLengthExceeded DeadlineExceeded EmbeddingResponse
        Endpoint estimate_tokens FinishReason HTTPBackend InvalidRequest
        JsonSchemaFormat LLMError LLMPool MalformedMode MalformedResponse MockLLMServer
        MockProvider MockServerConfig MockServerState Overloaded PoolClosed PoolConfig
        Priority ProviderConfig ProviderError ProviderKind ProviderTimeout
        ProviderUnavailable RateLimited request_key ResponseCache ResponseTooLarge
        RetryPolicy serve_mock_llm StreamChunk ToolSpec TransportKind Usage
        CACHE_DECODE_ERROR_EVENT ResponseCachePolicy response_cache_key
        SEMANTIC_DAMAGED_EVENT SEMANTIC_HIT_EVENT SEMANTIC_INDEX_EVENT SemanticCachePolicy
        SemanticIndex SemanticScope SemanticShare
        SharedLimits LimitStateDamaged SHARED_LIMIT_FALLBACK_EVENT SHARED_LIMIT_RESTORED_EVENT
    """,
    "agentrt.llm.providers": """
        MockProvider
    """,
    "agentrt.cluster": """
        Claim ClusterConfig ClusterError ClusterKeys ClusterNode ClusterScripts ClusterStats
        ClusterUnavailable CorruptMembers Host Joined Member MembersView Membership
        MembershipStats NotHere NotServing Owner RemoteError Status UnsupportedPayload Updated
    """,
    "agentrt.loadtest": """
        compare_table load_report load_scenario LoadAgent run_scenario RunOutcome
        Scenario shipped_scenario shipped_scenarios Threshold write_reports
    """,
    "agentrt.memory": """
        ChunkMeta Conversation ConversationClosed ConversationConfig ConversationError
        ConversationStats CorruptSnapshot DictionaryConfig DictionaryRegistry Durability
        DurabilityConfig estimate_tokens Fence MemoryStore QUARANTINE_EVENT Quarantined
        RedisStore SQLiteStore StaleWrite Store StoreError Summarizer Summary SummaryConfig
        TokenEstimator UnknownDictionary list_conversations
    """,
    "agentrt.memory.stores": """
        Fence MemoryStore RedisStore SQLiteStore Store
    """,
    "agentrt.runtime": """
        Route Routes
        AgentRef AgentsConfig CacheConfig EndpointConfig IntrospectionEndpoint Runtime
        RuntimeConfig StoreConfig SummarizerConfig SupervisionStats TelemetryConfig
        TurnStats TurnStream
    """,
    "agentrt.serve": """
        RateLimit ServeConfig Server Tenant
    """,
    "agentrt.telemetry": """
        AgentStats Event Events Handler LogHistogram METRIC_ATTRIBUTES metric_views
        MetricsExporter OTelConfig OTelSession Span Targets TargetStatus Telemetry
        TOP_KEYS TracesExporter UsageRecorder WindowedHistogram Alert Alerts AlertsConfig
        WebhookSink JsonFormatter LogContextFilter configure_logging
        ClusterTotals ClusterView NodeStats STATS_DAMAGED
    """,
    "agentrt.testing": """
        FlakyStore InMemoryMetricExporter InMemoryOTel MemcachedServer MemcachedServerError
        memcached_answers MockLLMError MockLLMProcess
        MockProvider MockServerConfig redis_answers RedisServer RedisServerError
        ScriptedSummarizer serve_mock_llm
    """,
    "agentrt.tools": """
        ArgumentProblem CacheBackend CacheBackendError CacheDecodeError CacheEncodeError
        CachePolicy CacheScope CacheScopeError CacheValueTooLarge Entry ErrorKind
        LLMResponseCache Lookup MCPProtocolError MCPToolError MCPTools MCPUnavailable
        MemcachedBackend MemcachedCacheConfig MemoryBackend
        MemoryCacheConfig Outcome RedisBackend RedisCacheConfig
        ResourceBroken ResourceExecutor ResourceState ResourceUnavailable ResultCache
        Tool tool TOOL_EVENT ToolArgumentError ToolBusy ToolDefinitionError ToolError
        ToolExecutionError ToolPolicy ToolRegistry ToolResult ToolResultError
        ToolTimeout TwoLevelBackend TwoLevelConfig UnknownTool
    """,
    "agentrt.tools.cache": """
        CacheBackend Entry LLMResponseCache Lookup MemcachedBackend MemcachedCacheConfig
        MemoryBackend MemoryCacheConfig
        Outcome RedisBackend RedisCacheConfig RedisSemanticStore ResultCache TwoLevelBackend
        TwoLevelConfig VectorSearch redis_vector_search
    """,
    "supervisors": """
        AlreadyPresent AlreadyStarted ChildCounts ChildInfo ChildNotFound ChildRunning
        ChildSpec ChildType DynamicSupervisor MaxChildren pykka_ref PykkaChild
        ReportHook ReportKind Restart RestartBackoff Shutdown StartChildError StartFn
        Strategy Supervisor SupervisorError SupervisorReport SupervisorStats TaskChild
    """,
}


def _packages() -> list[str]:
    names = ["agentrt", "supervisors"]
    for pkg in (agentrt, supervisors):
        prefix = pkg.__name__ + "."
        names.extend(m.name for m in pkgutil.walk_packages(pkg.__path__, prefix) if m.ispkg)
    return names


@pytest.mark.parametrize("name", _packages())
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(exported) == len(set(exported)), f"{name}.__all__ has duplicates"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing attributes: {missing}"


@pytest.mark.parametrize("name", _packages())
def test_public_names_are_exported(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and getattr(v, "__module__", "").startswith(name + ".")
        and not isinstance(v, type(module))
    }
    missing = sorted(public - set(module.__all__))
    assert not missing, f"{name} defines public names missing from __all__: {missing}"


def test_every_package_is_pinned() -> None:
    assert sorted(_packages()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exported_members_are_pinned(name: str) -> None:
    exported = set(importlib.import_module(name).__all__)
    expected = set(EXPECTED[name].split())
    assert exported == expected, (
        f"{name}.__all__: added {sorted(exported - expected)}, "
        f"removed {sorted(expected - exported)}"
    )


def test_internals_are_not_exported() -> None:
    """The helpers issue 16 named as internal stay out of every ``__all__``."""
    internal = {
        "AgentSlot", "LooseSlots", "SlotBook", "TurnAccount", "Passivate", "Passivator",
        "TelemetryTicker", "MemoryTrimmer", "Service", "service_spec", "open_endpoint",
        "Mailboxes", "HttpxBytes", "read_response", "stable_hash", "build_app",
        "completion_body", "stream_events", "prompt_tokens", "AgentStatsTable",
    }  # fmt: skip
    leaked = {n: sorted(internal & set(EXPECTED[n].split())) for n in EXPECTED}
    assert not any(leaked.values()), leaked

"""``MCPTools``: the configuration of one MCP server an agent's tools come from (private;
the behaviour is in :mod:`agentrt.tools._mcp`)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Literal

from agentrt._secret import Secret
from agentrt.errors import ConfigError
from agentrt.redact import redact_text
from agentrt.tools._mcp_client import check_headers
from agentrt.tools._policy import ToolPolicy

__all__ = ["BAD_CHARS", "MCPTools"]

_SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
#: characters a tool name may not hold (replaced by ``_`` in MCP tool names)
BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class MCPTools:
    """One MCP server whose tools an agent may call (see the module docstring).

    - ``name``: the server's name (``[A-Za-z0-9_-]{1,32}``), in errors, stats and the
      default tool-name prefix.
    - ``command``: the program and its arguments, for stdio (agentrt starts it); ``env``
      (merged over the MCP SDK's safe default environment) and ``cwd`` go with it.
    - ``url``: the HTTP endpoint (``http://`` or ``https://``). Give exactly one of
      ``command`` and ``url``.
    - ``transport``: ``"stdio"`` (the default with ``command``), ``"streamable-http"``
      (the default with ``url``) or ``"sse"`` (the legacy HTTP+SSE transport; ``url`` is
      then the SSE endpoint, e.g. ``http://host:8000/sse``).
    - ``headers``: HTTP headers for a URL server (auth); values are secrets, ``${VAR}``
      is expanded from the environment at connect time (see the module docstring).
    - ``prefix``: prepended to each tool name (default ``"<name>_"``; ``""`` for none).
    - ``policy``: the :class:`ToolPolicy` of every tool of the server (default
      ``ToolPolicy()``); ``policies`` overrides it per (unprefixed) tool name.
    - ``include``: only these (unprefixed) tool names; default all.
    - ``resources`` / ``prompts``: also offer the server's resources / prompts as tools
      (default False; :mod:`agentrt.tools._mcp_extras`).
    - ``connect_timeout``: seconds to connect and list tools, and for each health probe
      (default 10). ``health_interval``: seconds between probes (default 5).
    - ``max_restarts`` in ``max_seconds``: the supervisor's intensity (default 10 in 60 s).
    """

    name: str
    _: KW_ONLY
    command: tuple[str, ...] | None = None
    url: str | None = None
    transport: Literal["stdio", "streamable-http", "sse"] | None = None
    headers: Mapping[str, str | Secret] | None = field(default=None, repr=False)
    env: Mapping[str, str] | None = field(default=None, repr=False)
    cwd: str | None = None
    prefix: str | None = None
    policy: ToolPolicy = field(default_factory=ToolPolicy)
    policies: Mapping[str, ToolPolicy] = field(default_factory=dict)
    include: tuple[str, ...] | None = None
    resources: bool = False
    prompts: bool = False
    connect_timeout: float = 10.0
    health_interval: float = 5.0
    max_restarts: int = 10
    max_seconds: float = 60.0

    def __post_init__(self) -> None:
        for key in ("command", "include"):  # a list (e.g. from TOML) becomes a tuple
            value: object = getattr(self, key)
            if isinstance(value, list):
                object.__setattr__(self, key, tuple(value))
        self._check()

    def _check(self) -> None:
        where = f"mcp.{self.name}" if isinstance(self.name, str) else "mcp"
        if not isinstance(self.name, str) or not _SERVER_NAME.match(self.name):
            raise ConfigError("mcp.name", f"must match [A-Za-z0-9_-]{{1,32}}, got {self.name!r}")
        if (self.command is None) == (self.url is None):
            raise ConfigError(where, "give exactly one of command= (stdio) and url= (HTTP)")
        if self.command is not None and not (
            self.command and all(isinstance(c, str) and c for c in self.command)
        ):
            raise ConfigError(f"{where}.command", "must be a non-empty sequence of strings")
        if self.url is not None and not (
            isinstance(self.url, str) and self.url.startswith(("http://", "https://"))
        ):
            raise ConfigError(f"{where}.url", f"must be an http(s) URL, got {self.url!r}")
        stdio = self.command is not None
        if self.transport is not None and (self.transport == "stdio") != stdio:
            raise ConfigError(
                f"{where}.transport",
                f"{self.transport!r} does not go with {'command' if stdio else 'url'}=: "
                "stdio needs command=, streamable-http and sse need url=",
            )
        if self.headers is not None and stdio:
            raise ConfigError(f"{where}.headers", "only for a url= server (stdio has none)")
        check_headers(where, self.headers)
        if self.headers is not None:  # every value a Secret: *** in reprs, logs, config show
            secret = {k: v if isinstance(v, Secret) else Secret(v) for k, v in self.headers.items()}
            object.__setattr__(self, "headers", secret)
        for key in ("resources", "prompts"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(
                    f"{where}.{key}", f"must be true or false: {getattr(self, key)!r}"
                )
        if self.prefix is not None and (
            not isinstance(self.prefix, str) or BAD_CHARS.search(self.prefix)
        ):
            raise ConfigError(f"{where}.prefix", f"must be [A-Za-z0-9_-]*, got {self.prefix!r}")
        if not isinstance(self.policy, ToolPolicy):
            raise ConfigError(f"{where}.policy", f"must be a ToolPolicy, got {self.policy!r}")
        for tool, policy in self.policies.items():
            if not isinstance(policy, ToolPolicy):
                raise ConfigError(f"{where}.policies.{tool}", f"must be a ToolPolicy: {policy!r}")
        for key in ("connect_timeout", "health_interval", "max_seconds"):
            value = getattr(self, key)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{where}.{key}", f"must be a positive number, got {value!r}")
        if not isinstance(self.max_restarts, int) or self.max_restarts < 0:
            raise ConfigError(
                f"{where}.max_restarts", f"must be an integer >= 0: {self.max_restarts!r}"
            )

    @property
    def tool_prefix(self) -> str:
        """What is prepended to the server's tool names."""
        return f"{self.name}_" if self.prefix is None else self.prefix

    @property
    def target(self) -> str:
        """The server, for logs: its URL (credentials redacted) or its command."""
        if self.url is not None:
            return redact_text(self.url)
        return " ".join(self.command or ())

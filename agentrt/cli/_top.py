"""``agentrt top``: a live terminal view of a running runtime, like the BEAM's observer.

Connects to a runtime's introspection endpoint (``TelemetryConfig.endpoint``; the demo
exposes one with ``--endpoint-port``) and shows the node summary (uptime, agents, turns,
turn latency, memory operations, loop lag, LLM queue, cache, restarts, RSS, targets
with ✓/✗), then the agents sorted by ``--sort`` (highest first), refreshed every
``--interval`` seconds (1). ``--agent ID`` shows one agent in detail instead of the
table; ``--once`` prints one frame and exits (for scripts and tests). Ctrl-C quits.

``--cluster [NAME]`` shows every node of a cluster instead, read from Redis directly
(``--redis``, ``--prefix`` as ``agentrt node`` takes them; no ``--url``): per node loop
lag, agents live and passivated, turns/s, p95, LLM queue wait, fence rejections,
redeliveries and moves, the cluster totals on top, stale nodes marked
(``agentrt.cli._topcluster``).

Exit codes: 0 on success or Ctrl-C, 1 when the endpoint cannot be reached, refuses the
token (401), does not know the agent (404) or answers something else than expected (the
error on one line, on stderr), 2 for bad arguments (an unset ``--token-env`` variable...).

Examples::

    agentrt demo --endpoint-port 8787 --hold         # in one terminal
    agentrt top --url http://127.0.0.1:8787          # in another
    agentrt top --url http://127.0.0.1:8787 --sort cost --limit 10 --once
    agentrt top --cluster prod --redis redis://10.0.0.2:6379/0 --once
    AGENTRT_TOP_TOKEN=... agentrt top --url http://10.0.0.5:8787 --token-env AGENTRT_TOP_TOKEN
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from agentrt.cli import command_help
from agentrt.cli._args import bounded
from agentrt.errors import AgentRTError
from agentrt.telemetry import TOP_KEYS

__all__ = [
    "Frame",
    "TopError",
    "fetch_frame",
    "register",
    "render",
    "render_agent",
    "render_agents",
    "render_summary",
    "run_top",
]

_STATE_STYLES = {
    "idle": "green",
    "running": "bold yellow",
    "queued": "yellow",
    "initializing": "cyan",
    "passivated": "dim",
    "down": "bold red",
}


class TopError(AgentRTError):
    """The endpoint could not be read; the message is the one line ``top`` prints."""


@dataclass
class Frame:
    """One refresh: the node ``summary``, and the ``agents`` listing (``/agents``) or
    one ``agent``'s view (``--agent``)."""

    url: str
    summary: dict[str, Any]
    agents: dict[str, Any] | None = None
    agent: dict[str, Any] | None = None
    at: float = 0.0


# -- arguments -----------------------------------------------------------------------------


_limit = bounded(int, low=1, high=10_000)
_interval = bounded(float, low=0.1, high=3600, unit=" s")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "top",
        help=command_help("top"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--url", help="the runtime's introspection endpoint (rt.endpoint_url); or --cluster"
    )
    target.add_argument(
        "--cluster", nargs="?", const="default", metavar="NAME",
        help="show every node of cluster NAME (default: default), read from --redis",
    )  # fmt: skip
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="with --cluster")
    parser.add_argument("--prefix", default="agentrt:cluster:", help="with --cluster")
    parser.add_argument("--token-env", help="environment variable holding the bearer token")
    parser.add_argument(
        "--sort", choices=sorted(TOP_KEYS), default="p95", help="agent ordering (p95)"
    )
    parser.add_argument(
        "--limit", type=_limit, help="agents shown (default: what fits the terminal, else 30)"
    )
    parser.add_argument("--agent", metavar="ID", help="show one agent in detail")
    parser.add_argument("--once", action="store_true", help="print one frame and exit")
    parser.add_argument("--interval", type=_interval, default=1.0, help="refresh, s (1)")
    parser.add_argument("--timeout", type=_interval, default=5.0, help="HTTP timeout, s (5)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.cluster is not None:
        from agentrt.cli._topcluster import run_cluster_top

        try:
            return asyncio.run(
                run_cluster_top(
                    args.redis,
                    name=args.cluster,
                    prefix=args.prefix,
                    once=args.once,
                    interval=args.interval,
                    timeout=args.timeout,
                    console=_console(),
                )
            )
        except KeyboardInterrupt:
            return 0
    token = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            print(
                f"agentrt top: environment variable {args.token_env!r} is not set",
                file=sys.stderr,
            )
            return 2
    console = _console()
    limit = args.limit or (max(5, console.height - 16) if console.is_terminal else 30)
    try:
        return asyncio.run(
            run_top(
                args.url,
                token=token,
                sort=args.sort,
                limit=limit,
                agent=args.agent,
                once=args.once,
                interval=args.interval,
                timeout=args.timeout,
                console=console,
            )
        )
    except KeyboardInterrupt:
        return 0


def _console() -> Console:
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=160)  # a script's output: do not cut the table at 80
    return console


# -- fetching ------------------------------------------------------------------------------


MAX_BODY_BYTES = 16 << 20
"""The most ``top`` reads of one answer: whatever ``--url`` points at, it never holds more
(an endpoint's ``/agents`` page is a few KiB per agent shown)."""


async def _get(client: httpx.AsyncClient, path: str, params: Any = None) -> dict[str, Any]:
    url = str(client.base_url).rstrip("/")
    try:
        async with client.stream("GET", path, params=params) as response:
            status = response.status_code
            data = await _read_capped(response, f"{url}{path}")
    except httpx.TimeoutException:
        raise TopError(f"{url} did not answer in time") from None
    except httpx.HTTPError as exc:
        raise TopError(f"cannot reach {url}: {exc or type(exc).__name__}") from None
    if status == 401:
        raise TopError(f"{url} refused the request (401 unauthorized): give --token-env")
    try:
        body = json.loads(data)
    except ValueError:
        raise TopError(f"{url}{path} answered {status} without JSON") from None
    if status != 200 or not isinstance(body, dict):
        message = body.get("error") if isinstance(body, dict) else None
        detail = message if isinstance(message, str) and message else repr(body)
        raise TopError(f"{url}{path} answered {status}: {detail[:200]}")
    return body


async def _read_capped(response: httpx.Response, where: str) -> bytes:
    """The body, or TopError once it passes :data:`MAX_BODY_BYTES` (nothing more is read)."""
    parts: list[bytes] = []
    size = 0
    async for part in response.aiter_bytes():
        size += len(part)
        if size > MAX_BODY_BYTES:
            raise TopError(f"{where} answered more than {MAX_BODY_BYTES:,} bytes: not an endpoint")
        parts.append(part)
    return b"".join(parts)


async def fetch_frame(
    client: httpx.AsyncClient, *, sort: str = "p95", limit: int = 30, agent: str | None = None
) -> Frame:
    """One frame from the endpoint ``client`` points at; raises ``TopError``."""
    summary = await _get(client, "/summary")
    frame = Frame(url=str(client.base_url).rstrip("/"), summary=summary, at=time.time())
    if agent is not None:
        frame.agent = await _get(client, "/agents/" + quote(agent, safe=""))
    else:
        frame.agents = await _get(client, "/agents", {"by": sort, "limit": limit})
    return frame


async def run_top(
    url: str,
    *,
    token: str | None = None,
    sort: str = "p95",
    limit: int = 30,
    agent: str | None = None,
    once: bool = False,
    interval: float = 1.0,
    timeout: float = 5.0,
    console: Console | None = None,
) -> int:
    """Show the endpoint at ``url`` on ``console`` (see the module docs); the exit code."""
    console = console or Console()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = httpx.AsyncClient(
        base_url=url, headers=headers, timeout=timeout, trust_env=False
    )  # trust_env off: no proxy between top and the node it watches
    async with client:
        try:
            frame = await fetch_frame(client, sort=sort, limit=limit, agent=agent)
            if once:
                console.print(render(frame))
                return 0
            await _watch(client, frame, console, interval, sort, limit, agent)
        except TopError as exc:
            print(f"agentrt top: {exc}", file=sys.stderr)
            return 1
    return 0


async def _watch(
    client: httpx.AsyncClient,
    frame: Frame,
    console: Console,
    interval: float,
    sort: str,
    limit: int,
    agent: str | None,
) -> None:
    with Live(
        render(frame), console=console, auto_refresh=False, screen=console.is_terminal
    ) as live:
        while True:
            await asyncio.sleep(interval)
            frame = await fetch_frame(client, sort=sort, limit=limit, agent=agent)
            live.update(render(frame), refresh=True)


# -- rendering -----------------------------------------------------------------------------


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _num(value: Any, spec: str = ",.0f", suffix: str = "") -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    return f"{value:{spec}}{suffix}"


def _ms(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    if value >= 1000:
        return f"{value / 1000:,.2f} s"
    return f"{value:,.1f} ms" if value >= 10 else f"{value:.2f} ms"


def _errors(value: Any) -> str:
    """``{"RateLimited": 2, ...}`` as ``RateLimited 2, ...``; "0" when none."""
    if not isinstance(value, dict) or not value:
        return "0"
    return ", ".join(f"{name} {_num(n)}" for name, n in sorted(value.items()))


def _bytes(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return "-"  # pragma: no cover


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {text}" if days else text


def _target_value(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return _ms(value * 1000)
    if unit == "ms":
        return _ms(value)
    if unit == "B":
        return _bytes(value)
    return f"{value:.4g}"


def _targets(summary: dict[str, Any]) -> Text:
    text = Text("targets  ", style="dim")
    targets = summary.get("targets") or []
    for target in targets:
        ok = bool(target.get("ok"))
        unit = str(target.get("unit", ""))
        text.append("✓ " if ok else "✗ ", style="bold green" if ok else "bold red")
        value = _target_value(target.get("value"), unit)
        limit = _target_value(target.get("limit"), unit)
        text.append(f"{target.get('name')} ", style="" if ok else "red")
        text.append(f"{value} (≤ {limit})   ", style="bold" if ok else "bold red")
    if not targets:
        text.append("none configured", style="dim")
    return text


def _summary_rows(s: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    recent = _dig(s, "turn_latency_ms", "recent") or {}
    agents = s.get("agents") or {}
    lag = s.get("loop_lag_ms") or {}
    llm = s.get("llm") or {}
    cache = s.get("cache") or {}
    restarts = s.get("restarts") or {}
    return [
        ("uptime", _duration(s.get("uptime_s")), "agents live / passivated",
         f"{_num(agents.get('live'))} / {_num(agents.get('passivated'))} "
         f"of {_num(agents.get('total'))}"),
        ("turns ok / failed",
         f"{_num(_dig(s, 'turns', 'ok'))} / {_num(_dig(s, 'turns', 'failed'))}",
         "turn p50 / p95 / p99 (recent)",
         f"{_ms(recent.get('p50_ms'))} / {_ms(recent.get('p95_ms'))} / "
         f"{_ms(recent.get('p99_ms'))}"),
        ("memory op p99", _ms(_dig(s, "memory_op_ms", "p99_ms")), "loop lag last / max",
         f"{_ms(lag.get('last'))} / {_ms(lag.get('max'))}"),
        ("LLM queue active / waiting on provider limit",
         f"{_num(llm.get('queue_active'))} / {_num(llm.get('queue_waiting'))} "
         f"(limit {_num(llm.get('queue_limit'))})",
         "LLM queue wait p95", _ms(llm.get("queue_wait_p95_ms"))),
        ("cache hit ratio",
         f"{_num(cache.get('hit_ratio'), '.2f')} ({_num(cache.get('hits'))} hits)",
         "restarts agents / supervisor",
         f"{_num(restarts.get('agents'))} / {_num(restarts.get('agents_supervisor'))}"),
        ("RSS", _bytes(s.get("rss_bytes")), "mailboxes queued / max depth",
         f"{_num(_dig(s, 'mailboxes', 'queued'))} / {_num(_dig(s, 'mailboxes', 'max_depth'))}"),
    ]  # fmt: skip


def render_summary(frame: Frame) -> Group:
    """The node summary: figures in two label/value columns, then the targets."""
    stamp = time.strftime("%H:%M:%S", time.localtime(frame.at)) if frame.at else ""
    table = Table.grid(padding=(0, 2))
    table.title = f"agentrt top · {frame.url} · {stamp}"
    table.title_justify = "left"
    for style in ("dim", "bold", "dim", "bold"):
        table.add_column(style=style, no_wrap=True)
    for row in _summary_rows(frame.summary):
        table.add_row(*row)
    return Group(table, _targets(frame.summary))


def _state(value: Any) -> Text:
    state = str(value or "?")
    return Text(state, style=_STATE_STYLES.get(state, ""))


def render_agents(listing: dict[str, Any]) -> Table:
    """The agents table, highest first by the listing's ordering (its header marked ▼)."""
    by = str(listing.get("by", "p95"))
    agents = listing.get("agents") or []
    table = Table(
        title=f"agents by {by}: {len(agents):,} of {_num(listing.get('total'))}",
        title_justify="left",
        expand=False,
    )
    columns = [
        ("id", None), ("state", None), ("mailbox", "mailbox"), ("p95", "p95"),
        ("turns", "turns"), ("errors", "errors"), ("tokens in/out", "tokens"),
        ("cost", "cost"), ("bytes", "bytes"), ("restarts", "restarts"),
    ]  # fmt: skip
    for header, key in columns:
        marked = f"{header} ▼" if key == by else header
        table.add_column(marked, justify="left" if key is None else "right", no_wrap=True)
    for a in agents:
        table.add_row(
            str(a.get("id")),
            _state(a.get("state")),
            _num(a.get("mailbox")),
            _ms(a.get("p95_ms")),
            _num(a.get("turns")),
            _num(a.get("errors")),
            f"{_num(a.get('tokens_in'))}/{_num(a.get('tokens_out'))}",
            _num(a.get("cost"), ",.4f", ""),
            _bytes(a.get("bytes_held")),
            _num(a.get("restarts")),
        )
    return table


def _detail_rows(a: dict[str, Any]) -> list[tuple[str, RenderableType]]:
    last = a.get("last_turn")
    ago = f"{max(0.0, time.time() - last):,.1f} s ago" if last else "never"
    return [
        ("class", str(a.get("agent_class", "-"))),
        ("state", _state(a.get("state"))),
        ("mailbox / max", f"{_num(a.get('mailbox'))} / {_num(a.get('mailbox_max'))}"),
        ("turns / errors", f"{_num(a.get('turns'))} / {_num(a.get('errors'))}"),
        ("turn p50 / p95 / p99",
         f"{_ms(a.get('p50_ms'))} / {_ms(a.get('p95_ms'))} / {_ms(a.get('p99_ms'))}"),
        ("LLM time / tool time",
         f"{_num(a.get('llm_s'), ',.3f', ' s')} / {_num(a.get('tool_s'), ',.3f', ' s')}"),
        ("tokens in / out", f"{_num(a.get('tokens_in'))} / {_num(a.get('tokens_out'))}"),
        ("cost", _num(a.get("cost"), ",.6f")),
        ("LLM requests / retries",
         f"{_num(a.get('llm_requests'))} / {_num(a.get('retries'))}"),
        ("LLM errors", _errors(a.get("llm_errors"))),
        ("LLM queue wait", _ms(a.get("queue_wait_ms"))),
        ("tool calls", _num(a.get("tool_calls"))),
        ("cache hits / misses",
         f"{_num(a.get('cache_hits'))} / {_num(a.get('cache_misses'))}"),
        ("bytes held", _bytes(a.get("bytes_held"))),
        ("restarts", _num(a.get("restarts"))),
        ("last turn", ago),
    ]  # fmt: skip


def render_agent(view: dict[str, Any]) -> Table:
    """One agent in detail."""
    table = Table(title=f"agent {view.get('id')}", title_justify="left", show_header=False)
    table.add_column(style="dim")
    table.add_column(style="bold")
    for label, value in _detail_rows(view):
        table.add_row(label, value)
    return table


def render(frame: Frame) -> Group:
    """A whole frame: the summary, then the agents table or one agent's detail."""
    parts: list[RenderableType] = [render_summary(frame), Text("")]
    if frame.agent is not None:
        parts.append(render_agent(frame.agent))
    elif frame.agents is not None:
        parts.append(render_agents(frame.agents))
    return Group(*parts)

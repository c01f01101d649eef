"""``agentrt serve``: a runtime's agents behind an OpenAI-compatible HTTP API.

Serves ``POST /v1/chat/completions`` (JSON and SSE) and ``GET /v1/models`` until
interrupted (docs/serve.md). Prints ``agentrt serve listening on http://HOST:PORT/v1``
once it accepts connections (``--port 0``: the OS picks a free port; read it from that
line).

What is served: ``APP`` (``module:name``, or ``path/to/file.py:name``) names an ``Agent``
subclass, exposed as model ``--model-name`` (default: the class name, lowercased), or a
function ``configure(server)`` (sync or async) that calls ``server.expose(...)`` and may
spawn agents through ``server.runtime``. Without ``APP`` the plain ``agentrt.Agent`` is
served as model ``assistant``.

Examples::

    agentrt serve                                   # the mock LLM, loopback, no tokens
    agentrt serve myapp:Support --llm-url https://api.openai.com/v1 --model gpt-4o-mini \\
        --api-key-env OPENAI_API_KEY
    ACME_TOKEN=... agentrt serve myapp:configure --host 0.0.0.0 --tenant acme=ACME_TOKEN \\
        --rate 20:40

With ``--cluster NAME`` the process is a node of that cluster (the flags of ``agentrt
node``: ``--redis``, ``--prefix``, ``--store-prefix``, ``--placement``... and
``--node-id``): it hosts agents like any node, conversations live in the cluster's Redis,
and a request reaching any serve node of the cluster reaches its agent wherever it lives.
It prints ``agentrt serve: node NODE joined cluster NAME at epoch N`` before its
``listening`` line; a Redis that does not answer at start exits 1.

Tokens are read from the environment variables ``--tenant NAME=ENV_VAR`` names, never
from the command line; without any tenant only a loopback ``--host`` is allowed.
Runtime configuration, highest first: ``--set KEY=VALUE``, ``AGENTRT_*`` variables,
``--config agentrt.toml``, the cluster's store (with ``--cluster``), the runtime's
defaults. Exit codes: 0 stopped by Ctrl-C or SIGTERM; 1 the cluster's Redis did not
answer; 2 bad input (the flag or key named).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentrt._configfile import merge
from agentrt._configlayers import load_layers
from agentrt._demo import provider_table
from agentrt.actor import run
from agentrt.bounds import PORT
from agentrt.cli import command_help
from agentrt.cli._args import add_set_argument, bounded, number_arg, set_table
from agentrt.cli._clusterargs import add_cluster_flags, cluster_config, store_table
from agentrt.cli._logs import one_line_logging
from agentrt.errors import ConfigError
from agentrt.loadtest._importing import import_object

__all__ = ["register", "serve_config"]

_positive_int = bounded(int, low=1, high=1_000_000)
_seconds = bounded(float, low=0, open_low=True, high=86_400, unit=" s")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help=command_help("serve"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("app", nargs="?", metavar="APP", help="module:name to serve (see above)")
    parser.add_argument("--model-name", help="the model name of an APP that is a class")
    parser.add_argument("--host", default="127.0.0.1", help="address (127.0.0.1)")
    parser.add_argument(
        "--port", type=number_arg(PORT, int), default=8000, help="port (8000; 0: free)"
    )
    parser.add_argument(
        "--allowed-host", action="append", default=[], metavar="NAME",
        help="another Host header name to answer (a proxy's); repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--tenant", action="append", default=[], metavar="NAME=ENV_VAR",
        help="a tenant whose bearer token is in ENV_VAR; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--rate", metavar="PER_S[:BURST]",
        help="requests/s per tenant (or of the loopback caller), with a burst",
    )  # fmt: skip
    parser.add_argument("--max-in-flight", type=_positive_int, default=256, help="(256)")
    parser.add_argument("--timeout", type=_seconds, help="a request's deadline, s (agent's)")
    parser.add_argument(
        "--system-messages", choices=["reject", "ignore"], default="reject",
        help="what a system/developer message in a request does (reject)",
    )  # fmt: skip
    parser.add_argument(
        "--ignore-field", action="append", default=[], metavar="FIELD",
        help="a request field to accept and ignore (temperature...); repeatable",
    )  # fmt: skip
    parser.add_argument("--llm-url", help="OpenAI-compatible base URL (default: in-process mock)")
    parser.add_argument("--model", help="model name sent to the LLM")
    parser.add_argument("--api-key-env", help="environment variable holding the LLM API key")
    parser.add_argument("--config", help="agentrt.toml: the runtime's configuration")
    add_set_argument(parser)
    add_cluster_flags(parser, cluster_default=None)
    parser.add_argument("--node-id", default="", help="with --cluster: this node's id")
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's default loop")
    parser.add_argument("--debug", action="store_true", help="log records with tracebacks")
    parser.set_defaults(func=main)


def serve_config(args: argparse.Namespace, env: Mapping[str, str]) -> Any:
    """The ``ServeConfig`` the flags describe (tokens read from ``env``); ``ConfigError``
    names the flag."""
    from agentrt.serve import RateLimit, ServeConfig, Tenant

    rate = None
    if args.rate is not None:
        per_s, _, burst = args.rate.partition(":")
        try:
            rate = RateLimit(float(per_s), int(burst) if burst else None)
        except ValueError:
            raise ConfigError("--rate", f"expected PER_S[:BURST], got {args.rate!r}") from None
    tenants = []
    for item in args.tenant:
        name, sep, var = item.partition("=")
        if not sep or not name or not var:
            raise ConfigError("--tenant", f"expected NAME=ENV_VAR, got {item!r}")
        token = env.get(var)
        if not token:
            raise ConfigError("--tenant", f"tenant {name!r}: environment variable {var} is not set")
        tenants.append(Tenant(name, token, rate))
    return ServeConfig(
        host=args.host,
        port=args.port,
        allowed_hosts=tuple(args.allowed_host),
        tenants=tuple(tenants),
        rate=None if tenants else rate,
        max_in_flight=args.max_in_flight,
        timeout_s=args.timeout,
        system_messages=args.system_messages,
        ignore_fields=tuple(args.ignore_field),
    )


def _app(spec: str | None) -> Any:
    if spec is None:
        return None
    module, sep, name = spec.rpartition(":")
    if sep and module.endswith(".py"):  # path/to/file.py:name
        path = Path(module)
        return import_object(f"{path.stem}:{name}", key="APP", near=path)
    return import_object(spec, key="APP")


def main(args: argparse.Namespace) -> int:
    with one_line_logging(tracebacks=args.debug):
        try:
            config = serve_config(args, os.environ)
            flags = set_table(args.set)
            if args.llm_url is not None:
                provider = provider_table(args.llm_url, 0.0, args.model or "mock", args.api_key_env)
                flags = merge(flags, {"llm": {"providers": [provider]}})
            from agentrt.runtime import RuntimeConfig

            cluster = None
            if args.cluster is not None:  # a node: conversations in the cluster's Redis
                cluster = cluster_config(args, args.node_id)
                flags = merge({"store": store_table(args)}, flags)
            runtime_config = load_layers(
                RuntimeConfig, path=args.config, env=os.environ, flags=flags
            ).config
            app = _app(args.app)
            return run(
                _serve(args, config, runtime_config, app, cluster),
                use_uvloop=False if args.no_uvloop else None,
            )
        except ConfigError as exc:
            print(f"agentrt serve: {exc}", file=sys.stderr)
            return 2


async def _serve(
    args: argparse.Namespace, config: Any, runtime_config: Any, app: Any, cluster: Any
) -> int:
    from agentrt.agent import Agent
    from agentrt.cluster import ClusterUnavailable
    from agentrt.runtime import Runtime
    from agentrt.serve import Server

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    rt = Runtime(runtime_config, cluster=cluster)
    server = Server(rt, config)
    configure = None
    if app is None:
        server.expose(args.model_name or "assistant", Agent)
    elif isinstance(app, type) and issubclass(app, Agent):
        server.expose(args.model_name or app.__name__.lower(), app)
    elif callable(app):
        configure = app  # called on the started runtime: it may spawn agents
    else:
        raise ConfigError("APP", f"{args.app!r} is neither an Agent subclass nor a function")
    try:  # a class's routes exist before the node joins: it may be placed agents at once
        await rt.start()
    except ClusterUnavailable as exc:
        print(f"agentrt serve: {exc}", file=sys.stderr)
        return 1
    try:
        if cluster is not None:
            node = rt.directory.cluster  # type: ignore[attr-defined]
            print(f"agentrt serve: node {node.node_id} joined cluster {cluster.name} at "
                  f"epoch {node.epoch}", flush=True)  # fmt: skip
        if configure is not None:
            done = configure(server)
            if inspect.isawaitable(done):
                await done
        async with server:
            print(f"agentrt serve listening on {server.url}", flush=True)
            await stop.wait()
    finally:
        await rt.aclose()
    return 0

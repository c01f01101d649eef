"""The fault-mix scenario (issue 14 §6): one proxy, three models, real HTTP.

A mock LLM proxy in its own process serves three models from one base URL, as LiteLLM
does, and drops the keep-alive connection after every error answer without
``Connection: close``:

- ``model-a`` fails hard (every request a 500);
- ``model-b`` is rate-limited: every request a 429 with LiteLLM's
  ``llm_provider-retry-after: 30``, longer than any caller's deadline;
- ``model-c`` is healthy (20 ms).

One ``LLMPool`` (one provider for the proxy, default retry and breaker policies) serves
callers per model at once (each an agent with its own id, so the fair queue serves them
round-robin), each sending requests one after another with a deadline of 5 s from its
send. The verdict (``passed``) holds when:

- model C's callers see **0 errors** (the breaker is per model, stale connections are
  resent at once, A's retries give their slot back while they back off);
- model B's callers see **only** ``RateLimited`` whose ``retry_after`` exceeds the time
  left before their deadline (they fail at once; the 429 paused the model for the swarm,
  so the proxy sees a handful of 429s, not one per request).

Model A's callers see ``ProviderUnavailable`` / ``CircuitOpen`` (reported, not judged).

Run from the repository root::

    python -m loadtest.bench.llm_faults            # table
    python -m loadtest.bench.llm_faults --quick --json

``loadtest.bench.llm_pool`` runs it too, so one run shows the throughput ratios and the
fault mix side by side.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from loadtest.bench.measure import bench_parser, emit

MODELS = ("model-a", "model-b", "model-c")
PROFILES = {
    "model-a": {"error_rate_500": 1.0},
    "model-b": {
        "error_rate_429": 1.0,
        "retry_after_s": 30.0,
        "retry_header": "llm_provider-retry-after",
    },
}


async def _caller(
    pool: Any, model: str, agent: str, n: int, deadline_s: float, out: dict[str, Any]
) -> None:
    from agentrt.llm import ChatRequest, LLMError, RateLimited
    from agentrt.messages import Message

    loop = asyncio.get_running_loop()
    for i in range(n):
        request = ChatRequest(model=model, messages=(Message.user(f"{model} {i}"),))
        deadline = loop.time() + deadline_s
        try:
            await pool.chat(request, agent_id=agent, deadline=deadline)
        except LLMError as exc:
            left = deadline - loop.time()
            out["errors"][type(exc).__name__] += 1
            beyond = isinstance(exc, RateLimited) and (exc.retry_after or 0) > left
            out["rate_limited_beyond_deadline"] += beyond
            continue
        out["ok"] += 1


async def fault_mix(url: str, callers: int, requests: int, deadline_s: float) -> dict[str, Any]:
    """Run the scenario's clients against the proxy at ``url`` (see module doc)."""
    from agentrt.llm import LLMPool, PoolConfig, ProviderConfig

    proxy = ProviderConfig(
        name="proxy", base_urls=(url,), max_concurrency=256, max_queue=4 * callers * 3
    )
    per_model: dict[str, dict[str, Any]] = {
        m: {"ok": 0, "errors": Counter(), "rate_limited_beyond_deadline": 0} for m in MODELS
    }
    started = time.perf_counter()
    async with LLMPool(PoolConfig(providers=(proxy,))) as pool:
        await asyncio.gather(  # agents of the three models interleaved, as in a swarm
            *(
                _caller(pool, model, f"{model}-{i}", requests, deadline_s, per_model[model])
                for i in range(callers)
                for model in MODELS
            )
        )
        backend = pool.stats()["providers"]["proxy"]["backend"]["replicas"][url.rstrip("/")]
    wall = time.perf_counter() - started
    for figures in per_model.values():
        figures["errors"] = dict(figures["errors"])
    b, c = per_model["model-b"], per_model["model-c"]
    b_errors = sum(b["errors"].values())
    passed = (
        not c["errors"]
        and c["ok"] == callers * requests
        and set(b["errors"]) == {"RateLimited"}
        and b["rate_limited_beyond_deadline"] == b_errors == callers * requests
    )
    return {
        "models": per_model,
        "breakers": {k: v["state"] for k, v in backend["breakers"].items()},
        "stale_retries": backend.get("connections", {}).get("stale_retries", 0),
        "model_c_rps": round(c["ok"] / wall, 1),
        "requests_per_model": callers * requests,
        "passed": passed,
    }


async def run(quick: bool) -> dict[str, Any]:
    """Start the proxy, run the clients in their own process, add the proxy's view."""
    from agentrt.testing import MockLLMProcess

    callers, requests = (40, 5) if quick else (300, 10)
    async with MockLLMProcess(latency_ms=20) as proxy:
        await proxy.faults(drop_after_error=True, profiles=PROFILES)
        args = [proxy.url, str(callers), str(requests), "5.0"]
        result = await asyncio.to_thread(_run_worker, args)
        counts = (await proxy.stats())["counts"]
    result["proxy"] = {
        key: counts.get(key, 0) for key in ("http", "status_429", "status_500", "chat")
    }
    result["proxy"]["dropped_connections"] = counts.get("dropped_connections", 0)
    return result


def _run_worker(args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "loadtest.bench.llm_faults", "--worker", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"fault-mix worker failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def rows(result: dict[str, Any]) -> list[list[Any]]:
    """One table row per model: ok, errors by type, RateLimited beyond the deadline."""
    return [
        [
            f"fault-mix {model}",
            figures["ok"],
            ", ".join(f"{k} {v}" for k, v in sorted(figures["errors"].items())) or "0",
            figures["rate_limited_beyond_deadline"],
        ]
        for model, figures in result["models"].items()
    ]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        url, callers, requests, deadline_s = sys.argv[2:]
        result = asyncio.run(fault_mix(url, int(callers), int(requests), float(deadline_s)))
        print(json.dumps(result))
        return
    args = bench_parser(__doc__.split("\n\n")[0]).parse_args()
    result = asyncio.run(run(args.quick))
    title = f"fault mix: {'PASSED' if result['passed'] else 'FAILED'}"
    columns = ["model", "ok", "errors", "RateLimited beyond deadline"]
    emit(result, as_json=args.json, title=title, rows=rows(result), columns=columns)
    if not result["passed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Actor-core benchmark: agentrt against pykka and a raw asyncio baseline, in one run.

Peers (each measured in a subprocess of its own, one after the other, so that one peer's
memory does not inflate another's RSS):

- ``agentrt``: ``Node.spawn`` actors; calls with their default 5 s timeout armed, as
  users run them. Fan-out two ways: the fast path (``Node.multi_call``, the API for it)
  and the idiomatic one (``asyncio.gather(*(ref.call(msg) for ref in refs))``: a task
  and a ``call`` per actor).
- ``asyncio``: the naive design: one ``asyncio.Queue`` and one task per actor, and a
  future per reply. Fan-out two ways: its cheapest form (put every request, then gather
  the bare futures), beside ``multi_call``, and the idiomatic one (gather a ``call``
  coroutine per actor), beside agentrt's idiomatic fan-out.
- ``pykka``: ``pykka.ThreadingActor`` (one OS thread per actor), measured with plain
  threads (no event loop); capped at 10,000 actors (the machine's thread limit).

Figures: spawn rate and RSS bytes per idle actor (RSS delta over N, from /proc);
fan-out (one call to every actor, all awaited together: replies/s, median of rounds;
``fanout_gather_*`` is the idiomatic form, not measured for pykka);
sequential call latency p50/p95/p99; ping-pong between two actors (msgs/s); and, for
agentrt, the median time from a supervised child's crash to its restarted successor
answering. Ratios (agentrt over asyncio, from the same run): ``fanout_vs_asyncio`` and
``fanout_gather_vs_asyncio`` (throughput: above 1 is faster), ``call_p50_vs_asyncio``
(latency: below 1 is faster) and ``pingpong_vs_asyncio``.

    python -m loadtest.bench.actors                 # N=10,000, 3 interleaved runs per peer
    python -m loadtest.bench.actors --n 100000 --peers agentrt,asyncio
    python -m loadtest.bench.actors --quick --json
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from loadtest.bench.measure import bench_parser, emit, rss_bytes, summarize

PEERS = ("agentrt", "pykka", "asyncio")
PYKKA_MAX = 10_000


# --------------------------------------------------------------------------- agentrt


async def _agentrt(n: int, calls: int, pings: int, rounds: int) -> dict[str, Any]:
    from agentrt.actor import Actor, Caller, Node, NodeConfig

    class Echo(Actor):
        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            return msg

    done = asyncio.get_running_loop().create_future()

    class Pinger(Actor):
        __slots__ = ("peer",)

        async def handle_cast(self, msg: Any) -> None:
            if isinstance(msg, int):
                if msg >= pings:
                    if not done.done():
                        done.set_result(None)
                    return
                self.peer.cast_nowait(msg + 1)
            else:
                self.peer = msg

    out: dict[str, Any] = {}
    async with Node(NodeConfig(watchdog=False)) as node:
        gc.collect()
        before = rss_bytes()
        t0 = time.perf_counter()
        refs = [await node.spawn(Echo) for _ in range(n)]
        spawn_s = time.perf_counter() - t0
        gc.collect()
        out["spawn_per_s"] = n / spawn_s
        out["rss_bytes_per_actor"] = (rss_bytes() - before) / n

        async def fanout() -> float:
            t = time.perf_counter()
            replies = await node.multi_call(refs, 1)
            elapsed = time.perf_counter() - t
            assert replies == [1] * n
            return n / elapsed

        async def fanout_gather() -> float:
            t = time.perf_counter()
            replies = await asyncio.gather(*(ref.call(1) for ref in refs))
            elapsed = time.perf_counter() - t
            assert replies == [1] * n
            return n / elapsed

        out["fanout_msgs_per_s"] = statistics.median([await fanout() for _ in range(rounds)])
        out["fanout_gather_msgs_per_s"] = statistics.median(
            [await fanout_gather() for _ in range(rounds)]
        )
        target = refs[0]
        samples = []
        for _ in range(calls):
            t = time.perf_counter()
            await target.call(1)
            samples.append(time.perf_counter() - t)
        lat = summarize(samples, "us")
        out.update({f"call_{k}": v for k, v in lat.items()})
        a = await node.spawn(Pinger)
        b = await node.spawn(Pinger)
        a.cast_nowait(b)
        b.cast_nowait(a)
        t = time.perf_counter()
        a.cast_nowait(0)
        await done
        out["pingpong_msgs_per_s"] = pings / (time.perf_counter() - t)
        out["restart_median_us"] = await _restart_latency(node, rounds=max(20, calls // 10))
    return out


async def _restart_latency(node: Any, rounds: int) -> float | None:
    try:
        from supervisors import ChildSpec, Supervisor
    except ImportError:  # supervisors not built yet
        return None
    from agentrt.actor import Actor, Caller

    class Worker(Actor):
        async def handle_call(self, msg: Any, caller: Caller) -> Any:
            return msg

        async def handle_cast(self, msg: Any) -> None:
            raise RuntimeError("injected crash")

    sup = await Supervisor.start(
        node,
        [ChildSpec.worker("w", Worker, name="bench-worker")],
        max_restarts=rounds * 2,
        max_seconds=60,
    )
    samples = []
    for _ in range(rounds):
        old = node.whereis("bench-worker")
        t = time.perf_counter()
        old.cast_nowait("crash")
        while True:
            new = node.whereis("bench-worker")
            if new is not None and new != old:
                await new.call(1)
                break
            await asyncio.sleep(0)
        samples.append(time.perf_counter() - t)
    await node.stop(sup)
    return statistics.median(samples) * 1e6


# --------------------------------------------------------------------------- asyncio


async def _asyncio(n: int, calls: int, pings: int, rounds: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()

    async def serve(q: asyncio.Queue[Any]) -> None:
        while True:
            msg, fut = await q.get()
            if fut is None:
                return
            fut.set_result(msg)

    out: dict[str, Any] = {}
    gc.collect()
    before = rss_bytes()
    t0 = time.perf_counter()
    queues: list[asyncio.Queue[Any]] = []
    tasks = []
    for _ in range(n):
        q: asyncio.Queue[Any] = asyncio.Queue(maxsize=1024)
        queues.append(q)
        tasks.append(loop.create_task(serve(q)))
    await asyncio.sleep(0)  # let every task reach its first get()
    spawn_s = time.perf_counter() - t0
    gc.collect()
    out["spawn_per_s"] = n / spawn_s
    out["rss_bytes_per_actor"] = (rss_bytes() - before) / n

    async def call(q: asyncio.Queue[Any], msg: Any) -> Any:
        fut = loop.create_future()
        q.put_nowait((msg, fut))
        return await fut

    async def fanout() -> float:
        t = time.perf_counter()
        futures = []
        for q in queues:  # its cheapest form: no coroutine or task per call
            fut = loop.create_future()
            q.put_nowait((1, fut))
            futures.append(fut)
        replies = await asyncio.gather(*futures)
        elapsed = time.perf_counter() - t
        assert replies == [1] * n
        return n / elapsed

    async def fanout_gather() -> float:
        t = time.perf_counter()
        replies = await asyncio.gather(*(call(q, 1) for q in queues))
        elapsed = time.perf_counter() - t
        assert replies == [1] * n
        return n / elapsed

    out["fanout_msgs_per_s"] = statistics.median([await fanout() for _ in range(rounds)])
    out["fanout_gather_msgs_per_s"] = statistics.median(
        [await fanout_gather() for _ in range(rounds)]
    )
    samples = []
    for _ in range(calls):
        t = time.perf_counter()
        await call(queues[0], 1)
        samples.append(time.perf_counter() - t)
    out.update({f"call_{k}": v for k, v in summarize(samples, "us").items()})

    done = loop.create_future()

    async def pinger(inbox: asyncio.Queue[int], peer: asyncio.Queue[int]) -> None:
        while True:
            m = await inbox.get()
            if m < 0:
                return
            if m >= pings:
                if not done.done():
                    done.set_result(None)
                peer.put_nowait(-1)
                return
            peer.put_nowait(m + 1)

    qa: asyncio.Queue[int] = asyncio.Queue()
    qb: asyncio.Queue[int] = asyncio.Queue()
    pa = loop.create_task(pinger(qa, qb))
    pb = loop.create_task(pinger(qb, qa))
    t = time.perf_counter()
    qa.put_nowait(0)
    await done
    out["pingpong_msgs_per_s"] = pings / (time.perf_counter() - t)
    for q in queues:
        q.put_nowait((None, None))
    await asyncio.gather(*tasks, pa, pb)
    return out


# --------------------------------------------------------------------------- pykka


def _pykka(n: int, calls: int, pings: int, rounds: int) -> dict[str, Any]:
    import pykka

    n = min(n, PYKKA_MAX)

    class Echo(pykka.ThreadingActor):  # type: ignore[misc]
        def on_receive(self, message: Any) -> Any:
            return message

    out: dict[str, Any] = {"n": n}
    gc.collect()
    before = rss_bytes()
    t0 = time.perf_counter()
    refs = [Echo.start() for _ in range(n)]
    spawn_s = time.perf_counter() - t0
    gc.collect()
    out["spawn_per_s"] = n / spawn_s
    out["rss_bytes_per_actor"] = (rss_bytes() - before) / n

    def fanout() -> float:
        t = time.perf_counter()
        futures = [r.ask(1, block=False) for r in refs]
        pykka.get_all(futures)
        return n / (time.perf_counter() - t)

    out["fanout_msgs_per_s"] = statistics.median([fanout() for _ in range(rounds)])
    samples = []
    for _ in range(calls):
        t = time.perf_counter()
        refs[0].ask(1)
        samples.append(time.perf_counter() - t)
    out.update({f"call_{k}": v for k, v in summarize(samples, "us").items()})

    done = threading.Event()

    class Pinger(pykka.ThreadingActor):  # type: ignore[misc]
        peer: Any = None

        def on_receive(self, message: Any) -> None:
            if isinstance(message, int):
                if message >= pings:
                    done.set()
                    return
                self.peer.tell(message + 1)
            else:
                self.peer = message["peer"]

    a, b = Pinger.start(), Pinger.start()
    a.tell({"peer": b})
    b.tell({"peer": a})
    t = time.perf_counter()
    a.tell(0)
    done.wait()
    out["pingpong_msgs_per_s"] = pings / (time.perf_counter() - t)
    pykka.ActorRegistry.stop_all()
    return out


# --------------------------------------------------------------------------- driver


def _run_peer(peer: str, n: int, calls: int, pings: int, rounds: int) -> dict[str, Any]:
    if peer == "pykka":
        return _pykka(n, calls, pings, rounds)
    fn = _agentrt if peer == "agentrt" else _asyncio
    return asyncio.run(fn(n, calls, pings, rounds))


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("agentrt actor core vs pykka vs a raw asyncio baseline")
    parser.add_argument("--n", type=int, default=10_000, help="actors (default 10000)")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated peers")
    parser.add_argument("--calls", type=int, default=2000, help="sequential calls")
    parser.add_argument("--pings", type=int, default=200_000, help="ping-pong messages")
    parser.add_argument("--rounds", type=int, default=5, help="fan-out rounds (median)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="processes per peer, interleaved (median)"
    )
    parser.add_argument("--peer-only", choices=PEERS, help=argparse_hidden())
    args = parser.parse_args(argv)
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        parser.error(f"--peers: unknown peer(s) {unknown}; choose from {list(PEERS)}")
    if args.n < 2:
        parser.error("--n must be >= 2")
    if args.quick:
        args.n, args.calls, args.pings, args.rounds = min(args.n, 2000), 300, 20_000, 3
        args.repeat = 1
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.peer_only:
        print(json.dumps(_run_peer(args.peer_only, args.n, args.calls, args.pings, args.rounds)))
        return 0
    # Peers run one process at a time; interleaving repeats (a, b, c, a, b, c, ...) and
    # taking each figure's median keeps a change of load on a shared machine from
    # favouring whichever peer happened to run in the quiet moment.
    runs: dict[str, list[dict[str, Any]]] = {peer: [] for peer in peers}
    for _ in range(args.repeat):
        for peer in peers:
            cmd = [sys.executable, "-m", "loadtest.bench.actors", "--peer-only", peer]
            cmd += ["--n", str(args.n), "--calls", str(args.calls), "--pings", str(args.pings)]
            cmd += ["--rounds", str(args.rounds)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            runs[peer].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    results = {peer: _median_figures(r) for peer, r in runs.items()}
    result = {"n": args.n, "results": results}
    base = results.get("asyncio")
    if base and "agentrt" in results:
        ag = results["agentrt"]
        result["ratios"] = {
            "fanout_vs_asyncio": ag["fanout_msgs_per_s"] / base["fanout_msgs_per_s"],
            "fanout_gather_vs_asyncio": (
                ag["fanout_gather_msgs_per_s"] / base["fanout_gather_msgs_per_s"]
            ),
            "call_p50_vs_asyncio": ag["call_p50_us"] / base["call_p50_us"],
            "pingpong_vs_asyncio": ag["pingpong_msgs_per_s"] / base["pingpong_msgs_per_s"],
        }
    if "pykka" in results and "agentrt" in results:
        result.setdefault("ratios", {})["fanout_vs_pykka"] = (
            results["agentrt"]["fanout_msgs_per_s"] / results["pykka"]["fanout_msgs_per_s"]
        )
    keys = [
        "spawn_per_s",
        "rss_bytes_per_actor",
        "fanout_msgs_per_s",
        "fanout_gather_msgs_per_s",
        "call_p50_us",
        "call_p95_us",
        "call_p99_us",
        "pingpong_msgs_per_s",
        "restart_median_us",
    ]
    rows = [[k, *(results[p].get(k, "-") for p in results)] for k in keys]
    rows += [[f"ratio {k}", f"{v:.2f}x"] for k, v in result.get("ratios", {}).items()]
    emit(result, as_json=args.json, title=f"actors, N={args.n}", rows=rows,
         columns=["metric", *results])  # fmt: skip
    return 0


def _median_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each numeric figure's median over ``runs`` (other values from the first run)."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = statistics.median(r[key] for r in runs if r.get(key) is not None)
    out["repeats"] = len(runs)
    return out


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())

"""The claim script (claim_next) on the lab's redis-server, against redis-benchmark's own
trivial EVAL on the same server in the same run.

Both go through redis-benchmark (same client, same connections, same pipelining), so the
ratio is the cost of the script itself. The database is populated first with enough
ready desks and waiting callers that every claim in the run finds a pair: an empty
claim would be far cheaper than a real one. A second figure is what the bridge sees:
claims one after another from redis-py's asyncio client, as the dispatcher makes them.

Three more cases, each against the same trivial EVAL: a batched claim (up to ``batch`` pairs
per call, as the dispatcher asks; its figure is claims per second), the overflow case (an
agency with callers and no desk logged in, 300 ready desks of other agencies, none
cross-trained for it: nothing can be claimed, every call looks for a cross-trained desk)
and the empty claim (no caller, no desk).
"""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis

from bench.stats import summary_ms
from queueing.keys import Keys
from queueing.routing import AsyncRouting, Routing, Steps
from queueing.scripts import Scripts, script_sources

BENCH_DB = 15  # the lab's hotline keys live in db 0
PREFIX = "benchclaim:"
RING_TIMEOUT_MS = 10_000
BATCH = 16  # pairs per claim call in the batched case (the dispatcher's batch)
OVERFLOW_DESKS = 300  # ready desks of the other agencies in the overflow case


class _CallRecorder(Routing):
    """Builds a script call's KEYS and ARGV exactly as the bridge does, without running
    it: redis-benchmark then sends that very call."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        super().__init__(client, prefix=prefix)
        self.calls: list[tuple[str, list[str], list[str]]] = []
        recorder = self

        class _Scripts(Scripts):
            def __init__(self) -> None:  # nothing to register: calls are only recorded
                pass

            def __getitem__(self, name: str) -> Callable[..., None]:
                return lambda keys, args: recorder.calls.append((name, list(keys), [str(a) for a in args]))

        self.scripts = _Scripts()

    def _execute(self, steps: Steps[Any]) -> Any:
        return next(steps)()


async def _populate_overflow(url: str, agencies: list[str], desks: int, callers: int) -> None:
    """Callers of the first agency, none of its desks logged in; ``desks`` ready desks of the
    others, none cross-trained for it."""
    client = aioredis.Redis.from_url(url, decode_responses=True)
    routing = AsyncRouting(client, prefix=PREFIX)
    now = routing.clock() - callers
    others = agencies[1:]

    async def desk(i: int) -> None:
        await routing.register_desk(f"o{i}", others[i % len(others)])
        await routing.set_desk_state(f"o{i}", "ready")

    for start in range(0, desks, 64):
        await asyncio.gather(*(desk(i) for i in range(start, min(start + 64, desks))))
    for i in range(callers):
        await routing.arrive(f"c{i}", f"09{i:08d}", f"PJSIP/bench-{i}", now_ms=now + i)
        await routing.enqueue(f"c{i}", queue=agencies[0], priority=1, choice="1", route_reason="chosen",
                              now_ms=now + i)
    await client.aclose()


async def _populate(url: str, agencies: list[str], pairs: int) -> None:
    """``pairs`` ready desks and ``pairs`` waiting callers, spread over the agencies."""
    client = aioredis.Redis.from_url(url, decode_responses=True)
    routing = AsyncRouting(client, prefix=PREFIX)
    now = routing.clock() - pairs  # arrivals in the past, one ms apart

    async def one(i: int) -> None:
        agency = agencies[i % len(agencies)]
        await routing.register_desk(f"d{i}", agency)
        await routing.set_desk_state(f"d{i}", "ready")
        await routing.arrive(f"c{i}", f"09{i:08d}", f"PJSIP/bench-{i}", now_ms=now + i)
        await routing.enqueue(f"c{i}", queue=agency, priority=1, choice="1", route_reason="chosen", now_ms=now + i)

    for start in range(0, pairs, 64):  # redis-py's asyncio pool holds 100 connections
        await asyncio.gather(*(one(i) for i in range(start, min(start + 64, pairs))))
    await client.aclose()


def _redis_benchmark(host: str, port: int, requests: int, clients: int, command: list[str]) -> dict[str, float]:
    out = subprocess.run(["redis-benchmark", "-h", host, "-p", str(port), "--dbnum", str(BENCH_DB),
                          "-n", str(requests), "-c", str(clients), "--csv", *command],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    header, values = rows[0], rows[-1]
    row = dict(zip(header, values, strict=True))
    return {"ops_per_s": float(row["rps"]), "p50_ms": float(row["p50_latency_ms"]),
            "p95_ms": float(row["p95_latency_ms"]), "p99_ms": float(row["p99_latency_ms"]),
            "max_ms": float(row["max_latency_ms"])}


async def _sequential_claims(url: str, agencies: list[str], claims: int) -> dict[str, Any]:
    client = aioredis.Redis.from_url(url, decode_responses=True)
    routing = AsyncRouting(client, prefix=PREFIX)
    took: list[float] = []
    got = 0
    started = time.perf_counter()
    for _ in range(claims):
        t = time.perf_counter()
        claim = await routing.claim_next(agencies, RING_TIMEOUT_MS)
        took.append((time.perf_counter() - t) * 1000)
        got += claim is not None
    wall = time.perf_counter() - started
    await client.aclose()
    return {"ops_per_s": claims / wall, **{f"{k}_ms": v for k, v in summary_ms(took).items() if k != "n"},
            "claims_made": got}


def _claim_command(sync: redis.Redis, sha: str, agencies: list[str], batch: int,
                   overflow_after_ms: dict[str, int] | None = None) -> list[str]:
    """The EVALSHA the bridge would send (its KEYS and ARGV recorded from Routing)."""
    recorder = _CallRecorder(sync, PREFIX)
    recorder.claim_batch(agencies, RING_TIMEOUT_MS, batch, overflow_after_ms=overflow_after_ms)
    _, keys, argv = recorder.calls[-1]
    return ["EVALSHA", sha, str(len(keys)), *keys, *argv]


def claim_benchmark(redis_url: str, agencies: list[str], requests: int, clients: int, python_claims: int,
                    progress: Callable[[str], object] = print, batch: int = BATCH) -> dict[str, Any]:
    parts = urlsplit(redis_url)
    host, port = parts.hostname, parts.port
    if host is None or port is None:
        raise ValueError(f"the Redis URL has no host and port: {redis_url!r}")
    url = f"redis://{host}:{port}/{BENCH_DB}"
    sync = redis.Redis.from_url(url, decode_responses=True)
    sync.flushdb()
    pairs = requests + python_claims
    progress(f"    populating {pairs} ready desks and {pairs} waiting callers (db {BENCH_DB})")
    asyncio.run(_populate(url, agencies, pairs))
    sha = sync.script_load(script_sources()["claim_next"])
    offers = Keys(PREFIX).offers()
    offers_before = sync.zcard(offers)
    claim = _redis_benchmark(host, port, requests, clients, _claim_command(sync, sha, agencies, 1))
    claimed = sync.zcard(offers) - offers_before
    trivial = _redis_benchmark(host, port, requests, clients, ["EVAL", "return 1", "0"])
    python = asyncio.run(_sequential_claims(url, agencies, python_claims))

    # Batched: as many pairs again, claimed `batch` per call.
    sync.flushdb()
    calls = max(1, requests // batch)
    progress(f"    populating {calls * batch} pairs for {calls} batched claims of {batch}")
    asyncio.run(_populate(url, agencies, calls * batch))
    sha = sync.script_load(script_sources()["claim_next"])
    batched = _redis_benchmark(host, port, calls, clients, _claim_command(sync, sha, agencies, batch))
    batch_claimed = sync.zcard(offers)
    batched_claims_per_s = batched["ops_per_s"] * batch_claimed / calls

    # Overflow: the first agency's callers can only go to cross-trained desks, and there are none.
    sync.flushdb()
    asyncio.run(_populate_overflow(url, agencies, OVERFLOW_DESKS, 20))
    sha = sync.script_load(script_sources()["claim_next"])
    overflow = _redis_benchmark(host, port, requests, clients, _claim_command(
        sync, sha, agencies, 1, overflow_after_ms={agencies[0]: 60_000}))
    overflow_claimed = sync.zcard(offers)

    sync.flushdb()
    sha = sync.script_load(script_sources()["claim_next"])
    empty = _redis_benchmark(host, port, requests, clients, _claim_command(sync, sha, agencies, 1))
    trivial_after = _redis_benchmark(host, port, requests, clients, ["EVAL", "return 1", "0"])
    sync.flushdb()
    result = {
        "requests": requests, "clients": clients,
        "claim_next": {**claim, "claims_made": claimed},
        "eval_return_1": trivial,
        "ratio_ops": claim["ops_per_s"] / trivial["ops_per_s"],
        "ratio_p99": claim["p99_ms"] / trivial["p99_ms"] if trivial["p99_ms"] else None,
        "bridge_client_sequential": python,
        "claim_batch": {**batched, "batch": batch, "calls": calls, "claims_made": batch_claimed,
                        "claims_per_s": batched_claims_per_s},
        "ratio_batch_claims": batched_claims_per_s / trivial["ops_per_s"],
        "claim_overflow": {**overflow, "ready_desks_of_others": OVERFLOW_DESKS, "claims_made": overflow_claimed},
        "ratio_overflow_ops": overflow["ops_per_s"] / trivial["ops_per_s"],
        "claim_empty": empty,
        "ratio_empty_ops": empty["ops_per_s"] / trivial["ops_per_s"],
        "eval_return_1_after": trivial_after,
    }
    progress(f"    claim_next {claim['ops_per_s']:,.0f} ops/s p99 {claim['p99_ms']:.2f} ms "
             f"({claimed}/{requests} real claims); EVAL return 1 {trivial['ops_per_s']:,.0f} ops/s "
             f"p99 {trivial['p99_ms']:.2f} ms; redis-py sequential {python['ops_per_s']:,.0f} ops/s "
             f"p99 {python['p99_ms']:.2f} ms")
    progress(f"    batched by {batch}: {batched_claims_per_s:,.0f} claims/s ({batched['ops_per_s']:,.0f} calls/s, "
             f"{batch_claimed}/{calls * batch} real claims, p99 {batched['p99_ms']:.2f} ms per call) = "
             f"{result['ratio_batch_claims']:.2f} x EVAL; single = {result['ratio_ops']:.2f} x EVAL")
    progress(f"    overflow, {OVERFLOW_DESKS} ready desks of other agencies none cross-trained: "
             f"{overflow['ops_per_s']:,.0f} ops/s p99 {overflow['p99_ms']:.2f} ms ({overflow_claimed} claims) = "
             f"{result['ratio_overflow_ops']:.2f} x EVAL; empty claim {empty['ops_per_s']:,.0f} ops/s = "
             f"{result['ratio_empty_ops']:.2f} x EVAL (EVAL after: {trivial_after['ops_per_s']:,.0f} ops/s)")
    return result

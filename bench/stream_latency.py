"""The live stream's own share of a page's delay, with no browser in the way.

The pop and wallboard phases measure a Redis event → drawn on a page, through one headless
chromium per machine holding every page; with fifty pages on two cores chromium takes most of
the CPU, so those figures say more about the browser than about the server. Here N clients
read ``GET /events`` as the pages do (one signed-in session and one stream each) and, like the
wallboard, ``GET /board`` at most once a second after an event and every 5 s. A generator
changes desk states (``desk_set_state``) at a fixed rate; each event's delay is its SSE
message's arrival at a client minus the script's clock (``ms``). Both are this machine's wall
clock in ms. The API is its own process (``hotline api``), as in production.

    .venv/bin/python -m bench.stream_latency --clients 1,50 --rate 5 --duration 20

The result is the server's share: Redis stream → the API's per-connection XREAD → SSE over
loopback → the client has the line. Pairing, counting and the summary are pure functions
(tests/bench/test_stream_latency.py).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.stats import summary_ms
from config.settings import CitySettings, load_settings
from hotline.lab.ports import TCP, free_port
from hotline.lab.redis_server import start_redis_server, stop_process
from queueing.accounts import Accounts, check_user
from queueing.routing import Routing
from queueing.states import DeskState

VIEWER, PASSWORD = "stream-bench", "stream-bench-password-1"
BOARD_AT_MOST_S, BOARD_EVERY_S = 1.0, 5.0  # what the wallboard page does (api/static/supervisor.js)


@dataclass
class ClientLog:
    """What one client received: event id → arrival (ms), and each /board read's duration."""

    arrivals: dict[str, float] = field(default_factory=dict)
    board_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def sse_data_lines(lines: Iterable[str]) -> Iterable[dict[str, Any]]:
    """The JSON of each ``data:`` line of an event stream (comments and other fields skipped)."""
    for line in lines:
        if line.startswith("data:"):
            try:
                data = json.loads(line[5:].strip())
            except ValueError:
                continue
            if isinstance(data, dict):
                yield data


def pair(written: Mapping[str, float], clients: Sequence[ClientLog]) -> dict[str, Any]:
    """Each written event (id → its ``ms``) against each client's arrival of it."""
    delays = [log.arrivals[event_id] - at for log in clients for event_id, at in written.items()
              if event_id in log.arrivals]
    missed = sum(1 for log in clients for event_id in written if event_id not in log.arrivals)
    return {"events": len(written), "clients": len(clients), "received": len(delays), "missed": missed,
            "delay_ms": summary_ms(delays),
            "board_ms": summary_ms([ms for log in clients for ms in log.board_ms]),
            "board_reads": sum(len(log.board_ms) for log in clients),
            "client_errors": [e for log in clients for e in log.errors][:10]}


class ApiProcess:
    """``hotline api`` on 127.0.0.1:<free port> over ``redis_url``."""

    def __init__(self, city_file: Path, redis_url: str, workdir: Path) -> None:
        self.port = free_port(TCP)
        self.url = f"http://127.0.0.1:{self.port}"
        tokens = workdir / "tokens.json"
        # The API wants at least one token; the clients sign in with a session instead.
        unused = hashlib.sha256(secrets.token_bytes(32)).hexdigest()
        tokens.write_text(json.dumps({"tokens": [{"sha256": unused, "name": "stream bench", "role": "viewer"}]}),
                          encoding="utf-8")
        env = {**os.environ, "HOTLINE_CITY_FILE": str(city_file), "HOTLINE_REDIS_URL": redis_url,
               "HOTLINE_API_HOST": "127.0.0.1", "HOTLINE_API_PORT": str(self.port),
               "HOTLINE_API_TOKENS_FILE": str(tokens)}
        self.log = workdir / "api.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "hotline.cli", "api"], env=env,
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the API did not start on {self.url}:\n"
                                   + self.log.read_text(errors="replace")[-2000:])
            time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self.proc)


async def _client(url: str, log: ClientLog, stop: asyncio.Event, ready: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(30, read=None)) as http:
        signed = await http.post("/session", json={"user": VIEWER, "password": PASSWORD})
        if signed.status_code != 200:
            log.errors.append(f"sign-in {signed.status_code}: {signed.text[:80]}")
            ready.set()
            return
        last_board = 0.0

        async def board() -> None:
            t = time.perf_counter()
            try:
                reply = await http.get("/board")
                if reply.status_code == 200:
                    log.board_ms.append((time.perf_counter() - t) * 1000)
                else:
                    log.errors.append(f"/board {reply.status_code}")
            except httpx.HTTPError as exc:
                log.errors.append(f"/board {type(exc).__name__}")

        readers: set[asyncio.Task[None]] = set()

        def read_board() -> None:
            nonlocal last_board
            last_board = time.monotonic()
            task = asyncio.create_task(board())
            readers.add(task)
            task.add_done_callback(readers.discard)

        async with http.stream("GET", "/events") as stream:
            lines = stream.aiter_lines()
            while not stop.is_set():
                try:
                    line = await asyncio.wait_for(anext(lines), BOARD_EVERY_S)
                except TimeoutError:
                    read_board()
                    continue
                except (StopAsyncIteration, httpx.HTTPError) as exc:
                    log.errors.append(f"stream ended: {type(exc).__name__}")
                    break
                arrived = time.time() * 1000
                for data in sse_data_lines([line]):
                    if "ms" not in data:  # the opening "live" message
                        ready.set()
                        continue
                    log.arrivals[str(data.get("id", ""))] = arrived
                    if time.monotonic() - last_board >= BOARD_AT_MOST_S:
                        read_board()
        ready.set()
        await asyncio.gather(*readers, return_exceptions=True)


def _generate(routing: Routing, desks: Sequence[str], rate: float, duration_s: float,
              written: dict[str, float]) -> None:
    """Desk state changes at ``rate`` per second: each desk ready ↔ paused in turn."""
    states = {d: DeskState.READY for d in desks}
    for desk in desks:
        routing.set_desk_state(desk, DeskState.READY)
    every = 1.0 / rate
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < duration_s:
        desk = desks[n % len(desks)]
        nxt = DeskState.PAUSED if states[desk] == DeskState.READY else DeskState.READY
        now_ms = int(time.time() * 1000)
        routing.set_desk_state(desk, nxt, reason="bench" if nxt == DeskState.PAUSED else "", now_ms=now_ms)
        states[desk] = nxt
        newest = routing.events(1)
        if newest and newest[-1].get("desk_id") == desk:
            written[newest[-1]["id"]] = float(newest[-1]["ms"])
        n += 1
        time.sleep(max(0.0, start + n * every - time.monotonic()))


def measure(url: str, routing: Routing, city: CitySettings, clients: int, rate: float,
            duration_s: float) -> dict[str, Any]:
    logs = [ClientLog() for _ in range(clients)]
    written: dict[str, float] = {}

    async def main() -> None:
        stop = asyncio.Event()
        readies = [asyncio.Event() for _ in logs]
        tasks = [asyncio.create_task(_client(url, log, stop, ready)) for log, ready in zip(logs, readies, strict=True)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
        generator = threading.Thread(target=_generate, args=(routing, [d.id for d in city.desks], rate,
                                                               duration_s, written), daemon=True)
        generator.start()
        await asyncio.to_thread(generator.join)
        await asyncio.sleep(2.0)  # the last events' delivery
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    return {"rate": rate, "duration_s": duration_s, **pair(written, logs)}


def run(city_file: Path, client_counts: Sequence[int], rate: float, duration_s: float) -> dict[str, Any]:
    city = load_settings(city_file)
    with tempfile.TemporaryDirectory(prefix="stream-bench-") as tmp:
        workdir = Path(tmp)
        server = start_redis_server(workdir / "redis")
        url = server.url
        api: ApiProcess | None = None
        try:
            client = redis.Redis.from_url(url, decode_responses=True)
            routing = Routing(client)
            for desk in city.desks:
                routing.register_desk(desk.id, desk.agency, cross_trained=desk.cross_trained)
            Accounts(client).add_user(check_user(city, VIEWER, "viewer", None, None), PASSWORD)
            api = ApiProcess(city_file, url, workdir)
            results = []
            for n in client_counts:
                row = measure(api.url, routing, city, n, rate, duration_s)
                d, b = row["delay_ms"], row["board_ms"]
                print(f"{n:>4} clients: {row['received']} of {row['events'] * n} deliveries, {row['missed']} missed; "
                      f"event → client p50 {d['p50'] or 0:.1f} ms p95 {d['p95'] or 0:.1f} ms "
                      f"max {d['max'] or 0:.1f} ms; /board p50 {b['p50'] or 0:.1f} ms p95 {b['p95'] or 0:.1f} ms "
                      f"({row['board_reads']} reads)" + (f"; errors: {row['client_errors']}" if row["client_errors"] else ""),
                      flush=True)
                results.append(row)
            return {"city_file": str(city_file), "results": results}
        finally:
            if api is not None:
                api.stop()
            server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", default="1,50", help="client counts to measure one after another (default 1,50)")
    p.add_argument("--rate", type=float, default=5.0, help="desk state changes per second (default 5)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of changes per client count (default 20)")
    p.add_argument("--city", type=Path, default=Path("hotline.toml"))
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    result = run(args.city, [int(n) for n in args.clients.split(",")], args.rate, args.duration)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

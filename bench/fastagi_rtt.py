"""FastAGI command round trip with many sessions at once, as a fake Asterisk sees it: from
sending the reply to one command to receiving the next command.

Two servers: the bridge's own FastAGI server with its real ``ivr`` route (replies
replayed as Asterisk gives them to a caller who presses 1 during the first prompt; each
call also creates and queues a record in the lab's Redis), and hotline's FastAGI server
with a bare ``echo`` route (bench.agi_echo) for the protocol alone. The fake Asterisk is
one asyncio process, so its own scheduling is inside the figures."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.stats import summary_ms
from hotline.lab.ports import TCP, free_port

# What Asterisk answers to each command of a call that presses 1 at once.
_REPLIES = {
    "STREAM FILE": b"200 result=49 endpos=4000\n",  # key "1" during the prompt
    "WAIT FOR DIGIT": b"200 result=49\n",
    "SET VARIABLE": b"200 result=1\n",
    "GET VARIABLE": b"200 result=1 (bench)\n",
}


def _environment(route: str, port: int, call_id: str) -> bytes:
    lines = {
        "agi_network": "yes", "agi_network_script": route, "agi_request": f"agi://127.0.0.1:{port}/{route}",
        "agi_channel": f"PJSIP/bench-fastagi-{call_id}", "agi_language": "en", "agi_type": "PJSIP",
        "agi_uniqueid": call_id, "agi_version": "22.0.0", "agi_callerid": "0900000000",
        "agi_calleridname": "bench", "agi_callingpres": "0", "agi_dnid": "112", "agi_rdnis": "unknown",
        "agi_context": "hotline-inbound", "agi_extension": "112", "agi_priority": "7", "agi_enhanced": "0.0",
        "agi_accountcode": "", "agi_threadid": "1",
    }
    return ("".join(f"{k}: {v}\n" for k, v in lines.items()) + "\n").encode()


async def _session(port: int, route: str, calls: int, commands_per_call: int, tag: str,
                   rtts: list[float], starts: list[float], call_ids: list[str], errors: list[str]) -> None:
    for n in range(calls):
        call_id = f"{tag}-{n}"
        call_ids.append(call_id)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            errors.append(f"connect: {exc}")
            continue
        sent = time.perf_counter()
        writer.write(_environment(route, port, call_id))
        await writer.drain()
        first, answered = True, 0
        try:
            while True:
                line = await asyncio.wait_for(reader.readline(), 30)
                now = time.perf_counter()
                if not line:
                    break  # the route ended the session
                (starts if first else rtts).append((now - sent) * 1000)
                first = False
                if route == "echo" and answered >= commands_per_call:
                    break  # the caller hangs up
                verb = next((v for v in _REPLIES if line.startswith(v.encode())), "")
                writer.write(_REPLIES.get(verb, b"200 result=0\n"))
                sent = time.perf_counter()
                answered += 1
                await writer.drain()
        except (TimeoutError, OSError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            writer.close()


async def _run(port: int, route: str, sessions: int, calls: int, commands_per_call: int, tag: str) -> dict[str, Any]:
    rtts: list[float] = []
    starts: list[float] = []
    call_ids: list[str] = []
    errors: list[str] = []
    started = time.perf_counter()
    await asyncio.gather(*(_session(port, route, calls, commands_per_call, f"{tag}{i}", rtts, starts, call_ids, errors)
                           for i in range(sessions)))
    wall = time.perf_counter() - started
    return {"route": route, "sessions": sessions, "calls": len(call_ids), "commands": len(rtts) + len(starts),
            "commands_per_s": (len(rtts) + len(starts)) / wall, "round_trip_ms": summary_ms(rtts),
            "first_command_ms": summary_ms(starts), "errors": len(errors), "error_sample": errors[:3],
            "call_ids": call_ids}


def bridge_ivr_round_trips(agi_port: int, sessions: int, calls_per_session: int, tag: str) -> dict[str, Any]:
    """The bridge's ``ivr`` route; the caller ids are returned so their records can be closed."""
    return asyncio.run(_run(agi_port, "ivr", sessions, calls_per_session, 0, tag))


def echo_round_trips(sessions: int, calls_per_session: int, commands_per_call: int,
                     log_path: Path) -> dict[str, Any]:
    port = free_port(TCP)
    server = subprocess.Popen([sys.executable, "-m", "bench.agi_echo", str(port)], stdin=subprocess.DEVNULL,
                              stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("bench.agi_echo did not start") from None
                time.sleep(0.1)
        result = asyncio.run(_run(port, "echo", sessions, calls_per_session, commands_per_call, "echo"))
    finally:
        server.terminate()
        server.wait(5)
    result.pop("call_ids")
    return result

"""Bad clients on the FastAGI port (issue 4): dropped, logged, and no harm to real calls.

A real ``FastAgiServer`` on 127.0.0.1 with a route that plays the bridge's side of a recorded
Asterisk 22 session. While 20 normal sessions (the recording, replayed as Asterisk) run, the
same port gets, all at once: garbage (random bytes), oversized environments (> 16 KiB), slow
clients (1 byte a second), clients that connect and close (politely, or with a reset), and
clients that stop halfway through their environment. Every normal session must complete
exactly as recorded, every bad client must be dropped and logged with its address, and no
session task may be left behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
import socket
import struct

from telephony import agi_server
from telephony.agi_protocol import MAX_ENVIRONMENT_BYTES
from telephony.agi_server import AgiChannel, FastAgiServer
from tests.replay import AgiRecording, agi_recording, replay

RECORDING = agi_recording("agi_presses_1.agi")
NORMAL_SESSIONS = 20
ENVIRONMENT_DEADLINE_S = 1.5  # the server's deadline for a whole environment, shortened for the test
SLOW_BYTE_INTERVAL_S = 1.0  # a slow client's pace: one byte a second
CLIENT_BOUND_S = 10.0  # no client of this test waits longer than this for the server
SEED = 20240404  # random bytes, the same on every run


def parse_command(line: str) -> tuple[str, list[str]]:
    """'SET VARIABLE "HOTLINE_LANG" "vi"' → ("SET VARIABLE", ["HOTLINE_LANG", "vi"])."""
    verb, _, rest = line.partition(' "')
    args = re.findall(r'"((?:[^"\\]|\\.)*)"', '"' + rest) if rest else []
    return verb.strip(), [re.sub(r"\\(.)", r"\1", a) for a in args]


class ReplayRoute:
    """The bridge's side of RECORDING: sends its commands in order, keeps what it heard."""

    def __init__(self, recording: AgiRecording):
        self.commands = [parse_command(line) for line in recording.bridge_lines]
        self.completed: dict[str, list[str | None]] = {}  # uniqueid → the digit of each reply

    async def __call__(self, agi: AgiChannel) -> None:
        digits = []
        for verb, args in self.commands:
            digits.append((await agi.send(verb, *args)).digit)
        self.completed[agi.env.uniqueid] = digits


def session(n: int) -> AgiRecording:
    """The recording as call n: its own channel and uniqueid."""
    env = (RECORDING.environment
           .replace(b"PJSIP/citizens-00000000", f"PJSIP/citizens-{n:08x}".encode())
           .replace(b"agi_uniqueid: hotline-rec-1795594136.0", f"agi_uniqueid: fuzz-{n}".encode()))
    return dataclasses.replace(RECORDING, name=f"{RECORDING.name}#{n}", environment=env)


# --- bad clients: each returns its own address (what the server logs) ----------------------------


async def wait_for_drop(reader: asyncio.StreamReader) -> None:
    """Until the server closes the connection (EOF or reset); fails after CLIENT_BOUND_S."""
    try:
        while await asyncio.wait_for(reader.read(65536), CLIENT_BOUND_S):
            pass
    except (ConnectionError, OSError):
        pass


async def finish(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


async def sends_then_waits(port: int, data: bytes) -> tuple:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    me = writer.get_extra_info("sockname")
    try:
        writer.write(data)
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # dropped while still sending (an oversized environment)
        await wait_for_drop(reader)
    finally:
        await finish(writer)
    return me


async def sends_then_closes(port: int, data: bytes) -> tuple:
    """Part of an environment (or nothing), then a polite close."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    me = writer.get_extra_info("sockname")
    writer.write(data)
    await writer.drain()
    writer.write_eof()
    await wait_for_drop(reader)
    await finish(writer)
    return me


async def sends_then_resets(port: int, data: bytes) -> tuple:
    """Connects, maybe sends, and aborts with a TCP reset (SO_LINGER 0)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    me = writer.get_extra_info("sockname")
    if data:
        writer.write(data)
        await writer.drain()
        await asyncio.sleep(0.05)  # let the server start reading
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    return me


async def trickles(port: int, data: bytes) -> tuple:
    """A slow client: one byte a second, until the server hangs up on it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    me = writer.get_extra_info("sockname")

    async def drip():
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(SLOW_BYTE_INTERVAL_S)

    dripping = asyncio.create_task(drip())
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await wait_for_drop(reader)
        # dropped at the environment deadline, long before the environment could have arrived
        assert loop.time() - started < ENVIRONMENT_DEADLINE_S + 3.0
        assert not dripping.done()
    finally:
        dripping.cancel()
        try:
            await dripping
        except (asyncio.CancelledError, ConnectionError, OSError):
            pass
        await finish(writer)
    return me


def bad_clients(port: int) -> dict[str, list]:
    """Coroutines by kind (what the server should say when it drops them)."""
    rnd = random.Random(SEED)
    env = RECORDING.environment
    garbage = [rnd.randbytes(rnd.randint(1, 4096)) for _ in range(6)]
    garbage += [rnd.randbytes(rnd.randint(1, 512)) + b"\n\n" for _ in range(4)]  # "ends" like an environment
    garbage += [b"\n\n", b"HANGUP\n\n", b"agi_network_script: ivr\n\n", b"\xff\xfe\x00a\n\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]
    pad = b"".join(b"agi_pad%d: %s\n" % (i, b"x" * 100) for i in range(200))
    oversized = [env[:-1] + pad + b"\n", pad + env, b"a" * (MAX_ENVIRONMENT_BYTES + 10),
                 b"agi_x: y\n" * (4 * MAX_ENVIRONMENT_BYTES // 9)]
    return {
        "garbage": [sends_then_waits(port, g) for g in garbage],
        "oversized": [sends_then_waits(port, o) for o in oversized],
        "slow": [trickles(port, env) for _ in range(3)],
        "connect_close": [sends_then_closes(port, b"") for _ in range(4)],
        "partial_close": [sends_then_closes(port, env[: rnd.randint(1, len(env) - 2)]) for _ in range(3)],
        "reset": [sends_then_resets(port, b"") for _ in range(2)] + [sends_then_resets(port, env[:100]) for _ in range(2)],
    }


def test_bad_clients_are_dropped_and_normal_calls_complete(monkeypatch, caplog):
    monkeypatch.setattr(agi_server, "ENVIRONMENT_DEADLINE_S", ENVIRONMENT_DEADLINE_S)
    caplog.set_level(logging.INFO)
    route = ReplayRoute(RECORDING)

    async def main():
        server = FastAgiServer({"ivr": route})
        await server.start("127.0.0.1", 0)
        port = server._server.sockets[0].getsockname()[1]
        try:
            kinds = bad_clients(port)
            bad = [(kind, c) for kind, coros in kinds.items() for c in coros]
            normal = [replay(port, session(n)) for n in range(NORMAL_SESSIONS)]
            mixed = [c for _, c in bad] + normal
            random.Random(SEED).shuffle(mixed)  # start them interleaved
            results = await asyncio.wait_for(asyncio.gather(*mixed, return_exceptions=True), 30)
            by_coro = dict(zip(mixed, results, strict=True))
            # every session task ends with its client; give the last ones a moment to unwind
            for _ in range(100):
                if not server.active:
                    break
                await asyncio.sleep(0.02)
            active = set(server.active)
            return [(kind, by_coro[c]) for kind, c in bad], [by_coro[c] for c in normal], active
        finally:
            await server.close()
            leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            assert not leftover, f"tasks left behind: {leftover}"

    bad, normal, active = asyncio.run(main())

    # every normal call went exactly as recorded, whatever else hit the port meanwhile
    for n, result in enumerate(normal):
        assert not isinstance(result, BaseException), f"normal session {n}: {result!r}"
        assert result == RECORDING.bridge_lines, f"normal session {n}"
    assert sorted(route.completed) == sorted(f"fuzz-{n}" for n in range(NORMAL_SESSIONS))
    menu = next(i for i, line in enumerate(RECORDING.bridge_lines) if line.startswith("STREAM FILE"))
    assert all(digits[menu] == "1" for digits in route.completed.values())  # the recorded caller pressed 1 in the menu

    # every bad client was dropped, and the log names it
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, "errors logged: " + "; ".join(r.getMessage() for r in errors)
    drops = [r for r in caplog.records if r.name == "hotline.agi" and "dropped" in r.getMessage()]
    dropped_peers = [tuple(r.args[0]) if r.args[0] else None for r in drops]
    unnamed = 0
    for kind, result in bad:
        assert not isinstance(result, BaseException), f"{kind} client: {result!r}"
        if tuple(result) not in dropped_peers:
            # a client reset before the server accepted it has no address left to log
            assert kind == "reset", f"{kind} client {result} was not logged as dropped"
            unnamed += 1
    assert dropped_peers.count(None) == unnamed
    assert len(drops) == len(bad)
    expected_words = {"oversized": "over", "slow": "no complete environment", "connect_close": "closed before",
                      "partial_close": "closed before"}
    for kind, result in bad:
        if kind in expected_words:
            said = [r.getMessage() for r in drops if r.args[0] and tuple(r.args[0]) == tuple(result)]
            assert any(expected_words[kind] in m for m in said), (kind, said)

    # no session task left behind
    assert not active, f"server.active not empty: {active}"

"""The FastAGI server Asterisk hands each citizen's call to.

panoramisk's ``fast_agi.Application`` reads the environment with no size or time limit
(a client that closes early makes it spin), so the socket side is ours: bounded reads,
a deadline for the environment, one task per call. Replies are parsed with panoramisk's
AGI result parser (``agi_protocol.parse_reply``).

A handler that fails never drops the caller: the AGI session just ends, and the dialplan
sends the caller to Asterisk's own fallback queue because HOTLINE_ROUTE was not set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telephony.agi_protocol import (
    MAX_ENVIRONMENT_BYTES,
    AgiEnvironment,
    AgiEnvironmentError,
    AgiReply,
    command,
    parse_environment,
    parse_reply,
)

log = logging.getLogger("hotline.agi")

ENVIRONMENT_DEADLINE_S = 5.0  # Asterisk sends the whole environment at once
REPLY_DEADLINE_S = 120.0  # the longest single command (a prompt) we ever send


class CallerHungUp(Exception):
    """The caller's channel is gone; stop talking to it."""


class AgiChannel:
    """One caller's AGI session: send a command, get its reply."""

    def __init__(self, env: AgiEnvironment, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.env = env
        self._reader = reader
        self._writer = writer
        self.hung_up = False

    async def send(self, verb: str, *args: str | int) -> AgiReply:
        if self.hung_up:
            raise CallerHungUp(self.env.channel)
        self._writer.write((command(verb, *args) + "\n").encode())
        await self._writer.drain()
        while True:
            line = await asyncio.wait_for(self._reader.readline(), REPLY_DEADLINE_S)
            if not line:
                self.hung_up = True
                raise CallerHungUp(self.env.channel)
            reply = parse_reply(line.decode("utf-8", "replace"))
            if reply.code == 100:  # "100 result=0 Trying..." precedes the real reply
                continue
            if reply.code == 520 and line.startswith(b"520-"):
                # usage text follows until "520 End of proper usage."
                while not (await self._reader.readline()).startswith(b"520 "):
                    pass
            if reply.line == "HANGUP":  # result=-1 alone may also mean a missing file
                self.hung_up = True
            return reply

    async def set_variable(self, name: str, value: str) -> None:
        await self.send("SET VARIABLE", name, value)


Handler = Callable[[AgiChannel], Awaitable[None]]


class FastAgiServer:
    def __init__(self, routes: dict[str, Handler]):
        self.routes = routes
        self.active: set[asyncio.Task[Any]] = set()
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, host, port, limit=MAX_ENVIRONMENT_BYTES)
        log.info("FastAGI listening on %s:%s, routes: %s", host, port, ", ".join(sorted(self.routes)))

    async def close(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # a connection callback of start_server runs in its own task
        self.active.add(task)
        peer = writer.get_extra_info("peername")
        try:
            env = await self._read_environment(reader, peer)
            if env is None:
                return
            handler = self.routes.get(env.script)
            if handler is None:
                log.error("FastAGI from %s asked for unknown script %r (channel %s); "
                          "the dialplan sends the caller to the fallback queue", peer, env.script, env.channel)
                return
            try:
                await handler(AgiChannel(env, reader, writer))
            except CallerHungUp:
                log.info("caller hung up during AGI %s (channel %s)", env.script, env.channel)
            except Exception:
                log.exception("AGI %s failed for channel %s; the dialplan falls back", env.script, env.channel)
        finally:
            self.active.discard(task)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def _read_environment(self, reader: asyncio.StreamReader, peer: Any) -> AgiEnvironment | None:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\n\n"), ENVIRONMENT_DEADLINE_S)
        except TimeoutError:
            log.warning("FastAGI client %s sent no complete environment within %.0f s; dropped", peer, ENVIRONMENT_DEADLINE_S)
            return None
        except asyncio.IncompleteReadError:
            log.warning("FastAGI client %s closed before the end of its environment; dropped", peer)
            return None
        except asyncio.LimitOverrunError:
            log.warning("FastAGI client %s sent an environment over %d bytes; dropped", peer, MAX_ENVIRONMENT_BYTES)
            return None
        except (ConnectionError, OSError) as exc:  # after TimeoutError, itself an OSError
            log.warning("FastAGI client %s reset the connection before the end of its environment (%s); dropped", peer, exc)
            return None
        try:
            return parse_environment(raw)
        except AgiEnvironmentError as exc:
            log.warning("FastAGI client %s sent a malformed environment (%s); dropped", peer, exc)
            return None

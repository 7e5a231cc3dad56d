"""telephony.agi_server: a real FastAgiServer on 127.0.0.1, asyncio streams as Asterisk."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from telephony import agi_server
from telephony.agi_protocol import MAX_ENVIRONMENT_BYTES, AgiReply
from telephony.agi_server import AgiChannel, CallerHungUp, FastAgiServer
from tests.replay import agi_recording, expect_closed, read_line

ENV = agi_recording("agi_presses_1.agi").environment
STEP = 5.0


def env_for(script: str = "ivr", channel: str = "PJSIP/citizens-00000000") -> bytes:
    return (ENV.replace(b"agi_network_script: ivr\n", f"agi_network_script: {script}\n".encode())
            .replace(b"PJSIP/citizens-00000000", channel.encode()))


class Recorder:
    """A route handler: sends a few commands and keeps what it saw."""

    def __init__(self):
        self.sessions: list[str] = []
        self.replies: list[AgiReply] = []
        self.done = asyncio.Event()

    async def __call__(self, agi: AgiChannel) -> None:
        self.sessions.append(agi.env.channel)
        self.replies.append(await agi.send("ANSWER"))
        self.replies.append(await agi.send("STREAM FILE", "hotline/vi/menu", "0123456789*#"))
        await agi.set_variable("HOTLINE_ROUTE", "queued")
        self.done.set()


def run_with_server(routes: dict[str, Callable], scenario: Callable[[int, FastAgiServer], Awaitable]):
    async def main():
        server = FastAgiServer(routes)
        await server.start("127.0.0.1", 0)
        port = server._server.sockets[0].getsockname()[1]
        try:
            return await asyncio.wait_for(scenario(port, server), 20)
        finally:
            await server.close()
    return asyncio.run(main())


async def normal_session(port: int, channel: str = "PJSIP/citizens-00000000") -> list[str]:
    """Asterisk's side of a Recorder session; returns the commands the bridge sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    got = []
    writer.write(env_for(channel=channel))
    got.append(await read_line(reader))
    writer.write(b"200 result=0\n")
    got.append(await read_line(reader))
    writer.write(b"100 result=0 Trying...\n200 result=49 endpos=9120\n")
    got.append(await read_line(reader))
    writer.write(b"200 result=1\n")
    assert await expect_closed(reader) == b""
    writer.close()
    return got


RECORDER_COMMANDS = ["ANSWER", 'STREAM FILE "hotline/vi/menu" "0123456789*#"', 'SET VARIABLE "HOTLINE_ROUTE" "queued"']


def test_normal_session_with_a_recorded_environment(caplog):
    handler = Recorder()

    async def scenario(port, server):
        commands = await normal_session(port)
        return commands, server.active

    commands, active = run_with_server({"ivr": handler}, scenario)
    assert commands == RECORDER_COMMANDS
    assert handler.sessions == ["PJSIP/citizens-00000000"]
    assert [(r.code, r.result, r.digit) for r in handler.replies] == [(200, "0", None), (200, "49", "1")]
    assert active == set()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_handler_gets_the_parsed_environment():
    seen = {}

    async def handler(agi):
        seen["env"] = agi.env

    async def scenario(port, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(ENV)
        assert await expect_closed(reader) == b""
        writer.close()

    run_with_server({"ivr": handler}, scenario)
    env = seen["env"]
    assert (env.script, env.channel, env.uniqueid, env.caller_number) == (
        "ivr", "PJSIP/citizens-00000000", "hotline-rec-1795594136.0", "0912345678")


def test_unknown_script_closes_the_connection_and_says_why(caplog):
    handler = Recorder()

    async def scenario(port, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(env_for("menu-v2", channel="PJSIP/citizens-00000042"))
        data = await expect_closed(reader)
        writer.close()
        return data

    caplog.set_level(logging.INFO, logger="hotline.agi")
    assert run_with_server({"ivr": handler}, scenario) == b""
    assert handler.sessions == []
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert "unknown script 'menu-v2'" in message
    assert "PJSIP/citizens-00000042" in message
    assert "fallback" in message
    assert errors[0].exc_info is None


def _dropped(caplog, needle: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "hotline.agi" and r.levelno == logging.WARNING
            and needle in r.getMessage()]


async def _garbage(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\xff\xfe\n\n")
    data = await expect_closed(reader)
    writer.close()
    return data


async def _http_request(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /ivr HTTP/1.1\r\nHost: x\n\n")
    data = await expect_closed(reader)
    writer.close()
    return data


async def _closes_early(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(ENV[:200])
    await writer.drain()
    writer.write_eof()
    data = await expect_closed(reader)
    writer.close()
    return data


async def _oversized(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # endless agi_ lines, never the blank line: the server must stop reading at its limit
    line = b"agi_arg_1: " + b"x" * 100 + b"\n"
    try:
        for _ in range(2 * MAX_ENVIRONMENT_BYTES // len(line)):
            writer.write(line)
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    try:
        data = await expect_closed(reader)
    except ConnectionResetError:
        data = b""
    writer.close()
    return data


DROPS = {
    "garbage": (_garbage, "malformed environment"),
    "http": (_http_request, "malformed environment"),
    "closes-early": (_closes_early, "closed before the end of its environment"),
    "oversized": (_oversized, f"environment over {MAX_ENVIRONMENT_BYTES} bytes"),
}


@pytest.mark.parametrize("case", sorted(DROPS))
def test_bad_clients_are_dropped_with_a_log_line_while_a_normal_session_goes_on(case, caplog):
    client, needle = DROPS[case]
    handler = Recorder()

    async def scenario(port, server):
        bad = asyncio.create_task(client(port))
        good = await normal_session(port)
        return await bad, good, server.active

    bad_data, good, active = run_with_server({"ivr": handler}, scenario)
    assert bad_data == b""  # nothing was ever sent to the bad client
    assert good == RECORDER_COMMANDS
    assert handler.sessions == ["PJSIP/citizens-00000000"]
    assert len(_dropped(caplog, needle)) == 1, [r.getMessage() for r in caplog.records]
    assert "dropped" in _dropped(caplog, needle)[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]
    assert active == set()


def test_a_slow_client_is_dropped_at_the_deadline_and_does_not_hold_up_others(caplog, monkeypatch):
    monkeypatch.setattr(agi_server, "ENVIRONMENT_DEADLINE_S", 1.0)
    handler = Recorder()
    loop_time = {}

    async def scenario(port, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(ENV[:-1])  # everything but the blank line, then silence
        await writer.drain()
        start = asyncio.get_running_loop().time()
        good = await normal_session(port)
        loop_time["good_done"] = asyncio.get_running_loop().time() - start
        slow_still_open = not reader.at_eof()
        active_during = len(server.active)
        data = await expect_closed(reader, timeout=5)
        loop_time["slow_closed"] = asyncio.get_running_loop().time() - start
        writer.close()
        return good, slow_still_open, active_during, data, server.active

    good, slow_still_open, active_during, data, active = run_with_server({"ivr": handler}, scenario)
    assert good == RECORDER_COMMANDS
    assert slow_still_open and active_during == 1  # the normal call finished while the slow one waited
    assert loop_time["good_done"] < 1.0
    assert 0.8 < loop_time["slow_closed"] < 3.0
    assert data == b""
    assert active == set()
    [record] = _dropped(caplog, "sent no complete environment within 1 s")
    assert "dropped" in record.getMessage()


def test_a_failing_handler_is_logged_and_the_connection_closed(caplog):
    async def broken(agi):
        await agi.send("ANSWER")
        raise RuntimeError("prompt table corrupt")

    async def scenario(port, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(ENV)
        first = await read_line(reader)
        writer.write(b"200 result=0\n")
        rest = await expect_closed(reader)
        writer.close()
        # the server keeps serving
        return first, rest

    first, rest = run_with_server({"ivr": broken}, scenario)
    assert (first, rest) == ("ANSWER", b"")
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.name == "hotline.agi"
    assert "AGI ivr failed for channel PJSIP/citizens-00000000" in record.getMessage()
    assert "falls back" in record.getMessage()
    assert record.exc_info[0] is RuntimeError
    assert "prompt table corrupt" in str(record.exc_info[1])


def test_the_server_keeps_serving_after_a_failing_handler():
    calls = []

    async def flaky(agi):
        calls.append(agi.env.channel)
        if len(calls) == 1:
            raise RuntimeError("boom")
        await Recorder()(agi)

    async def scenario(port, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(ENV)
        assert await expect_closed(reader) == b""
        writer.close()
        return await normal_session(port, channel="PJSIP/citizens-00000009")

    assert run_with_server({"ivr": flaky}, scenario) == RECORDER_COMMANDS
    assert calls == ["PJSIP/citizens-00000000", "PJSIP/citizens-00000009"]


def test_caller_hanging_up_mid_session_is_logged_as_info(caplog):
    outcome = {}

    async def handler(agi):
        try:
            await agi.send("STREAM FILE", "hotline/vi/menu", "")
        except CallerHungUp:
            outcome["hung_up"] = agi.hung_up
            raise

    async def scenario(port, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(ENV)
        await read_line(reader)
        writer.close()  # Asterisk drops the socket when the channel is gone
        await asyncio.sleep(0.2)

    caplog.set_level(logging.INFO, logger="hotline.agi")
    run_with_server({"ivr": handler}, scenario)
    assert outcome == {"hung_up": True}
    infos = [r.getMessage() for r in caplog.records if r.name == "hotline.agi" and r.levelno == logging.INFO]
    assert "caller hung up during AGI ivr (channel PJSIP/citizens-00000000)" in infos
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_usage_text_after_520_is_skipped_and_the_next_reply_is_read():
    replies = []

    async def handler(agi):
        replies.append(await agi.send("STREAM FILE", "x"))
        replies.append(await agi.send("NOOP"))
        replies.append(await agi.send("STREAM FILE", "hotline/vi/menu", "1"))

    async def scenario(port, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(ENV)
        assert await read_line(reader) == 'STREAM FILE "x"'
        writer.write(b"520-Invalid command syntax.  Proper usage follows:\n"
                     b" Usage: STREAM FILE <filename> <escape_digits> [<sample offset>]\n"
                     b"   Send the given file, allowing playback to be interrupted by the given digits.\n"
                     b"520 End of proper usage.\n")
        assert await read_line(reader) == 'NOOP'
        writer.write(b"510 Invalid or unknown command\n")
        assert await read_line(reader) == 'STREAM FILE "hotline/vi/menu" "1"'
        writer.write(b"200 result=49 endpos=100\n")
        assert await expect_closed(reader) == b""
        writer.close()

    run_with_server({"ivr": handler}, scenario)
    assert [(r.ok, r.code, r.digit) for r in replies] == [(False, 520, None), (False, 510, None), (True, 200, "1")]


def test_a_hangup_line_marks_the_channel_hung_up_and_refuses_further_commands():
    outcome = {}

    async def handler(agi):
        reply = await agi.send("STREAM FILE", "hotline/vi/menu", "0123456789*#")
        # result=-1 alone is ambiguous (a missing file gives it too): not yet hung up
        outcome["reply"] = (reply.hangup, agi.hung_up)
        status = await agi.send("CHANNEL STATUS")
        outcome["status"] = (status.line, agi.hung_up)
        try:
            await agi.send("NOOP")
        except CallerHungUp as exc:
            outcome["refused"] = str(exc)

    async def scenario(port, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(ENV)
        await read_line(reader)
        writer.write(b"200 result=-1 endpos=5760\nHANGUP\n")
        assert await read_line(reader) == "CHANNEL STATUS"
        assert await expect_closed(reader) == b""  # no NOOP was sent
        writer.close()

    run_with_server({"ivr": handler}, scenario)
    assert outcome == {"reply": (True, False), "status": ("HANGUP", True), "refused": "PJSIP/citizens-00000000"}


def test_no_reply_within_the_deadline_ends_the_session(caplog, monkeypatch):
    monkeypatch.setattr(agi_server, "REPLY_DEADLINE_S", 0.3)

    async def handler(agi):
        await agi.send("ANSWER")

    async def scenario(port, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(ENV)
        await read_line(reader)
        data = await expect_closed(reader)  # we never answer
        writer.close()
        return data

    assert run_with_server({"ivr": handler}, scenario) == b""
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "AGI ivr failed for channel PJSIP/citizens-00000000" in record.getMessage()

"""telephony.ivr_call.IvrCall behind a real FastAgiServer, driven by replaying the FastAGI
exchanges recorded from Asterisk 22 with the e2e city, against the test Redis."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from config.names import IvrMode
from config.settings import load_settings
from queueing import AsyncRouting
from queueing.audit import audit
from telephony.agi_protocol import parse_reply
from telephony.agi_server import FastAgiServer
from telephony.ivr_call import IvrCall, logged_keys
from tests.replay import AGI_RECORDINGS, E2E_CITY, ReplayMismatch, agi_recording, replay

CITY = load_settings(E2E_CITY)
ROUTE_QUEUED = 'SET VARIABLE "HOTLINE_ROUTE" "queued"'


def run_replay(routing_factory, name: str, city=CITY, **replay_kw):
    """Serve IvrCall on a free port, replay recording ``name`` against it; returns the
    commands the bridge sent."""
    recording = agi_recording(name)

    async def main():
        client, routing = routing_factory()
        server = FastAgiServer({"ivr": IvrCall(city, routing)})
        await server.start("127.0.0.1", 0)
        port = server._server.sockets[0].getsockname()[1]
        try:
            return await asyncio.wait_for(replay(port, recording, **replay_kw), 20)
        finally:
            await server.close()
            await client.aclose()

    return asyncio.run(main())


@pytest.fixture
def routing_factory(redis_url, redis_client):
    redis_client.flushdb()

    def make():
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        return client, AsyncRouting(client)
    return make


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unreachable_routing():
    # from_url, as the bridge makes its client (the plain constructor retries for seconds)
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", decode_responses=True,
                                     socket_timeout=0.5, socket_connect_timeout=0.5)
    return client, AsyncRouting(client)


def test_the_recordings_were_made_with_the_e2e_city():
    assert CITY.hotline.languages == ["vi", "en"]
    assert CITY.ivr.no_input_timeout_s == 2.0  # WAIT FOR DIGIT "2000" in agi_silent.agi
    assert AGI_RECORDINGS == ["agi_hangs_up_in_menu.agi", "agi_missing_prompt.agi", "agi_presses_1.agi", "agi_silent.agi"]


def test_caller_presses_1(routing_factory, redis_client):
    recording = agi_recording("agi_presses_1.agi")
    sent = run_replay(routing_factory, "agi_presses_1.agi")
    assert sent == recording.bridge_lines
    assert sent[-1] == ROUTE_QUEUED

    call = redis_client.hgetall("hotline:call:hotline-rec-1795594136.0")
    assert call["state"] == "queued"
    assert call["caller"] == "0912345678"
    assert call["channel"] == "PJSIP/citizens-00000000"
    assert call["queue"] == "police"
    assert call["choice"] == "1"
    assert call["priority"] == "1"
    assert call["route_reason"] == "chosen"
    assert call["language"] == "vi"
    assert call["priority_reason"] == "chosen"
    # The IVR path: one key, pressed while the Vietnamese menu played, timed from arrival.
    (pressed,) = json.loads(call["ivr_path"])
    assert (pressed["key"], pressed["result"], pressed["language"]) == ("1", "chosen", "vi")
    assert 0 <= pressed["at_ms"] <= int(call["ivr_ms"])
    assert int(call["queued_ms"]) - int(call["arrived_ms"]) == int(call["ivr_ms"])
    assert redis_client.zrange("hotline:queue:police", 0, -1) == ["hotline-rec-1795594136.0"]
    assert redis_client.smembers("hotline:calls:active") == {"hotline-rec-1795594136.0"}
    assert audit(redis_client) == []


def test_silent_caller_goes_to_the_general_queue_at_top_priority(routing_factory, redis_client):
    recording = agi_recording("agi_silent.agi")
    sent = run_replay(routing_factory, "agi_silent.agi")
    assert sent == recording.bridge_lines
    assert sent.count('WAIT FOR DIGIT "2000"') == CITY.ivr.attempts

    call = redis_client.hgetall("hotline:call:hotline-rec2-1795594166.0")
    assert call["state"] == "queued"
    assert call["caller"] == "0900000003"
    assert call["queue"] == "general"
    assert call["priority"] == "0"
    assert call["route_reason"] == "no_input"
    assert call["choice"] == ""
    assert call["language"] == "vi"
    assert call["priority_reason"] == "no_choice"
    path = json.loads(call["ivr_path"])
    # Each menu round ended without a key, heard last in the last language.
    assert [(s["key"], s["result"], s["language"]) for s in path] == [("", "no_input", "en")] * CITY.ivr.attempts
    assert [s["at_ms"] for s in path] == sorted(s["at_ms"] for s in path)
    assert redis_client.zrange("hotline:queue:general", 0, -1) == ["hotline-rec2-1795594166.0"]
    assert audit(redis_client) == []


def test_hang_up_in_the_menu_is_recorded_as_abandoned(routing_factory, redis_client, caplog):
    caplog.set_level(logging.INFO)
    recording = agi_recording("agi_hangs_up_in_menu.agi")
    sent = run_replay(routing_factory, "agi_hangs_up_in_menu.agi")
    # result=-1 may be a missing file, so the bridge asks for the channel's status; the
    # HANGUP already on the wire answers it.
    assert sent == recording.bridge_lines == ['GET VARIABLE "HOTLINE_KEYS"', 'STREAM FILE "hotline/vi/menu" "0123456789*#"',
                                              "CHANNEL STATUS"]

    call_id = "hotline-rec4-1795595092.0"
    call = redis_client.hgetall(f"hotline:call:{call_id}")
    assert call["state"] == "abandoned"
    assert call["outcome"] == "abandoned"
    assert call["abandon_stage"] == "ivr"
    assert call["caller"] == "0900000004"
    assert redis_client.zrange("hotline:callbacks:general", 0, -1) == [call_id]
    assert redis_client.smembers("hotline:calls:active") == set()
    assert "caller hung up during AGI ivr (channel PJSIP/citizens-00000000)" in caplog.messages
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert audit(redis_client) == []


def test_a_missing_prompt_is_logged_and_the_menu_goes_on(routing_factory, redis_client, caplog):
    recording = agi_recording("agi_missing_prompt.agi")
    sent = run_replay(routing_factory, "agi_missing_prompt.agi")
    assert sent == recording.bridge_lines
    assert [line for line in sent if "HOTLINE_KEYS" not in line][:3] == [
        'STREAM FILE "hotline/vi/menu" "0123456789*#"', "CHANNEL STATUS", 'STREAM FILE "hotline/en/menu" "0123456789*#"']
    calls = [redis_client.hgetall(k) for k in redis_client.keys("hotline:call:*")]
    assert [(c["state"], c["queue"], c["choice"], c["language"]) for c in calls] == [("queued", "fire", "2", "en")]
    assert any("prompt hotline/vi/menu could not be played" in m for m in caplog.messages)


def test_replay_notices_a_command_the_recording_does_not_have(routing_factory):
    # The replay itself must be able to fail: a city with another first language sends
    # another first prompt than the recording.
    english_first = CITY.model_copy(
        update={"hotline": CITY.hotline.model_copy(update={"languages": ["en", "vi"]})})
    with pytest.raises(ReplayMismatch, match=r'sent \'STREAM FILE "hotline/en/menu"'):
        run_replay(routing_factory, "agi_presses_1.agi", city=english_first)


def test_redis_unreachable_at_arrival_sends_nothing_and_logs(caplog):
    sent = run_replay(unreachable_routing, "agi_presses_1.agi", stop_before=agi_recording("agi_presses_1.agi").bridge_lines[0])
    assert sent == []  # not even a prompt: the dialplan's fallback queue takes the caller at once
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].name == "hotline.ivr"
    message = errors[0].getMessage()
    assert "Redis unreachable at arrival of hotline-rec-1795594136.0" in message
    assert "fallback queue" in message
    assert errors[0].exc_info is None  # handled, not an escaped exception


class EnqueueFails(AsyncRouting):
    """Redis answers at arrival, then goes away before the caller is queued."""

    async def enqueue(self, *args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_redis_lost_before_queueing_takes_hotline_route_back(redis_url, redis_client, caplog):
    """HOTLINE_ROUTE=queued is set just before the enqueue (so the AGI session ends the
    moment the caller is claimable); when the enqueue fails it is set to not-queued, and
    the dialplan sends the caller to the fallback queue."""
    from telephony.agi_protocol import parse_environment, parse_reply

    class Channel:
        def __init__(self):
            self.env = parse_environment(agi_recording("agi_presses_1.agi").environment)
            self.sent = []

        async def send(self, verb, *args):
            self.sent.append((verb, args))
            return parse_reply("200 result=49 endpos=9120")  # the caller presses 1 at once

        async def set_variable(self, name, value):
            self.sent.append(("SET VARIABLE", (name, value)))

    async def main():
        redis_client.flushdb()
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        channel = Channel()
        try:
            await IvrCall(CITY, EnqueueFails(client))(channel)
        finally:
            await client.aclose()
        return channel.sent

    sent = asyncio.run(main())
    routes = [args[1] for verb, args in sent if verb == "SET VARIABLE" and args[0] == "HOTLINE_ROUTE"]
    assert routes == ["queued", "not-queued"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [e.getMessage() for e in errors] == [
        "Redis unreachable when queueing hotline-rec-1795594136.0 (Error 111 connecting to 127.0.0.1:6379. "
        "Connection refused.): caller goes to the fallback queue"]
    assert redis_client.hget("hotline:call:hotline-rec-1795594136.0", "state") == "ivr"


def test_handler_returns_quietly_when_redis_is_unreachable(caplog):
    """Called directly: no exception escapes IvrCall, and it never sets HOTLINE_ROUTE."""

    class Channel:
        def __init__(self):
            from telephony.agi_protocol import parse_environment
            self.env = parse_environment(agi_recording("agi_silent.agi").environment)
            self.sent = []

        async def send(self, verb, *args):
            self.sent.append((verb, args))
            raise AssertionError("no command expected")

        async def set_variable(self, name, value):
            self.sent.append(("SET VARIABLE", (name, value)))

    async def main():
        client, routing = unreachable_routing()
        channel = Channel()
        try:
            result = await IvrCall(CITY, routing)(channel)
        finally:
            await client.aclose()
        return result, channel.sent

    result, sent = asyncio.run(main())
    assert result is None
    assert sent == []
    assert any("Redis unreachable at arrival of hotline-rec2-1795594166.0" in m for m in caplog.messages)


@pytest.mark.parametrize(("line", "keys"), [
    ("200 result=1 (1)", "1"),
    ("200 result=1 (9*#2)", "9*#2"),
    ("200 result=0", ""),  # HOTLINE_KEYS unset: no key yet, or StoreDTMF missing
    ("HANGUP", ""),
    ("511 Command Not Permitted on a dead channel or intercept routine", ""),
])
def test_the_key_log_as_get_variable_answers_it(line, keys):
    assert logged_keys(parse_reply(line)) == keys



class KeyLogChannel:
    """An AGI channel whose caller pressed keys no command heard: Asterisk's key log
    (HOTLINE_KEYS) answers GET VARIABLE from the ``logs`` given, one per read; prompts play
    to their end and WAIT FOR DIGIT times out."""

    def __init__(self, logs: list[str]):
        from telephony.agi_protocol import parse_environment
        self.env = parse_environment(agi_recording("agi_presses_1.agi").environment)
        self.logs = logs
        self.sent: list[tuple[str, tuple]] = []

    async def send(self, verb, *args):
        from telephony.agi_protocol import parse_reply
        self.sent.append((verb, args))
        if verb == "GET VARIABLE":
            log = self.logs.pop(0) if len(self.logs) > 1 else self.logs[0]
            return parse_reply(f"200 result=1 ({log})" if log else "200 result=0")
        return parse_reply("200 result=0 endpos=9404" if verb == "STREAM FILE" else "200 result=0")

    async def set_variable(self, name, value):
        self.sent.append(("SET VARIABLE", (name, value)))


@pytest.mark.parametrize(("logs", "queue", "choice", "prompts", "path"), [
    # pressed before the menu (while the session connected, Redis answered arrive): no prompt
    (["1"], "police", "1", 0, [("1", "chosen", "vi")]),
    # a wrong key then a right one, both before the menu: each acted on, in order
    (["92"], "fire", "2", 0, [("9", "invalid", "vi"), ("2", "chosen", "vi")]),
    # pressed while no command listened, just before the English menu would start
    (["", "3"], "medical", "3", 1, [("3", "chosen", "vi")]),
])
def test_keys_no_command_heard_are_honoured(routing_factory, redis_client, logs, queue, choice, prompts, path):
    async def main():
        channel = KeyLogChannel(logs)
        client, routing = routing_factory()
        try:
            await IvrCall(CITY, routing)(channel)
        finally:
            await client.aclose()
        return channel.sent

    redis_client.flushdb()
    sent = asyncio.run(main())
    assert sum(verb == "STREAM FILE" for verb, _ in sent) == prompts
    assert ("SET VARIABLE", ("HOTLINE_ROUTE", "queued")) in sent
    call = redis_client.hgetall("hotline:call:hotline-rec-1795594136.0")
    assert (call["state"], call["queue"], call["choice"], call["route_reason"]) == ("queued", queue, choice, "chosen")
    assert [(s["key"], s["result"], s["language"]) for s in json.loads(call["ivr_path"])] == path


HUMAN_FIRST = CITY.model_copy(update={"ivr": CITY.ivr.model_copy(update={"mode": IvrMode.HUMAN_FIRST})})
SILENT_CALL = "hotline:call:hotline-rec-1795594136.0"


@pytest.mark.parametrize(("city", "desk_state", "waiting", "skips_menu"), [
    (HUMAN_FIRST, "ready", False, True),    # a desk idle, nobody waiting: straight to it
    (HUMAN_FIRST, "paused", False, False),  # no desk idle: the menu as usual
    (HUMAN_FIRST, "ready", True, False),    # a caller already waits: no jumping ahead of them
    (CITY, "ready", False, False),          # menu_first: the menu even with a desk idle
])
def test_human_first_skips_the_menu_only_for_an_idle_desk(routing_factory, redis_client, city, desk_state, waiting,
                                                           skips_menu):
    async def main():
        client, routing = routing_factory()
        try:
            await routing.register_desk("desk-101", "police")
            await routing.set_desk_state("desk-101", "ready")
            if desk_state != "ready":
                await routing.set_desk_state("desk-101", desk_state, reason="meal")
            if waiting:
                await routing.arrive("c-0", "0912000000", "PJSIP/trunk-0")
                await routing.enqueue("c-0", "fire", 1)
            channel = KeyLogChannel(["", "", "", "", "1"])  # presses 1 once the menu has played
            await IvrCall(city, routing)(channel)
        finally:
            await client.aclose()
        return channel.sent

    redis_client.flushdb()
    sent = asyncio.run(main())
    call = redis_client.hgetall(SILENT_CALL)
    if skips_menu:
        assert not any(verb in ("STREAM FILE", "WAIT FOR DIGIT") for verb, _ in sent)
        assert (call["state"], call["queue"], call["route_reason"], call["choice"]) == (
            "queued", "general", "desk_free", "")
        assert ("SET VARIABLE", ("HOTLINE_WAIT_PROMPT",
                                 "hotline/vi/connecting_general&hotline/en/connecting_general")) in sent
        assert sent[-1] == ("SET VARIABLE", ("HOTLINE_ROUTE", "queued"))
    else:
        assert any(verb == "STREAM FILE" for verb, _ in sent)
        assert (call["state"], call["queue"], call["route_reason"]) == ("queued", "police", "chosen")
        route_sets = [args[1] for verb, args in sent if verb == "SET VARIABLE" and args[0] == "HOTLINE_ROUTE"]
        assert route_sets == (["queued", "", "queued"] if city is HUMAN_FIRST else ["queued"])


def test_human_first_with_redis_lost_at_the_idle_desk_check_sends_the_caller_to_the_fallback(routing_factory,
                                                                                             redis_client):
    async def lost(*args, **kwargs):
        raise RedisConnectionError("Redis went away")

    async def main():
        client, routing = routing_factory()
        routing.to_idle_desk = lost  # Redis answered the arrival, then went away
        channel = KeyLogChannel([""])
        try:
            await IvrCall(HUMAN_FIRST, routing)(channel)
        finally:
            await client.aclose()
        return channel.sent

    redis_client.flushdb()
    sent = asyncio.run(main())
    assert not any(verb == "STREAM FILE" for verb, _ in sent)
    route_sets = [args[1] for verb, args in sent if verb == "SET VARIABLE" and args[0] == "HOTLINE_ROUTE"]
    assert route_sets == ["queued", "not-queued"]  # the dialplan's fallback queue rings desks


def test_a_refused_enqueue_while_still_in_the_menu_sends_the_caller_to_the_fallback(routing_factory, redis_client):
    from queueing.errors import RoutingRefused

    async def refuse(*args, **kwargs):
        raise RoutingRefused("ivr_path is longer than 4000 characters")

    async def main():
        client, routing = routing_factory()
        routing.enqueue = refuse
        channel = KeyLogChannel(["1"])
        try:
            with pytest.raises(RoutingRefused):
                await IvrCall(CITY, routing)(channel)
        finally:
            await client.aclose()
        return channel.sent

    redis_client.flushdb()
    sent = asyncio.run(main())
    route_sets = [args[1] for verb, args in sent if verb == "SET VARIABLE" and args[0] == "HOTLINE_ROUTE"]
    assert route_sets[-1] == "not-queued"  # not [hotline-wait], where nobody would ring a desk for it

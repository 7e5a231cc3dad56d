"""config.logging: every line written while a call's work runs ends with call_id=<id>, so
one grep follows a call; the bridge binds it where it works on one call."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from structlog.contextvars import bound_contextvars

from config.logging import setup_logging
from config.settings import load_settings
from telephony.ami_events import DeskAnswered
from telephony.dialplan_events import DialplanEvents
from telephony.dispatcher import Delivery, Dispatcher
from telephony.ivr_call import IvrCall
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
# What the fakes below log: lines that do not name the call themselves.
elsewhere = logging.getLogger("hotline.test.elsewhere")


@pytest.fixture
def lines() -> Iterator[Callable[[], list[str]]]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    setup_logging("INFO", stream)
    yield lambda: stream.getvalue().splitlines()
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


def test_a_line_inside_a_calls_context_carries_its_call_id(lines):
    log = logging.getLogger("hotline.test")
    log.info("before the call")
    with bound_contextvars(call_id="hotline-1795594136.0"):
        log.info("IVR started for %s", "0912345678")
        structlog.stdlib.get_logger("hotline.test").info("queued", queue="police")
    log.info("after the call")

    before, ivr, queued, after = lines()
    assert before.endswith(" INFO hotline.test: before the call")
    assert ivr.endswith(" INFO hotline.test: IVR started for 0912345678 call_id=hotline-1795594136.0")
    assert queued.endswith(" INFO hotline.test: queued queue=police call_id=hotline-1795594136.0")
    assert after.endswith(" INFO hotline.test: after the call")
    # The lab's and the tests' readers rely on the timestamp first, as before.
    assert before[:4].isdigit() and before[4] == "-" and before[19] == ","


class Routing:
    """Logs from inside each step, as the Redis code a call's work calls would."""

    def clock(self):
        return 1_795_594_136_000

    async def arrive(self, call_id, *args, **kwargs):
        elsewhere.info("arrival")
        raise RedisConnectionError("down")  # ends the IVR session early: fallback

    async def offer_answered(self, call_id, desk_id):
        elsewhere.info("answer recorded")


class Ami:
    async def redirect(self, channel, context, exten):
        elsewhere.info("redirect sent")


def test_the_bridge_binds_the_call_id_in_each_call_s_work(lines):
    routing = Routing()

    async def main():
        agi = SimpleNamespace(env=SimpleNamespace(variables={}, uniqueid="c-ivr", caller_number="0912345678",
                                                  channel="PJSIP/citizens-00000001"))
        await IvrCall(CITY, routing)(agi)
        events = DialplanEvents(None, routing, None, asyncio.Event(), missed_limit=3)
        await events.on_event(DeskAnswered("c-event", "desk-101"))
        dispatcher = Dispatcher(routing, Ami(), None, asyncio.Event(), agencies=["police"], ring_timeout_ms=1000,
                                overflow_after_ms={}, missed_limit=3)
        claim = SimpleNamespace(call_id="c-claim", caller="0912345678", queue="police", desk_id="desk-101",
                                channel="PJSIP/citizens-00000002")
        return await dispatcher.deliver(claim)

    assert asyncio.run(main()) == Delivery.RINGING
    elsewhere.info("between calls")
    mine = [line.split(": ", 1)[1] for line in lines() if " hotline.test.elsewhere: " in line]
    assert mine == ["arrival call_id=c-ivr", "answer recorded call_id=c-event", "redirect sent call_id=c-claim",
                    "between calls"]

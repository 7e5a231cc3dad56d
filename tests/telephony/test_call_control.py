"""telephony.call_control: what the bridge sends for each call command (table tests of the pure
plan), what the AMI outcome does to the transfer, and the consumer on the test Redis with the
real Lua scripts and an AMI link whose errors are Asterisk 22's recorded replies."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from queueing import Keys, Routing
from queueing.routing import AsyncRouting, wall_clock_ms
from queueing.transfers import TransferEvent
from telephony.ami import AmiError, refused
from telephony.call_control import (
    CONSULT_DONE,
    CONSULT_QUIET,
    STALE_HANGUP_MS,
    CallControl,
    Command,
    ConsultPlan,
    Plan,
    StepArgs,
    conference_actions,
    consult_actions,
    consult_plan,
    consulting_desk_left,
    dial_event,
    hangup,
    hold_actions,
    hold_plan,
    outcome_event,
    parse_command,
    plan,
    redirect,
    resume,
    set_label,
    transfer_step_for,
)
from telephony.hangups import Hangups
from tests.replay import ami_reply

NOW = 1_700_000_100_000
CHAN = "PJSIP/citizens-00000002"
ON_CALL = {"call_id": "c-1", "state": "on_call", "desk": "p-1", "channel": CHAN, "queue": "police"}
MOVING = {"call_id": "c-1", "transfer_state": "moving", "kind": "blind", "from_desk": "p-1", "from_agency": "police",
          "target_agency": "fire", "own_queue": "police"}


def move(**kw) -> Command:
    return Command("1-0", "move_to_wait", "c-1", kw.pop("channel", CHAN), "p-1", kw.pop("ms", NOW - 100), kw.pop("label", ""))


def hang(**kw) -> Command:
    return Command("1-0", "hangup", kw.pop("call_id", "c-1"), CHAN, kw.pop("desk_id", "p-1"), kw.pop("ms", NOW - 100))


def rec(base: dict, **kw) -> dict:
    return {**base, **kw}


# --- the plan: stream entry + call record + transfer record → AMI actions ----------------------

PLANS = [
    # blind transfer: the caller out of the desk's bridge into the waiting music
    ("move: on a call, transfer moving", move(), ON_CALL, MOVING,
     Plan(({"Action": "Redirect", "Channel": CHAN, "Context": "hotline-wait", "Exten": "s", "Priority": "1"},),
          transfer=True)),
    ("move: the target's label first, for the desk phones", move(label="FIRE RESCUE"), ON_CALL, MOVING,
     Plan(({"Action": "Setvar", "Channel": CHAN, "Variable": "HOTLINE_LABEL", "Value": "FIRE RESCUE"}, redirect(CHAN)),
          transfer=True)),
    ("move: the record's channel wins over the entry's", move(channel="PJSIP/old-1"), ON_CALL, MOVING,
     Plan((redirect(CHAN),), transfer=True)),
    ("move: the entry's channel when the record has none", move(channel="PJSIP/x-9"), rec(ON_CALL, channel=""), MOVING,
     Plan((redirect("PJSIP/x-9"),), transfer=True)),
    ("move: no channel anywhere: the transfer fails, the caller stays", move(channel=""), rec(ON_CALL, channel=""), MOVING,
     Plan(event=TransferEvent.AMI_FAILED, skip="call c-1 has no channel to move")),
    ("move: caller hung up meanwhile", move(), rec(ON_CALL, state="ended"), MOVING,
     Plan(event=TransferEvent.CALLER_HUNG_UP, skip="call c-1 is ended")),
    ("move: done already (a repeat)", move(), rec(ON_CALL, state="queued", queue="fire"), rec(MOVING, transfer_state="requeued"),
     Plan(skip="the transfer of call c-1 is requeued, not moving")),
    ("move: no transfer record", move(), ON_CALL, {},
     Plan(skip="the transfer of call c-1 is not started, not moving")),
    ("move: unknown call", move(), {}, MOVING, Plan(skip="unknown call c-1")),
    # hang up the caller
    ("hangup: on a call at the desk", hang(), ON_CALL, {},
     Plan(({"Action": "Hangup", "Channel": CHAN, "Cause": "16"},))),
    ("hangup: the call is at another desk now", hang(), rec(ON_CALL, desk="f-1"), {},
     Plan(skip="call c-1 is on_call at f-1, no longer on a call at desk p-1")),
    ("hangup: ended already", hang(), rec(ON_CALL, state="ended"), {},
     Plan(skip="call c-1 is ended at p-1, no longer on a call at desk p-1")),
    ("hangup: stale", hang(ms=NOW - STALE_HANGUP_MS - 1), ON_CALL, {},
     Plan(skip="hang-up of call c-1 asked 300 s ago: stale")),
    ("hangup: unknown call", hang(), {}, {}, Plan(skip="unknown call c-1")),
    ("unknown action", Command("1-0", "reboot", "c-1"), ON_CALL, {}, Plan(skip="unknown call command 'reboot'")),
    ("no call id", Command("1-0", "hangup", ""), {}, {}, Plan(skip="command 1-0 names no call")),
]


@pytest.mark.parametrize(("name", "command", "call", "transfer", "expected"), PLANS, ids=[p[0] for p in PLANS])
def test_plan(name, command, call, transfer, expected):
    assert plan(command, call, transfer, NOW) == expected


def test_a_stream_entry_as_written_by_transfer_start_is_parsed():
    fields = {"action": "move_to_wait", "call_id": "c-1", "channel": CHAN, "label": "FIRE", "desk_id": "p-1", "ms": "17"}
    assert parse_command("5-1", fields) == Command("5-1", "move_to_wait", "c-1", CHAN, "p-1", 17, "FIRE")
    assert parse_command("5-2", {"action": "hangup", "ms": "soon"}) == Command("5-2", "hangup", "")


# --- the AMI outcome → the transfer's next step (queueing/transfers.py decides) ---------------

STEPS = [
    ("redirect landed", MOVING, TransferEvent.CALLER_MOVED, StepArgs("moving", "requeued", "fire", True)),
    ("caller gone", MOVING, TransferEvent.CALLER_HUNG_UP, StepArgs("moving", "ended")),
    ("AMI refused", MOVING, TransferEvent.AMI_FAILED, StepArgs("moving", "cancelled")),
    ("already requeued: refused", rec(MOVING, transfer_state="requeued"), TransferEvent.CALLER_MOVED, None),
    ("no transfer: refused", {}, TransferEvent.CALLER_MOVED, None),
]


@pytest.mark.parametrize(("name", "record", "event", "expected"), STEPS, ids=[s[0] for s in STEPS])
def test_transfer_step_for(name, record, event, expected):
    assert transfer_step_for(record, event) == expected


def test_the_outcome_of_the_redirect_is_typed_by_asterisks_recorded_reply():
    missing = ami_reply("Redirect_missing")
    assert outcome_event(None) == TransferEvent.CALLER_MOVED
    assert outcome_event(refused("Redirect", missing["Message"])) == TransferEvent.CALLER_HUNG_UP
    assert outcome_event(AmiError("AMI Redirect got no reply within 5 s")) == TransferEvent.AMI_FAILED


# --- the consumer on the test Redis ----------------------------------------------------------


class FakeAmi:
    """AmiLink.action: Asterisk's recorded error replies become the errors AmiLink raises."""

    def __init__(self, replies: dict[str, dict] | None = None):
        self.ready = asyncio.Event()
        self.ready.set()
        self.sent: list[dict[str, str]] = []
        self.replies = replies or {}

    async def action(self, fields, timeout=5.0):
        self.sent.append(fields)
        reply = self.replies.get(fields["Action"], {"Response": "Success"})
        if isinstance(reply, Exception):
            raise reply
        if reply.get("Response") == "Error":
            raise refused(fields["Action"], reply["Message"])
        return reply


WRAP_UP_MS = 10_000


@pytest.fixture
def routing(redis_client):
    """c-1 from PJSIP/citizens-00000002 on a call at police desk p-1; fire desk f-1 logged in."""
    r = Routing(redis_client)
    t0 = wall_clock_ms() - 60_000
    r.register_desk("p-1", "police", now_ms=t0)
    r.register_desk("f-1", "fire", now_ms=t0)
    r.arrive("c-1", "+15550100", CHAN, now_ms=t0)
    r.enqueue("c-1", "police", 1, now_ms=t0 + 5_000)
    r.set_desk_state("p-1", "ready", now_ms=t0)
    r.claim_next(["police", "fire"], 20_000, now_ms=t0 + 6_000)
    r.offer_answered("c-1", "p-1", now_ms=t0 + 8_000)
    r.set_desk_state("f-1", "login", now_ms=t0)
    return r


def run_consumers(redis_url, scenario, *amis):
    async def main():
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        routing = AsyncRouting(client)
        consumers = [CallControl(client, routing, ami, Hangups(client, routing, WRAP_UP_MS), WRAP_UP_MS, f"bridge-{i}")
                     for i, ami in enumerate(amis)]
        try:
            for c in consumers:
                await c.ensure_group()
            return await asyncio.wait_for(scenario(*consumers), 10)
        finally:
            await client.aclose()
    return asyncio.run(main())


def pending(routing) -> int:
    return routing.redis.xpending(Keys().call_commands(), "bridges")["pending"]


def test_a_blind_transfer_moves_the_caller_to_the_head_of_the_fire_queue(routing, redis_url):
    ami = FakeAmi()
    routing.transfer_start("c-1", "p-1", "fire", "blind", label="FIRE")

    async def scenario(bridge):
        return await bridge.read(">")

    assert run_consumers(redis_url, scenario, ami) == 1
    assert ami.sent == [set_label(CHAN, "FIRE"), redirect(CHAN)]
    assert routing.transfer("c-1")["transfer_state"] == "requeued"
    call = routing.call("c-1")
    assert (call["state"], call["queue"], call["priority"], call["transferred_from"]) == ("queued", "fire", "0", "p-1")
    assert routing.queue("fire") == ["c-1"]
    assert routing.desk("p-1")["state"] == "wrap_up"
    assert pending(routing) == 0


def test_a_caller_gone_before_the_redirect_ends_the_call_and_the_transfer(routing, redis_url):
    missing = ami_reply("Redirect_missing")
    ami = FakeAmi({"Redirect": missing})
    routing.transfer_start("c-1", "p-1", "fire", "blind")

    async def scenario(bridge):
        await bridge.read(">")

    run_consumers(redis_url, scenario, ami)
    assert routing.transfer("c-1")["transfer_state"] == "ended"
    assert routing.call("c-1")["state"] == "ended"
    assert routing.queue("fire") == []
    assert pending(routing) == 0


def test_a_failed_redirect_leaves_the_caller_with_its_desk_and_says_why(routing, redis_url):
    ami = FakeAmi({"Redirect": AmiError("AMI Redirect got no reply within 5 s")})
    routing.transfer_start("c-1", "p-1", "fire", "blind")

    async def scenario(bridge):
        await bridge.read(">")

    run_consumers(redis_url, scenario, ami)
    transfer = routing.transfer("c-1")
    assert (transfer["transfer_state"], transfer["reason"]) == ("cancelled", "AMI Redirect got no reply within 5 s")
    assert (routing.call("c-1")["state"], routing.desk("p-1")["state"]) == ("on_call", "on_call")
    assert routing.queue("fire") == []


def test_hangup_hangs_up_the_callers_channel(routing, redis_url):
    ami = FakeAmi()
    routing.call_command("c-1", "p-1", "hangup", by="lan")

    async def scenario(bridge):
        await bridge.read(">")

    run_consumers(redis_url, scenario, ami)
    assert ami.sent == [hangup(CHAN)]
    # The channel's own hang-up handler ends the record (not faked here).
    assert routing.call("c-1")["state"] == "on_call"
    assert pending(routing) == 0


def test_two_bridges_do_each_command_once(routing, redis_url):
    a, b = FakeAmi(), FakeAmi()
    routing.transfer_start("c-1", "p-1", "fire", "blind")

    async def scenario(first, second):
        await asyncio.gather(first.read(">", block_ms=200), second.read(">", block_ms=200))

    run_consumers(redis_url, scenario, a, b)
    assert sorted([len(a.sent), len(b.sent)]) == [0, 1]


def test_a_command_read_but_not_acked_is_done_when_the_bridge_comes_back(routing, redis_url):
    ami = FakeAmi()
    routing.call_command("c-1", "p-1", "hangup")
    stream = Keys().call_commands()
    # The bridge read it and died before acting.
    routing.redis.xgroup_create(stream, "bridges", id="0", mkstream=True)
    routing.redis.xreadgroup("bridges", "bridge-0", {stream: ">"})
    assert pending(routing) == 1

    async def scenario(bridge):
        assert await bridge.read(">", block_ms=100) == 0  # nothing new
        return await bridge.read("0")  # its own pending entries

    assert run_consumers(redis_url, scenario, ami) == 1
    assert ami.sent == [hangup(CHAN)]
    assert pending(routing) == 0


def test_a_command_left_by_a_dead_bridge_is_claimed_by_another(routing, redis_url, monkeypatch):
    monkeypatch.setattr("telephony.call_control.CLAIM_IDLE_MS", 0)
    ami = FakeAmi()
    routing.call_command("c-1", "p-1", "hangup")
    stream = Keys().call_commands()
    routing.redis.xgroup_create(stream, "bridges", id="0", mkstream=True)
    routing.redis.xreadgroup("bridges", "gone-bridge", {stream: ">"})

    async def scenario(bridge):
        await bridge.claim_abandoned()

    run_consumers(redis_url, scenario, ami)
    assert ami.sent == [hangup(CHAN)]
    assert pending(routing) == 0


def test_the_consumer_finds_its_group_again_after_redis_was_emptied(routing, redis_url):
    ami = FakeAmi()

    async def scenario(bridge):
        task = asyncio.create_task(bridge.run())
        await asyncio.sleep(0.3)
        await bridge.redis.flushdb()  # the stream and the group are gone
        await asyncio.sleep(0.3)
        sync = Routing(routing.redis)
        sync.register_desk("p-1", "police")
        sync.arrive("c-9", "+1555", "PJSIP/citizens-9")
        sync.enqueue("c-9", "police", 1)
        sync.set_desk_state("p-1", "ready")
        sync.claim_next(["police"], 20_000)
        sync.offer_answered("c-9", "p-1")
        sync.call_command("c-9", "p-1", "hangup")
        for _ in range(50):
            if ami.sent:
                break
            await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    run_consumers(redis_url, scenario, ami)
    assert ami.sent == [hangup("PJSIP/citizens-9")]


# --- hold / resume / a held caller's desk leg gone: the plan, given what Asterisk said ------------

DESK_LEG = "PJSIP/desk-101-00000003"
HELD = rec(ON_CALL, held="1")
RESUMED = rec(ON_CALL, held="0")


def cmd(action: str, **kw) -> Command:
    return Command("2-0", action, "c-1", CHAN, kw.pop("desk_id", "p-1"), NOW - 100, result=kw.pop("result", ""))


HOLD_PLANS = [
    ("hold: bridged with the desk's leg → both out of the bridge with one Redirect", cmd("hold"), HELD, "ringing",
     DESK_LEG, Plan(hold_actions("c-1", CHAN, DESK_LEG), failed="hold_failed")),
    ("hold: not bridged to anything → hold_failed, nothing sent", cmd("hold"), HELD, "ringing", "",
     Plan(skip="call c-1: the caller is not talking to a desk's leg (PJSIP/citizens-00000002, peer none)",
          failed="hold_failed")),
    ("hold: done already (read again after a restart)", cmd("hold"), HELD, "held", "",
     Plan(skip="call c-1 is on hold already")),
    ("hold: resumed before the bridge got to it", cmd("hold"), RESUMED, "ringing", DESK_LEG,
     Plan(skip="call c-1 is no longer to be held (resumed meanwhile)")),
    ("hold: the call moved on", cmd("hold"), rec(HELD, state="ended"), "", "",
     Plan(skip="call c-1: ended at p-1, not on a call at desk p-1")),
    ("resume: held in Asterisk → Redirect to hotline-resume", cmd("resume"), RESUMED, "held", "",
     Plan((resume(CHAN),), failed="resume_failed")),
    ("resume: never held in Asterisk → nothing (they are talking)", cmd("resume"), RESUMED, "ringing", "",
     Plan(skip="call c-1: the caller is not on hold in Asterisk (ringing)")),
    ("resume failed in the dialplan → back on hold, said", cmd("resume_failed", result="FAILURE"), RESUMED, "", "",
     Plan(skip="call c-1: the resume failed (FAILURE)", failed="resume_failed")),
    ("resume found the desk's leg gone → head of the queue", cmd("resume_failed", result="NONEXISTENT"), RESUMED,
     "", "", Plan((redirect(CHAN),), done="desk_left", by="resume")),
    ("desk left a held caller → hotline-wait, then the head of the queue", cmd("desk_left"), HELD, "", "",
     Plan((redirect(CHAN),), done="desk_left")),
    ("desk left after a resume → nothing: the call ends with the caller's line", cmd("desk_left"), RESUMED, "", "",
     Plan(skip="call c-1 is not held: its desk's leg ending ends the call")),
]


@pytest.mark.parametrize(("name", "command", "call", "stage", "peer", "expected"), HOLD_PLANS,
                         ids=[p[0] for p in HOLD_PLANS])
def test_hold_plan(name, command, call, stage, peer, expected):
    assert hold_plan(command, call, stage, peer) == expected


def test_hold_actions_tell_each_leg_of_the_other_before_one_dual_redirect():
    actions = hold_actions("c-1", CHAN, DESK_LEG)
    assert [(a["Action"], a["Channel"], a.get("Variable")) for a in actions[:4]] == [
        ("Setvar", DESK_LEG, "HOTLINE_HELD_CALL"), ("Setvar", DESK_LEG, "HOTLINE_HELD_CALLER"),
        ("Setvar", CHAN, "HOTLINE_DESK_CHANNEL"), ("Setvar", CHAN, "HOTLINE_STAGE")]
    assert actions[-1] == {"Action": "Redirect", "Channel": CHAN, "Context": "hotline-hold", "Exten": "s",
                           "Priority": "1", "ExtraChannel": DESK_LEG, "ExtraContext": "hotline-desk-hold",
                           "ExtraExten": "s", "ExtraPriority": "1"}
    assert not any(a["Action"] == "Hangup" for a in actions)


# --- consultative transfers: what the bridge sends for each consult command --------------------

DESK_LEG, TARGET_LEG = "PJSIP/desk-101-00000003", "PJSIP/desk-201-00000004"
RINGBACK = {**MOVING, "transfer_state": "ringback", "kind": "consult", "target_desk": "f-1"}
ANSWERED = {**RINGBACK, "transfer_state": "answered"}
HELD = rec(ON_CALL, held="1")


def consult_cmd(action: str, result: str = "") -> Command:
    return Command("1-0", action, "c-1", CHAN, "p-1", NOW - 100, result=result, target_desk="f-1")


def setvar(channel: str, name: str, value: str) -> dict:
    return {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}


CONSULT_PLANS = [
    ("consult: hold the caller, the desk's leg dials the target", consult_cmd("consult"), HELD, RINGBACK,
     {"peer": DESK_LEG}, ConsultPlan(consult_actions("c-1", CHAN, DESK_LEG, "f-1"), failed="cancelled")),
    ("consult: no desk's leg: the caller stays with its desk", consult_cmd("consult"), HELD, RINGBACK, {},
     ConsultPlan(skip=f"call c-1: the caller is not talking to a desk's leg ({CHAN}, peer none)", failed="cancelled")),
    ("consult: done already", consult_cmd("consult"), HELD, ANSWERED, {"peer": DESK_LEG},
     ConsultPlan(skip="the transfer of call c-1 is answered, not ringback")),
    ("consult: the caller hung up", consult_cmd("consult"), rec(HELD, state="ended"), RINGBACK, {"peer": DESK_LEG},
     ConsultPlan(event=TransferEvent.CALLER_HUNG_UP, skip="call c-1 is ended")),
    ("consult: a blind transfer is no consultation", consult_cmd("consult"), HELD, MOVING, {},
     ConsultPlan(skip="call c-1 has no consultative transfer")),
    ("answered: the two desks talk", consult_cmd("consult_answered"), HELD, RINGBACK, {},
     ConsultPlan(event=TransferEvent.TARGET_ANSWERED)),
    ("ended, no answer: back with the initiator", consult_cmd("consult_ended", "NOANSWER"), HELD, RINGBACK, {},
     ConsultPlan((resume(CHAN),), event=TransferEvent.TARGET_NO_ANSWER, failed="requeued")),
    ("ended, busy: back with the initiator", consult_cmd("consult_ended", "BUSY"), HELD, RINGBACK, {},
     ConsultPlan((resume(CHAN),), event=TransferEvent.TARGET_BUSY, failed="requeued")),
    ("ended, the target's phone not registered: back with the initiator",
     consult_cmd("consult_ended", "CHANUNAVAIL"), HELD, RINGBACK, {},
     ConsultPlan((resume(CHAN),), event=TransferEvent.TARGET_BUSY, failed="requeued")),
    ("ended after talking: the target hung up", consult_cmd("consult_ended", "ANSWER"), HELD, ANSWERED, {},
     ConsultPlan((resume(CHAN),), event=TransferEvent.TARGET_HUNG_UP, failed="requeued")),
    ("ended after the transfer ended: nothing", consult_cmd("consult_ended", "ANSWER"), HELD,
     rec(ANSWERED, transfer_state="completed"), {},
     ConsultPlan(skip="the transfer of call c-1 is completed: ANSWER changes nothing")),
    # Both desks hung up at once: the initiator's desk_left put the caller at the head of its own
    # queue first; the target's Dial ending after it changes nothing.
    ("ended after both desks hung up at once: nothing", consult_cmd("consult_ended", "ANSWER"), HELD,
     rec(ANSWERED, transfer_state="requeued"), {},
     ConsultPlan(skip="the transfer of call c-1 is requeued: ANSWER changes nothing")),
    ("cancel while ringing: the caller takes the desk's leg out of its Dial", consult_cmd("consult_cancel"), HELD,
     RINGBACK, {"initiator": DESK_LEG},
     ConsultPlan((setvar(DESK_LEG, CONSULT_QUIET, "1"), resume(CHAN)), event=TransferEvent.CANCEL, failed="requeued")),
    ("cancel once answered: the target's leg hung up", consult_cmd("consult_cancel"), HELD, ANSWERED,
     {"initiator": DESK_LEG, "target_leg": TARGET_LEG},
     ConsultPlan((setvar(DESK_LEG, CONSULT_QUIET, "1"), hangup(TARGET_LEG), resume(CHAN)), event=TransferEvent.CANCEL,
                 failed="requeued")),
    ("complete: the caller to the target's leg, the initiator's hung up once bridged", consult_cmd("consult_complete"),
     HELD, ANSWERED, {"initiator": DESK_LEG, "target_leg": TARGET_LEG},
     ConsultPlan((setvar(DESK_LEG, CONSULT_DONE, "1"), setvar(CHAN, "HOTLINE_DESK_CHANNEL", TARGET_LEG),
                  setvar(CHAN, "HOTLINE_DESK", "f-1"), resume(CHAN)), event=TransferEvent.COMPLETE, failed="cancelled",
                 hang_up_after=(DESK_LEG, TARGET_LEG))),
    ("complete with no target leg: back with the initiator", consult_cmd("consult_complete"), HELD, ANSWERED,
     {"initiator": DESK_LEG},
     ConsultPlan((resume(CHAN),), event=TransferEvent.TARGET_HUNG_UP, failed="requeued",
                 skip=f"call c-1: no target leg to hand the caller to ({DESK_LEG}, peer none)")),
    ("complete while ringing: nothing", consult_cmd("consult_complete"), HELD, RINGBACK, {},
     ConsultPlan(skip="the transfer of call c-1 is ringback, not answered")),
    ("conference: the three channels into the call's room", consult_cmd("consult_conference"), HELD, ANSWERED,
     {"initiator": DESK_LEG, "target_leg": TARGET_LEG},
     ConsultPlan(conference_actions("c-1", CHAN, DESK_LEG, TARGET_LEG), event=TransferEvent.CONFERENCE,
                 failed="cancelled")),
    ("conference with no target leg: back with the initiator", consult_cmd("consult_conference"), HELD, ANSWERED,
     {"initiator": DESK_LEG},
     ConsultPlan((resume(CHAN),), event=TransferEvent.TARGET_HUNG_UP, failed="requeued",
                 skip=f"call c-1: no target leg to conference with ({DESK_LEG}, peer none)")),
    ("conference while ringing: nothing", consult_cmd("consult_conference"), HELD, RINGBACK, {},
     ConsultPlan(skip="the transfer of call c-1 is ringback, not answered")),
    ("the initiator leaves the conference: the call is the target's", consult_cmd("conference_left"), ON_CALL,
     rec(ANSWERED, transfer_state="conferenced"), {}, ConsultPlan(event=TransferEvent.INITIATOR_HUNG_UP)),
    ("the target leaves the conference: the initiator's again",
     replace(consult_cmd("conference_left"), desk_id="f-1"), ON_CALL, rec(ANSWERED, transfer_state="conferenced"), {},
     ConsultPlan(event=TransferEvent.TARGET_HUNG_UP)),
    ("a desk leaving once the conference is over: nothing", consult_cmd("conference_left"), ON_CALL,
     rec(ANSWERED, transfer_state="completed"), {},
     ConsultPlan(skip="the transfer of call c-1 is completed: desk p-1 leaving the conference changes nothing")),
    # The initiating desk hung up mid-consultation (its leg's HotlineDeskLeft; leg: the target leg it talked to).
    ("initiator left while the target rings: to wait, then the head of the target queue",
     consult_cmd("desk_left"), HELD, RINGBACK, {},
     ConsultPlan((redirect(CHAN),), event=TransferEvent.INITIATOR_HUNG_UP, failed="requeued")),
    ("initiator left while the desks talk: the caller to the waiting target leg",
     replace(consult_cmd("desk_left"), leg=TARGET_LEG), HELD, ANSWERED, {"leg_waiting": True},
     ConsultPlan((setvar(CHAN, "HOTLINE_DESK_CHANNEL", TARGET_LEG), setvar(CHAN, "HOTLINE_DESK", "f-1"),
                  resume(CHAN)), event=TransferEvent.INITIATOR_HUNG_UP, failed="requeued")),
    ("initiator left and the target leg is gone too: the head of its own queue",
     replace(consult_cmd("desk_left"), leg=TARGET_LEG), HELD, ANSWERED, {},
     ConsultPlan(skip=f"call c-1: the target leg {TARGET_LEG} is not waiting for the caller", failed="requeued")),
    ("initiator left, the caller gone already: the transfer ends", consult_cmd("desk_left"),
     rec(HELD, state="ended"), ANSWERED, {}, ConsultPlan(event=TransferEvent.CALLER_HUNG_UP, skip="call c-1 is ended")),
    # The held caller hung up mid-consultation (leg: its desk's leg, dialling or talking to the target).
    ("caller left while the target rings: the initiator's leg hung up quietly",
     replace(consult_cmd("consult_caller_left"), leg=DESK_LEG), rec(HELD, state="ended"), RINGBACK, {},
     ConsultPlan((setvar(DESK_LEG, CONSULT_QUIET, "1"), hangup(DESK_LEG)), event=TransferEvent.CALLER_HUNG_UP)),
    ("caller left while the desks talk: the initiator's leg hung up quietly",
     replace(consult_cmd("consult_caller_left"), leg=DESK_LEG), rec(HELD, state="ended"), ANSWERED, {},
     ConsultPlan((setvar(DESK_LEG, CONSULT_QUIET, "1"), hangup(DESK_LEG)), event=TransferEvent.CALLER_HUNG_UP)),
    ("caller left once the transfer was over: nothing", replace(consult_cmd("consult_caller_left"), leg=DESK_LEG),
     rec(HELD, state="ended"), rec(ANSWERED, transfer_state="cancelled"), {},
     ConsultPlan(skip="the transfer of call c-1 is cancelled: nothing to end")),
]


@pytest.mark.parametrize(("transfer", "desk", "expected"), [
    (RINGBACK, "p-1", True), (ANSWERED, "p-1", True),
    (ANSWERED, "f-1", False),  # the target's leg: a held caller's desk leg as any other
    (rec(ANSWERED, transfer_state="conferenced"), "p-1", False),
    (rec(ANSWERED, transfer_state="cancelled"), "p-1", False),
    (rec(MOVING, transfer_state="ringback"), "p-1", False),  # blind: never a consultation
    ({}, "p-1", False),
])
def test_only_the_initiators_leg_ending_mid_consultation_is_a_consult_command(transfer, desk, expected):
    assert consulting_desk_left(replace(consult_cmd("desk_left"), desk_id=desk), transfer) is expected


@pytest.mark.parametrize(("transfer", "expected"), [
    # Ringing: becomes blind, at the head of the target agency's queue; the initiator wraps up.
    (RINGBACK, StepArgs("ringback", "requeued", "fire", True)),
    # Talking: the call is the target desk's.
    (ANSWERED, StepArgs("answered", "completed", "", True)),
])
def test_the_initiator_leaving_mid_consultation_is_stepped_as_decided(transfer, expected):
    assert transfer_step_for(transfer, TransferEvent.INITIATOR_HUNG_UP) == expected


@pytest.mark.parametrize(("name", "command", "call", "transfer", "seen", "expected"), CONSULT_PLANS,
                         ids=[p[0] for p in CONSULT_PLANS])
def test_consult_plan(name, command, call, transfer, seen, expected):
    assert consult_plan(command, call, transfer, **seen) == expected


def test_the_conference_names_the_room_and_moves_the_caller_before_both_desk_legs():
    actions = conference_actions("c-1", CHAN, DESK_LEG, TARGET_LEG)
    assert [a for a in actions if a["Action"] == "Setvar" and a["Variable"] == "HOTLINE_CONFERENCE"] == [
        setvar(CHAN, "HOTLINE_CONFERENCE", "c-1"), setvar(DESK_LEG, "HOTLINE_CONFERENCE", "c-1"),
        setvar(TARGET_LEG, "HOTLINE_CONFERENCE", "c-1")]
    caller, desks = actions[-2:]
    assert (caller["Channel"], caller["Context"], caller["Exten"]) == (CHAN, "hotline-conference", "caller")
    assert (desks["Channel"], desks["Exten"], desks["ExtraChannel"], desks["ExtraContext"], desks["ExtraExten"]) == (
        DESK_LEG, "desk", TARGET_LEG, "hotline-conference", "desk")


def test_the_consult_redirect_holds_the_caller_and_sends_the_desks_leg_to_dial():
    *_, redirect_both = consult_actions("c-1", CHAN, DESK_LEG, "f-1")
    assert (redirect_both["Channel"], redirect_both["Context"], redirect_both["ExtraChannel"],
            redirect_both["ExtraContext"], redirect_both["ExtraExten"]) == (
        CHAN, "hotline-hold", DESK_LEG, "hotline-consult", "f-1")
    assert setvar(DESK_LEG, CONSULT_QUIET, "") in consult_actions("c-1", CHAN, DESK_LEG, "f-1")


@pytest.mark.parametrize(("status", "state", "event"), [
    ("NOANSWER", "ringback", TransferEvent.TARGET_NO_ANSWER),
    ("BUSY", "ringback", TransferEvent.TARGET_BUSY),
    ("CHANUNAVAIL", "ringback", TransferEvent.TARGET_BUSY),
    ("CONGESTION", "ringback", TransferEvent.TARGET_BUSY),
    ("ANSWER", "answered", TransferEvent.TARGET_HUNG_UP),
    ("ANSWER", "ringback", TransferEvent.TARGET_HUNG_UP),
])
def test_dial_status_to_transfer_event(status, state, event):
    assert dial_event(status, state) == event


def test_a_consult_entry_as_written_by_transfer_start_is_parsed():
    fields = {"action": "consult", "call_id": "c-1", "channel": CHAN, "label": "FIRE", "desk_id": "p-1",
              "target_desk": "f-1", "ms": str(NOW)}
    assert parse_command("5-0", fields) == Command("5-0", "consult", "c-1", CHAN, "p-1", NOW, "FIRE", "", "f-1")


def test_a_desk_left_entry_names_the_target_leg_it_talked_to():
    fields = {"action": "desk_left", "call_id": "c-1", "desk_id": "p-1", "channel": "", "leg": TARGET_LEG,
              "ms": str(NOW), "result": ""}
    assert parse_command("6-0", fields).leg == TARGET_LEG

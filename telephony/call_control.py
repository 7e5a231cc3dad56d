"""Carrying out what the API asks of a call (api/services/call_actions.py): the ``call_commands``
stream, read by the bridges' consumer group, so each command is done by one bridge only.

* ``move_to_wait`` (a blind transfer, queueing/lua/transfer_start.lua): AMI Redirect of the
  caller's channel out of its desk's bridge into ``hotline-wait`` (Asterisk hangs up the desk's
  leg), then ``transfer_step`` puts the caller at the head of the target agency's queue and the
  desk to wrap-up; the dispatcher offers the caller to a desk of that agency as to any caller.
  A Redirect that fails leaves the caller with the desk (``cancelled``), one that finds the
  channel gone ends the transfer with the call (``ended``): never a caller nowhere.
* ``hangup`` (queueing/lua/call_command.lua): AMI Hangup of the caller's channel; its hang-up
  handler then ends the call as for any answered call (telephony/hangups.py).
* ``hold`` / ``resume`` (queueing/lua/call_hold.lua): the caller's Dial bridge is left by both
  legs with one Redirect (ExtraChannel), the caller to ``hotline-hold`` (music), the desk's leg
  (the caller's BRIDGEPEER) to ``hotline-desk-hold``; resume Redirects the caller to
  ``hotline-resume``, which Bridge()s it with that leg again. Never a hang-up: a hold that cannot
  be made leaves the two talking (``hold_failed``), a resume that cannot be made leaves the
  caller on the music (``resume_failed``, the console says so).
* ``desk_left`` / ``resume_failed`` (written by telephony/dialplan_events.py from the dialplan's
  HotlineDeskLeft / HotlineResumeFailed): a held caller whose desk's leg is gone is Redirected to
  ``hotline-wait`` and put at the head of its queue, the desk to wrap-up.
* ``consult`` (a consultative transfer, transfer_start.lua): as a hold, but the desk's leg goes to
  ``hotline-consult`` (exten = the target desk), which dials the target desk; the dialplan's
  HotlineConsultAnswered / HotlineConsultEnd come back as ``consult_answered`` /
  ``consult_ended`` and step the transfer (answered; or no answer, busy, the target hung up: the
  caller Redirected to ``hotline-resume``, with its desk again, ``cancelled``).
  ``consult_cancel`` does the same on the initiator's word (hanging the target's leg up once it
  answered); ``consult_complete`` Redirects the caller to ``hotline-resume`` with
  HOTLINE_DESK_CHANNEL = the target's leg (the initiator's leg's BRIDGEPEER), then hangs the
  initiator's leg up once the two are bridged (``completed``: the call is the target desk's).
  A consultation that cannot be started leaves the caller with its desk (``cancelled``); a
  caller that cannot be given back is put at the head of its own queue (``requeued``).
  The initiator's leg ending mid-consultation (its ``desk_left``, ``leg``: the target leg its Dial
  was answered by) is never the caller's end: ringing, the caller is Redirected to wait and put
  at the head of the target agency's queue (``requeued``, as a blind transfer); answered, the
  target leg lives on (Dial's F: hotline-consult-orphan) and the caller is Redirected to
  ``hotline-resume`` with it (``completed``; that leg gone too: the head of its own queue). The
  held caller hanging up (``consult_caller_left``, ``leg``: its desk's leg) hangs the initiator's
  leg up quietly, which stops the target ringing or ends its leg (``ended``).
* ``consult_conference`` (transfer_consult.lua, once the target answered): HOTLINE_CONFERENCE =
  the call id on the three channels, the caller Redirected to ``hotline-conference`` (exten
  caller), then the initiator's leg with the target's leg (exten desk, one Redirect): one
  ConfBridge room (``conferenced``; the call still the initiator's). If that fails, the caller is
  given back to the initiator as by a cancel (``cancelled``). ``conference_left`` (the dialplan's
  HotlineConferenceLeft: a desk's leg hung up) steps it: the initiator gone, the call is the
  target desk's (``completed``, the initiator wraps up); the target gone, the initiator's again
  (``cancelled``). The caller's ConfBridge ends when no desk is left (end_marked) and the call
  ends as after any answered call; the caller hanging up kicks the desks (ConfKick).

* ``spy_start`` / ``spy_mode`` / ``spy_stop`` (queueing/lua/spy_*.lua): a supervisor listens to a
  desk's call. The desk's leg is the caller's BRIDGEPEER, checked to be that desk's own channel
  (``PJSIP/<desk>-<8 hex>``): ChanSpy gets that full name with option ``u`` (exact, never a
  prefix: ``PJSIP/desk-1`` would catch ``desk-10``). AMI Originate (async) rings the supervisor's
  desk phone with ChannelId = the session's ``spy_id``; answered, it runs ``hotline-spy``:
  ``ChanSpy(<desk leg>,qEud[w|B])`` (``E``: ends with the desk's leg; ``d``: DTMF 4/5/6 switch
  listen/whisper/barge). A mode switch is ``PlayDTMF`` of that digit *received* on the
  supervisor's leg (no key pressed by anyone); a stop hangs the supervisor's leg up. A watcher
  per session polls the leg: answered → ``spy_step answered``, gone → ``spy_step ended``. Nothing
  here is ever sent to the caller's or the desk's channel: a spy that fails leaves the call as it was.

:func:`plan` (what to send) and :func:`transfer_step_for` (what the outcome does to the
transfer) are pure; :class:`CallControl` reads the stream, sends, steps and acks. An entry is
acked only after it was acted on: a bridge that dies meanwhile finds it in its pending entries
at its next start (the consumer is named by host and AGI port, stable across restarts), and an
entry left pending by a bridge that never came back is claimed by another after
``CLAIM_IDLE_MS``. Doing a command twice is harmless: the second finds the transfer no longer
``moving`` or the call no longer on its desk, and sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError
from structlog.contextvars import bound_contextvars

from queueing.errors import RoutingRefused
from queueing.routing import AsyncRouting, wall_clock_ms
from queueing.states import FINAL_CALL_STATES, CallState, SpyMode, TransferKind, TransferState
from queueing.transfers import RequeueAtHead, Transfer, TransferEvent, WrapUpInitiator, decide
from telephony.ami import AmiError, ChannelGone
from telephony.hangups import Hangups

log = logging.getLogger("hotline.bridge.call_control")

GROUP = "bridges"
WAIT_CONTEXT, WAIT_EXTEN = "hotline-wait", "s"  # asterisk_conf/extensions.conf.tmpl
HANGUP_CAUSE = "16"  # normal clearing: the call-taker ended the call
READ_BLOCK_MS = 1000
READ_COUNT = 10
CLAIM_IDLE_MS = 30_000  # far past an action's deadline: the consumer that read it is gone
CLAIM_EVERY_S = 10.0
#: A hang-up asked for this long ago is not carried out: the call-taker has long since moved on
#: (a group made afresh over an old stream re-reads it from the start).
STALE_HANGUP_MS = 300_000
RETRY_S = 1.0


class Action(StrEnum):
    MOVE_TO_WAIT = "move_to_wait"
    HANGUP = "hangup"
    HOLD = "hold"
    RESUME = "resume"
    DESK_LEFT = "desk_left"          # the dialplan: a held caller's desk leg ended
    RESUME_FAILED = "resume_failed"  # the dialplan: hotline-resume could not Bridge (``result``)
    CONSULT = "consult"                    # transfer_start: hold the caller, the desk's leg dials the target
    CONSULT_ANSWERED = "consult_answered"  # the dialplan: the target desk picked up
    CONSULT_ENDED = "consult_ended"        # the dialplan: the target's Dial ended (``result``: DIALSTATUS)
    CONSULT_CANCEL = "consult_cancel"      # transfer_consult: the caller back with the initiator
    CONSULT_COMPLETE = "consult_complete"  # transfer_consult: the caller to the target desk
    CONSULT_CONFERENCE = "consult_conference"  # transfer_consult: caller and both desks in one ConfBridge
    CONFERENCE_LEFT = "conference_left"    # the dialplan: a desk's leg left the conference (``desk_id``)
    CONSULT_CALLER_LEFT = "consult_caller_left"  # the dialplan: a held caller hung up mid-consultation (``leg``)
    SPY_START = "spy_start"  # spy_start.lua: ring the supervisor's desk phone, ChanSpy on the desk's leg
    SPY_MODE = "spy_mode"    # spy_mode.lua: listen / whisper / barge, live
    SPY_STOP = "spy_stop"    # spy_stop.lua: hang up the supervisor's leg


CONSULT_ACTIONS = frozenset({Action.CONSULT, Action.CONSULT_ANSWERED, Action.CONSULT_ENDED, Action.CONSULT_CANCEL,
                             Action.CONSULT_COMPLETE, Action.CONSULT_CONFERENCE, Action.CONFERENCE_LEFT,
                             Action.CONSULT_CALLER_LEFT})
CONSULT_CONTEXT = "hotline-consult"
#: Set on the initiator's leg before the caller is taken from it: no HotlineConsultEnd /
#: HotlineDeskLeft (a cancel: the leg waits for its caller); the leg is hung up (a completion).
CONSULT_QUIET, CONSULT_DONE = "HOTLINE_CONSULT_QUIET", "HOTLINE_CONSULT_DONE"
#: How long the bridge waits for the caller to be bridged with the target before hanging the
#: initiator's leg up (hanging it up earlier would end the target's leg with it).
COMPLETE_WAIT_S = 5.0
#: How long complete / conference wait for the just-answered target leg to be bridged with the initiator's,
#: and an initiator's hang-up for the target leg to reach hotline-consult-orphan (HOTLINE_CONSULT_ORPHAN).
PEER_WAIT_S = 2.0
CONSULT_ORPHAN = "HOTLINE_CONSULT_ORPHAN"
#: The three-way conference (asterisk_conf/confbridge.conf, hotline-conference): the room is named
#: by HOTLINE_CONFERENCE (the call id), set on the three channels before they are Redirected.
CONFERENCE_CONTEXT, CONFERENCE_ROOM = "hotline-conference", "HOTLINE_CONFERENCE"


SPY_ACTIONS = frozenset({Action.SPY_START, Action.SPY_MODE, Action.SPY_STOP})
#: asterisk_conf/extensions.conf.tmpl: runs ChanSpy(${HOTLINE_SPY_CHANNEL},${HOTLINE_SPY_OPTIONS}).
SPY_CONTEXT = "hotline-spy"
SPY_STAGE, SPY_LIVE = "HOTLINE_SPY_STAGE", "spying"  # set by hotline-spy once the supervisor answered
#: q: no beep nor name; E: ends with the desk's leg; u: the argument is the full channel name;
#: d: DTMF 4/5/6 switch listen/whisper/barge (what spy_mode sends); w: whisper; B: barge.
SPY_OPTIONS = {SpyMode.LISTEN: "qEud", SpyMode.WHISPER: "qEudw", SpyMode.BARGE: "qEudB"}
SPY_DIGITS = {SpyMode.LISTEN: "4", SpyMode.WHISPER: "5", SpyMode.BARGE: "6"}
SPY_RING_S = 30  # how long the supervisor's phone rings
SPY_WATCH_S = 0.5  # how often the watcher looks at the supervisor's leg
SPY_APPEAR_S = 5.0  # an Originate whose leg never appears within this failed
#: A PJSIP channel's name: the endpoint, then "-" and 8 hex digits (chan_pjsip).
_PJSIP_LEG = re.compile(r"PJSIP/(?P<endpoint>.+)-[0-9a-f]{8}")


HOLD_CONTEXT, DESK_HOLD_CONTEXT, RESUME_CONTEXT = "hotline-hold", "hotline-desk-hold", "hotline-resume"
HELD_STAGE = "held"  # the caller's HOTLINE_STAGE while in hotline-hold
DESK_GONE = "NONEXISTENT"  # BRIDGERESULT when the desk's leg no longer exists


@dataclass(frozen=True)
class Command:
    """One ``call_commands`` entry."""

    id: str
    action: str
    call_id: str
    channel: str = ""
    desk_id: str = ""
    ms: int = 0
    label: str = ""  # move_to_wait: what the target agency's desk phones show (HOTLINE_LABEL)
    result: str = ""  # resume_failed: the dialplan's BRIDGERESULT; consult_ended: DIALSTATUS
    target_desk: str = ""  # consult commands: the desk consulted
    supervisor_desk: str = ""  # spy commands: the supervisor's desk phone
    mode: str = ""  # spy commands: listen, whisper or barge
    spy_id: str = ""  # spy commands: the session, and its supervisor leg's uniqueid
    #: desk_left: the target leg the desk's consultation was answered by; consult_caller_left: the desk's leg
    leg: str = ""


def parse_command(entry_id: str, fields: Mapping[str, str]) -> Command:
    try:
        ms = int(fields.get("ms") or 0)
    except ValueError:
        ms = 0
    return Command(entry_id, fields.get("action", ""), fields.get("call_id", ""), fields.get("channel", ""),
                   fields.get("desk_id", ""), ms, fields.get("label", ""), fields.get("result", ""),
                   fields.get("target_desk", ""), fields.get("supervisor_desk", ""), fields.get("mode", ""),
                   fields.get("spy_id", ""), fields.get("leg", ""))


@dataclass(frozen=True)
class Plan:
    """What to do for one command: AMI ``actions`` in order; ``transfer``: their outcome steps
    the call's transfer (:func:`transfer_step_for`); ``event``: with no action, the transfer
    step to apply now; ``skip``: why nothing is done (logged)."""

    actions: tuple[dict[str, str], ...] = ()
    transfer: bool = False
    event: TransferEvent | None = None
    skip: str = ""
    #: Hold commands: the call_hold.lua step to record when the actions fail (or, with ``skip``,
    #: at once), and the one to record once they are done.
    failed: str = ""
    done: str = ""
    by: str = ""


def transfer_of(record: Mapping[str, str]) -> Transfer:
    """The state machine's view of a ``transfer:{call_id}`` record (empty: none yet)."""
    if not record.get("transfer_state"):
        return Transfer()
    kind = record.get("kind", "")
    return Transfer(TransferState(record["transfer_state"]), TransferKind(kind) if kind else None,
                    record.get("target_agency", ""), record.get("own_queue", ""))


def _gone(call: Mapping[str, str]) -> bool:
    return call.get("state", "") in FINAL_CALL_STATES


def plan(command: Command, call: Mapping[str, str], transfer: Mapping[str, str], now_ms: int) -> Plan:
    """What the bridge sends for ``command``, given the call's record and its transfer record now."""
    if not command.call_id:
        return Plan(skip=f"command {command.id} names no call")
    channel = call.get("channel") or command.channel
    if command.action == Action.MOVE_TO_WAIT:
        state = transfer.get("transfer_state", "")
        if state != TransferState.MOVING:
            return Plan(skip=f"the transfer of call {command.call_id} is {state or 'not started'}, not moving")
        if not call:
            return Plan(skip=f"unknown call {command.call_id}")
        if _gone(call):
            return Plan(event=TransferEvent.CALLER_HUNG_UP, skip=f"call {command.call_id} is {call.get('state')}")
        if not channel:
            return Plan(event=TransferEvent.AMI_FAILED, skip=f"call {command.call_id} has no channel to move")
        # The label first: once moved, the caller may be offered to a desk of the target at once.
        label = (set_label(channel, command.label),) if command.label else ()
        return Plan((*label, redirect(channel)), transfer=True)
    if command.action == Action.HANGUP:
        if not call:
            return Plan(skip=f"unknown call {command.call_id}")
        if command.ms and now_ms - command.ms > STALE_HANGUP_MS:
            return Plan(skip=f"hang-up of call {command.call_id} asked {(now_ms - command.ms) // 1000} s ago: stale")
        if call.get("state") != CallState.ON_CALL or (command.desk_id and call.get("desk") != command.desk_id):
            return Plan(skip=f"call {command.call_id} is {call.get('state')} at {call.get('desk') or 'no desk'}, "
                             f"no longer on a call at desk {command.desk_id}")
        if not channel:
            return Plan(skip=f"call {command.call_id} has no channel to hang up")
        return Plan((hangup(channel),))
    if command.action in (Action.HOLD, Action.RESUME, Action.DESK_LEFT, Action.RESUME_FAILED):
        return Plan(skip=f"call command {command.action} needs what Asterisk says first (hold_plan)")
    if command.action in CONSULT_ACTIONS:
        return Plan(skip=f"call command {command.action} needs what Asterisk says first (consult_plan)")
    if command.action in SPY_ACTIONS:
        return Plan(skip=f"call command {command.action} needs what Asterisk says first (spy_plan)")
    return Plan(skip=f"unknown call command {command.action!r}")


def _held_at(call: Mapping[str, str], desk_id: str) -> str:
    """Why the call is not on a call at ``desk_id`` ('' when it is)."""
    if not call:
        return "unknown call"
    if call.get("state") != CallState.ON_CALL or (desk_id and call.get("desk") != desk_id):
        return f"{call.get('state')} at {call.get('desk') or 'no desk'}, not on a call at desk {desk_id}"
    return ""


def hold_plan(command: Command, call: Mapping[str, str], stage: str = "", peer: str = "") -> Plan:
    """What to send for a hold command, given the call's record and what Asterisk said of the
    caller's channel: its HOTLINE_STAGE and its BRIDGEPEER (the desk's leg) — read just before."""
    channel = call.get("channel") or command.channel
    not_here = _held_at(call, command.desk_id)
    if command.action == Action.HOLD:
        if not_here:
            return Plan(skip=f"call {command.call_id}: {not_here}")
        if call.get("held") != "1":
            return Plan(skip=f"call {command.call_id} is no longer to be held (resumed meanwhile)")
        if stage == HELD_STAGE and not peer:  # done before (a command read again after a restart)
            return Plan(skip=f"call {command.call_id} is on hold already")
        if not channel or not peer:
            return Plan(skip=f"call {command.call_id}: the caller is not talking to a desk's leg "
                             f"({channel or 'no channel'}, peer {peer or 'none'})", failed="hold_failed")
        return Plan(hold_actions(command.call_id, channel, peer), failed="hold_failed")
    if command.action == Action.RESUME:
        if not_here:
            return Plan(skip=f"call {command.call_id}: {not_here}")
        if call.get("held") == "1":
            return Plan(skip=f"call {command.call_id} is held again (a later hold)")
        if stage != HELD_STAGE:
            # Never held in Asterisk (the hold failed or was skipped): the two are talking already.
            return Plan(skip=f"call {command.call_id}: the caller is not on hold in Asterisk ({stage or 'no stage'})")
        return Plan((resume(channel),), failed="resume_failed")
    if command.action == Action.RESUME_FAILED and command.result != DESK_GONE:
        if not_here:
            return Plan(skip=f"call {command.call_id}: {not_here}")
        return Plan(skip=f"call {command.call_id}: the resume failed ({command.result})", failed="resume_failed")
    # desk_left, or a resume that found the desk's leg gone: the caller to the head of its queue.
    if not_here:
        return Plan(skip=f"call {command.call_id}: {not_here}")
    by = "resume" if command.action == Action.RESUME_FAILED else ""
    if command.action == Action.DESK_LEFT and call.get("held") != "1":
        return Plan(skip=f"call {command.call_id} is not held: its desk's leg ending ends the call")
    if not channel:
        return Plan(skip=f"call {command.call_id} has no channel", done="desk_left", by=by)
    return Plan((redirect(channel),), done="desk_left", by=by)


def hold_actions(call_id: str, caller: str, desk_leg: str) -> tuple[dict[str, str], ...]:
    """The caller to the music and the desk's leg to wait, each knowing the other; both leave
    their Dial bridge with one Redirect (neither is hung up)."""
    def setvar(channel: str, name: str, value: str) -> dict[str, str]:
        return {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}

    return (setvar(desk_leg, "HOTLINE_HELD_CALL", call_id), setvar(desk_leg, "HOTLINE_HELD_CALLER", caller),
            setvar(caller, "HOTLINE_DESK_CHANNEL", desk_leg),
            # Before the Redirect: hotline-desk-hold's first look must find the caller held.
            setvar(caller, "HOTLINE_STAGE", HELD_STAGE),
            {"Action": "Redirect", "Channel": caller, "Context": HOLD_CONTEXT, "Exten": "s", "Priority": "1",
             "ExtraChannel": desk_leg, "ExtraContext": DESK_HOLD_CONTEXT, "ExtraExten": "s", "ExtraPriority": "1"})


def resume(caller: str) -> dict[str, str]:
    return {"Action": "Redirect", "Channel": caller, "Context": RESUME_CONTEXT, "Exten": "s", "Priority": "1"}


def redirect(channel: str) -> dict[str, str]:
    return {"Action": "Redirect", "Channel": channel, "Context": WAIT_CONTEXT, "Exten": WAIT_EXTEN, "Priority": "1"}


def set_label(channel: str, label: str) -> dict[str, str]:
    """What the desk phone shows as the caller's name (hotline-deliver: CALLERID(name))."""
    return {"Action": "Setvar", "Channel": channel, "Variable": "HOTLINE_LABEL", "Value": label}


def hangup(channel: str) -> dict[str, str]:
    return {"Action": "Hangup", "Channel": channel, "Cause": HANGUP_CAUSE}


def outcome_event(error: AmiError | None) -> TransferEvent:
    """The transfer event an AMI outcome is: landed, the caller gone, or a failure."""
    if error is None:
        return TransferEvent.CALLER_MOVED
    if isinstance(error, ChannelGone):
        return TransferEvent.CALLER_HUNG_UP
    return TransferEvent.AMI_FAILED


@dataclass(frozen=True)
class StepArgs:
    """The arguments of ``routing.transfer_step`` for a decided step."""

    expected: str
    state: str
    requeue_queue: str = ""
    wrap_up: bool = False
    reason: str = ""


def transfer_step_for(record: Mapping[str, str], event: TransferEvent, reason: str = "") -> StepArgs | None:
    """The transfer_step that carries out ``event`` (queueing/transfers.py decides); None when
    the state machine refuses it in the transfer's current state."""
    transfer = transfer_of(record)
    step = decide(transfer, event)
    if step.refused:
        return None
    requeue = next((a.queue for a in step.actions if isinstance(a, RequeueAtHead)), "")
    wrap_up = any(isinstance(a, WrapUpInitiator) for a in step.actions)
    return StepArgs(transfer.state.value, step.transfer.state.value, requeue, wrap_up, reason)


# --- consultative transfers ----------------------------------------------------------------


@dataclass(frozen=True)
class ConsultPlan:
    """What to do for one consult command: AMI ``actions`` in order, then the transfer ``event``
    (stepped by :func:`transfer_step_for`); ``failed``: the step when the actions fail (``cancelled``:
    the caller is still with its desk; ``requeued``: it could not be given back);
    ``hang_up_after``: (channel, target leg): hang ``channel`` up once the target leg's
    BRIDGEPEER is the caller; ``skip``: why nothing is sent."""

    actions: tuple[dict[str, str], ...] = ()
    event: TransferEvent | None = None
    failed: str = ""
    hang_up_after: tuple[str, str] = ("", "")
    skip: str = ""


#: DIALSTATUS of hotline-consult's Dial → the transfer event it is.
DIAL_EVENTS = {"NOANSWER": TransferEvent.TARGET_NO_ANSWER, "ANSWER": TransferEvent.TARGET_HUNG_UP}


def dial_event(status: str, transfer_state: str) -> TransferEvent:
    if status == "ANSWER" and transfer_state == TransferState.RINGBACK:
        return TransferEvent.TARGET_HUNG_UP  # answered and gone before we heard of the answer
    return DIAL_EVENTS.get(status, TransferEvent.TARGET_BUSY)


def _setvar(channel: str, name: str, value: str) -> dict[str, str]:
    return {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}


def consult_actions(call_id: str, caller: str, desk_leg: str, target_desk: str) -> tuple[dict[str, str], ...]:
    """As :func:`hold_actions`, but the desk's leg goes to dial the target desk."""
    *before, redirect_both = hold_actions(call_id, caller, desk_leg)
    return (*before, _setvar(desk_leg, CONSULT_QUIET, ""), _setvar(desk_leg, CONSULT_DONE, ""),
            {**redirect_both, "ExtraContext": CONSULT_CONTEXT, "ExtraExten": target_desk})


def consult_plan(command: Command, call: Mapping[str, str], transfer: Mapping[str, str], *, peer: str = "",
                 initiator: str = "", target_leg: str = "", leg_waiting: bool = False) -> ConsultPlan:
    """What to send for a consult command, given the call's and the transfer's records and what
    Asterisk said just before: ``peer`` (consult: the caller's BRIDGEPEER, the desk's leg),
    ``initiator`` (the caller's HOTLINE_DESK_CHANNEL) and ``target_leg`` (its BRIDGEPEER);
    ``leg_waiting`` (desk_left of the initiator: the target leg ``command.leg`` waits in
    hotline-consult-orphan)."""
    cid = command.call_id
    state = transfer.get("transfer_state", "")
    if not call or not transfer or transfer.get("kind") != TransferKind.CONSULT:
        return ConsultPlan(skip=f"call {cid} has no consultative transfer")
    if command.action == Action.CONSULT_CALLER_LEFT:
        if state not in (TransferState.RINGBACK, TransferState.ANSWERED):
            return ConsultPlan(skip=f"the transfer of call {cid} is {state}: nothing to end")
        # Nobody to transfer: the initiator's leg hung up (quietly) stops the target ringing or ends its leg.
        leg = command.leg
        return ConsultPlan((_setvar(leg, CONSULT_QUIET, "1"), hangup(leg)) if leg else (),
                           event=TransferEvent.CALLER_HUNG_UP)
    if _gone(call):
        return ConsultPlan(event=TransferEvent.CALLER_HUNG_UP, skip=f"call {cid} is {call.get('state')}")
    channel = call.get("channel") or command.channel
    target = transfer.get("target_desk", "")
    if command.action == Action.CONSULT:
        if state != TransferState.RINGBACK:
            return ConsultPlan(skip=f"the transfer of call {cid} is {state}, not ringback")
        if not channel or not peer or not target:
            return ConsultPlan(skip=f"call {cid}: the caller is not talking to a desk's leg "
                                    f"({channel or 'no channel'}, peer {peer or 'none'})", failed="cancelled")
        return ConsultPlan(consult_actions(cid, channel, peer, target), failed="cancelled")
    if command.action == Action.CONSULT_ANSWERED:
        return ConsultPlan(event=TransferEvent.TARGET_ANSWERED)
    if command.action == Action.CONSULT_ENDED:
        event = dial_event(command.result, state)
        if state not in (TransferState.RINGBACK, TransferState.ANSWERED):
            return ConsultPlan(skip=f"the transfer of call {cid} is {state}: {command.result} changes nothing")
        return ConsultPlan((resume(channel),), event=event, failed="requeued")
    if command.action == Action.CONSULT_CANCEL:
        if state not in (TransferState.RINGBACK, TransferState.ANSWERED):
            return ConsultPlan(skip=f"the transfer of call {cid} is {state}: nothing to cancel")
        quiet = (_setvar(initiator, CONSULT_QUIET, "1"),) if initiator else ()
        drop = (hangup(target_leg),) if state == TransferState.ANSWERED and target_leg else ()
        return ConsultPlan((*quiet, *drop, resume(channel)), event=TransferEvent.CANCEL, failed="requeued")
    if command.action == Action.DESK_LEFT:
        return initiator_left_plan(command, channel, state, target, leg_waiting)
    if command.action == Action.CONFERENCE_LEFT:
        if state != TransferState.CONFERENCED:
            return ConsultPlan(skip=f"the transfer of call {cid} is {state}: desk {command.desk_id} leaving "
                                    "the conference changes nothing")
        if command.desk_id == transfer.get("from_desk"):
            return ConsultPlan(event=TransferEvent.INITIATOR_HUNG_UP)
        if command.desk_id == target:
            return ConsultPlan(event=TransferEvent.TARGET_HUNG_UP)
        return ConsultPlan(skip=f"call {cid}: desk {command.desk_id} is not in its conference")
    # complete, conference
    verb = "hand the caller to" if command.action == Action.CONSULT_COMPLETE else "conference with"
    if state != TransferState.ANSWERED:
        return ConsultPlan(skip=f"the transfer of call {cid} is {state}, not answered")
    if not initiator or not target_leg:
        # The two desks are not talking any more: the caller back with its desk.
        return ConsultPlan((resume(channel),), event=TransferEvent.TARGET_HUNG_UP, failed="requeued",
                           skip=f"call {cid}: no target leg to {verb} ({initiator or 'no initiator'}, "
                                f"peer {target_leg or 'none'})")
    if command.action == Action.CONSULT_CONFERENCE:
        return ConsultPlan(conference_actions(cid, channel, initiator, target_leg), event=TransferEvent.CONFERENCE,
                           failed="cancelled")
    return ConsultPlan((_setvar(initiator, CONSULT_DONE, "1"), _setvar(channel, "HOTLINE_DESK_CHANNEL", target_leg),
                        _setvar(channel, "HOTLINE_DESK", target), resume(channel)),
                       event=TransferEvent.COMPLETE, failed="cancelled", hang_up_after=(initiator, target_leg))


def consulting_desk_left(command: Command, transfer: Mapping[str, str]) -> bool:
    """A desk_left is the initiating desk's, while its consultation rings or talks: a consult command."""
    return (transfer.get("kind") == TransferKind.CONSULT and command.desk_id == transfer.get("from_desk")
            and transfer.get("transfer_state") in (TransferState.RINGBACK, TransferState.ANSWERED))


def initiator_left_plan(command: Command, caller: str, state: str, target: str, leg_waiting: bool) -> ConsultPlan:
    """The initiating desk hung up mid-consultation (queueing/transfers.py: INITIATOR_HUNG_UP).
    Ringing: it becomes blind, the caller to wait first (the step wakes the dispatcher), then at
    the head of the target agency's queue. Answered: the caller to the target leg, which waits in
    hotline-consult-orphan (completed: the target desk's call). Answered but that leg is gone too:
    at the head of its own queue (``failed``: requeued)."""
    cid, leg = command.call_id, command.leg
    if state not in (TransferState.RINGBACK, TransferState.ANSWERED):
        return ConsultPlan(skip=f"the transfer of call {cid} is {state}: the desk leaving changes nothing")
    if not caller:
        return ConsultPlan(skip=f"call {cid} has no channel", failed="requeued")
    if state == TransferState.RINGBACK:
        return ConsultPlan((redirect(caller),), event=TransferEvent.INITIATOR_HUNG_UP, failed="requeued")
    if not leg_waiting:
        return ConsultPlan(skip=f"call {cid}: the target leg {leg or '(none)'} is not waiting for the caller",
                           failed="requeued")
    return ConsultPlan((_setvar(caller, "HOTLINE_DESK_CHANNEL", leg), _setvar(caller, "HOTLINE_DESK", target),
                        resume(caller)), event=TransferEvent.INITIATOR_HUNG_UP, failed="requeued")


def conference_actions(call_id: str, caller: str, initiator: str, target_leg: str) -> tuple[dict[str, str], ...]:
    """The three channels into one ConfBridge room named by the call id: the caller first (it waits
    there, with music, for a desk), then both desk legs with one Redirect (neither is hung up)."""
    room = tuple(_setvar(channel, CONFERENCE_ROOM, call_id) for channel in (caller, initiator, target_leg))
    return (*room, _setvar(initiator, CONSULT_QUIET, "1"),
            {"Action": "Redirect", "Channel": caller, "Context": CONFERENCE_CONTEXT, "Exten": "caller",
             "Priority": "1"},
            {"Action": "Redirect", "Channel": initiator, "Context": CONFERENCE_CONTEXT, "Exten": "desk",
             "Priority": "1", "ExtraChannel": target_leg, "ExtraContext": CONFERENCE_CONTEXT, "ExtraExten": "desk",
             "ExtraPriority": "1"})


# --- a supervisor listening to a desk's call --------------------------------------------------


def is_desk_leg(desk_id: str, channel: str) -> bool:
    """``channel`` is a leg of desk ``desk_id``'s own phone (``PJSIP/desk-1-…`` is not desk-10's)."""
    found = _PJSIP_LEG.fullmatch(channel)
    return found is not None and found["endpoint"] == desk_id


def spy_options(mode: str) -> str:
    return SPY_OPTIONS[SpyMode(mode)]


@dataclass(frozen=True)
class SpyPlan:
    """What to do for one spy command: AMI ``actions`` in order; ``watch``: then watch the
    supervisor's leg; ``ended``: end the session at once with this reason (nothing sent);
    ``skip``: why nothing is sent."""

    actions: tuple[dict[str, str], ...] = ()
    watch: bool = False
    ended: str = ""
    skip: str = ""


def originate_spy(spy_id: str, supervisor_desk: str, desk_id: str, desk_leg: str, mode: str) -> dict[str, str]:
    """Ring the supervisor's desk phone; answered, it runs ChanSpy on the desk's leg (hotline-spy)."""
    variables = {"HOTLINE_SPY_DESK": desk_id, "HOTLINE_SPY_CHANNEL": desk_leg, "HOTLINE_SPY_OPTIONS": spy_options(mode)}
    return {"Action": "Originate", "Channel": f"PJSIP/{supervisor_desk}", "ChannelId": spy_id,
            "Context": SPY_CONTEXT, "Exten": "s", "Priority": "1", "Async": "true",
            "Timeout": str(SPY_RING_S * 1000), "CallerID": f'"SPY {desk_id}" <{desk_id}>',
            "Variable": ",".join(f"{k}={v}" for k, v in variables.items())}


def spy_plan(command: Command, call: Mapping[str, str], spy: Mapping[str, str], desk_leg: str = "") -> SpyPlan:
    """What to send for a spy command, given the call's record, the desk's spy session now and,
    for a start, the caller's BRIDGEPEER (the desk's leg) read just before."""
    spy_id = command.spy_id
    if not spy_id:
        return SpyPlan(skip=f"spy command {command.id} names no session")
    if command.action == Action.SPY_STOP:
        return SpyPlan((hangup(spy_id),))  # the session is gone already (spy_stop): only its leg is left
    if spy.get("spy_id") != spy_id:
        return SpyPlan(skip=f"the spy session {spy_id} on desk {command.desk_id} ended meanwhile")
    if command.action == Action.SPY_MODE:
        mode = SpyMode(spy.get("mode") or command.mode)  # the newest mode, whatever this command said
        # Ringing still: the options it starts with; listening: the digit ChanSpy (d) switches on.
        return SpyPlan((_setvar(spy_id, "HOTLINE_SPY_OPTIONS", spy_options(mode)),
                        {"Action": "PlayDTMF", "Channel": spy_id, "Digit": SPY_DIGITS[mode], "Duration": "100",
                         "Receive": "true"}))
    if command.action != Action.SPY_START:
        return SpyPlan(skip=f"unknown spy command {command.action!r}")
    not_here = _held_at(call, command.desk_id)
    if not_here:
        return SpyPlan(ended=f"call {command.call_id}: {not_here}")
    if call.get("held") == "1":
        return SpyPlan(ended=f"call {command.call_id} is on hold")
    if not is_desk_leg(command.desk_id, desk_leg):
        return SpyPlan(ended=f"call {command.call_id}: the caller is not talking to desk {command.desk_id}'s phone "
                             f"(peer {desk_leg or 'none'})")
    start_mode = spy.get("mode") or command.mode
    return SpyPlan((originate_spy(spy_id, command.supervisor_desk, command.desk_id, desk_leg, start_mode),),
                   watch=True)


def spy_watch_step(seen: bool, stage: str | None, answered: bool) -> str:
    """What one look at the supervisor's leg means: ``answered``, ``ended`` or '' (nothing new).
    ``stage``: its HOTLINE_SPY_STAGE, None when the channel does not exist."""
    if stage is None:
        return "ended" if seen else ""
    if stage == SPY_LIVE and not answered:
        return "answered"
    return ""


# --- the consumer --------------------------------------------------------------------------


class Ami(Protocol):
    ready: asyncio.Event

    async def action(self, fields: dict[str, str], timeout: float = ...) -> Any: ...


def consumer_name(agi_port: int) -> str:
    """Stable across a bridge's restarts (its pending entries are its own again), distinct for
    two bridges on one host (they cannot share an AGI port)."""
    return f"{socket.gethostname()}:{agi_port}"


def _entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """XREADGROUP's reply ``[[stream, [(id, fields), …]]]`` as (id, fields); an entry deleted
    while pending has no fields."""
    return [(str(entry_id), dict(fields or {})) for _, entries in reply or [] for entry_id, fields in entries]


@dataclass
class CallControl:
    redis: aioredis.Redis
    routing: AsyncRouting
    ami: Ami
    hangups: Hangups
    wrap_up_ms: int
    consumer: str
    group: str = GROUP
    done: list[str] = field(default_factory=list)  # ids acted on, newest last (tests, logs)
    watchers: set[asyncio.Task[None]] = field(default_factory=set)  # one per spy session's leg
    watching: set[str] = field(default_factory=set)  # the spy ids watched

    @property
    def stream(self) -> str:
        return self.routing.keys.call_commands()

    async def ensure_group(self) -> None:
        try:
            # From the stream's start: a command written before the group existed is not lost.
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self) -> None:
        pending = True  # at start, and after any failure: this consumer's unacked entries first
        last_claim = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if not self.ami.ready.is_set():
                    await asyncio.sleep(RETRY_S / 4)
                    continue
                if pending:
                    await self.ensure_group()
                    while await self.read("0"):
                        pass
                    await self.watch_open_spies()
                    pending = False
                if loop.time() - last_claim > CLAIM_EVERY_S:
                    last_claim = loop.time()
                    await self.claim_abandoned()
                await self.read(">", block_ms=READ_BLOCK_MS)
            except asyncio.CancelledError:
                raise
            except ResponseError as exc:
                # NOGROUP: the stream or the group was deleted (a flushed Redis): made again.
                log.warning("call commands: %s; reading again", exc)
                pending = True
                await asyncio.sleep(RETRY_S / 4)
            except RedisError as exc:
                log.error("call commands paused: Redis unreachable (%s)", exc)
                pending = True
                await asyncio.sleep(RETRY_S)
            except Exception:
                log.exception("call commands failed; retrying")
                pending = True
                await asyncio.sleep(RETRY_S)

    async def read(self, start: str, block_ms: int | None = None) -> int:
        """Act on the entries read from ``start`` ("0": this consumer's pending ones, ">": new
        ones); returns how many were read."""
        reply = await self.redis.xreadgroup(self.group, self.consumer, {self.stream: start},
                                            count=READ_COUNT, block=block_ms)
        entries = _entries(reply)
        for entry_id, fields in entries:
            await self.handle(entry_id, fields)
        return len(entries)

    async def claim_abandoned(self) -> None:
        """Entries another consumer read and never acked (its bridge died) become ours."""
        reply = await self.redis.xautoclaim(self.stream, self.group, self.consumer, CLAIM_IDLE_MS,
                                            start_id="0-0", count=READ_COUNT)
        claimed = reply[1] if reply and len(reply) > 1 else []
        for entry_id, fields in claimed:
            log.warning("call command %s was left unacked by another bridge: done here", entry_id)
            await self.handle(str(entry_id), dict(fields or {}))

    async def handle(self, entry_id: str, fields: Mapping[str, str]) -> None:
        """Act on one entry, then ack it. A Redis error propagates unacked (read again later)."""
        command = parse_command(entry_id, fields)
        with bound_contextvars(call_id=command.call_id):
            if fields:
                call = await self.routing.call(command.call_id) if command.call_id else {}
                transfer = await self.routing.transfer(command.call_id) if command.call_id else {}
                try:
                    if command.action == Action.DESK_LEFT and consulting_desk_left(command, transfer):
                        await self.act_consult(command, call, transfer)
                    elif command.action in (Action.HOLD, Action.RESUME, Action.DESK_LEFT, Action.RESUME_FAILED):
                        await self.act_hold(command, call)
                    elif command.action in CONSULT_ACTIONS:
                        await self.act_consult(command, call, transfer)
                    elif command.action in SPY_ACTIONS:
                        await self.act_spy(command, call)
                    else:
                        await self.act(command, plan(command, call, transfer, wall_clock_ms()))
                except RedisError:
                    raise
                except RoutingRefused as exc:  # the transfer moved on meanwhile (another step won)
                    log.warning("call %s: %s %s: %s", command.call_id, command.action, command.id, exc)
                except Exception:
                    # Not retried: the same entry would fail the same way, for ever.
                    log.exception("call command %s %s failed; dropped", command.action, command.id)
            await self.redis.xack(self.stream, self.group, entry_id)
            self.done.append(entry_id)

    async def act_hold(self, command: Command, call: Mapping[str, str]) -> None:
        """Hold, resume, and a held caller's desk leg gone: what Asterisk says first, then the plan."""
        channel = call.get("channel") or command.channel
        stage = peer = ""
        if command.action in (Action.HOLD, Action.RESUME) and channel and not _held_at(call, command.desk_id):
            try:
                stage = await self.getvar(channel, "HOTLINE_STAGE")
                if command.action == Action.HOLD:
                    peer = await self.getvar(channel, "BRIDGEPEER")
            except ChannelGone as exc:
                log.info("call %s: the caller had left (%s)", command.call_id, exc)
                await self.hangups.record(command.call_id)
                return
            except AmiError as exc:
                await self.hold_step(command, "hold_failed" if command.action == Action.HOLD else "resume_failed",
                                     str(exc))
                return
        todo = hold_plan(command, call, stage, peer)
        if todo.skip:
            log.info("call command %s %s: %s", command.action, command.id, todo.skip)
        error: AmiError | None = None
        for fields in todo.actions:
            log.info("call %s: %s %s → %s", command.call_id, fields["Action"], fields.get("Channel"),
                     fields.get("Context") or fields.get("Variable"))
            try:
                await self.ami.action(fields)
            except AmiError as exc:
                error = exc
                break
        if isinstance(error, ChannelGone) and todo.done != "desk_left":
            log.info("call %s: the caller had left (%s)", command.call_id, error)
            await self.hangups.record(command.call_id)
        elif error is not None and todo.failed:
            log.error("call %s: %s failed: %s", command.call_id, command.action, error)
            await self.hold_step(command, todo.failed, str(error))
        elif todo.skip and todo.failed:
            await self.hold_step(command, todo.failed, todo.skip)
        if todo.done and not isinstance(error, ChannelGone):
            if error is not None:  # the caller stays where it is; the dispatcher's Redirect reaches it there
                log.error("call %s: could not move the caller to wait (%s); queued all the same", command.call_id, error)
            await self.hold_step(command, todo.done, command.result or "the desk's leg ended", by=todo.by)
        elif todo.done:
            await self.hangups.record(command.call_id)

    async def act_consult(self, command: Command, call: Mapping[str, str], transfer: Mapping[str, str]) -> None:
        """A consultative transfer's command: what Asterisk says first, then the plan, then the step."""
        channel = call.get("channel") or command.channel
        peer = initiator = target_leg = ""
        waiting = False
        if channel and not _gone(call):
            try:
                if command.action == Action.DESK_LEFT and command.leg \
                        and transfer.get("transfer_state") == TransferState.ANSWERED:
                    waiting = await self.leg_waiting(command.leg)
                elif command.action == Action.CONSULT:
                    peer = await self.getvar(channel, "BRIDGEPEER")
                elif command.action in (Action.CONSULT_CANCEL, Action.CONSULT_COMPLETE, Action.CONSULT_CONFERENCE):
                    initiator = await self.getvar(channel, "HOTLINE_DESK_CHANNEL")
                    if initiator:
                        try:
                            target_leg = await self.getvar(initiator, "BRIDGEPEER")
                            # Just answered: the two legs may not be bridged yet (the dialplan says
                            # answered before Dial bridges them): a moment's grace.
                            for _ in range(int(PEER_WAIT_S / 0.1)):
                                if target_leg or transfer.get("transfer_state") != TransferState.ANSWERED:
                                    break
                                await asyncio.sleep(0.1)
                                target_leg = await self.getvar(initiator, "BRIDGEPEER")
                        except ChannelGone:
                            initiator = ""
            except ChannelGone as exc:
                log.info("call %s: the caller had left (%s)", command.call_id, exc)
                await self.hangups.record(command.call_id)
                await self.step(command.call_id, TransferEvent.CALLER_HUNG_UP, str(exc))
                return
            except AmiError as exc:
                log.error("call %s: %s: Asterisk did not say where the channels are (%s)", command.call_id,
                          command.action, exc)
                if command.action == Action.CONSULT:
                    await self.consult_failed(command, transfer, "cancelled", str(exc))
                    return
        todo = consult_plan(command, call, transfer, peer=peer, initiator=initiator, target_leg=target_leg,
                            leg_waiting=waiting)
        if todo.skip:
            log.info("call command %s %s: %s", command.action, command.id, todo.skip)
        if todo.event is not None and transfer_step_for(transfer, todo.event) is None:
            log.warning("call %s: the transfer is %s; %s changes nothing", command.call_id,
                        transfer.get("transfer_state") or "gone", todo.event.value)
            return
        if not todo.actions and todo.failed:
            await self.consult_failed(command, transfer, todo.failed, todo.skip)
            return
        error = await self.send(command, todo.actions)
        if isinstance(error, ChannelGone) and command.action == Action.CONSULT_CONFERENCE \
                and await self.caller_here(channel):
            error = AmiError(f"a desk's leg is gone: {error}")  # not the caller: given back, as a failure
        if isinstance(error, ChannelGone):
            log.info("call %s: the caller had left (%s)", command.call_id, error)
            await self.hangups.record(command.call_id)
            await self.step(command.call_id, TransferEvent.CALLER_HUNG_UP, str(error))
            return
        if error is not None:
            log.error("call %s: %s failed: %s", command.call_id, command.action, error)
            if command.action in (Action.CONSULT_COMPLETE, Action.CONSULT_CONFERENCE):
                # The caller was not handed over: back with its desk (the target's leg hung up).
                if command.action == Action.CONSULT_COMPLETE:
                    await self.send(command, (_setvar(initiator, CONSULT_DONE, ""),))
                todo = consult_plan(replace(command, action=Action.CONSULT_CANCEL), call, transfer,
                                    initiator=initiator, target_leg=target_leg)
                if await self.send(command, todo.actions) is None:
                    await self.step(command.call_id, TransferEvent.CANCEL, str(error))
                    return
            await self.consult_failed(command, transfer, todo.failed or "requeued", str(error))
            return
        leg, target_leg = todo.hang_up_after
        if leg:
            await self.hang_up_when_bridged(command.call_id, channel, leg, target_leg)
        if todo.event is not None:
            await self.step(command.call_id, todo.event, todo.skip or command.result)

    async def act_spy(self, command: Command, call: Mapping[str, str]) -> None:
        """A spy command: the desk's leg (a start), then the plan; never an action on the call's channels."""
        spy = await self.routing.spy(command.desk_id) if command.desk_id else {}
        desk_leg = ""
        channel = call.get("channel") or command.channel
        if command.action == Action.SPY_START and channel and spy.get("spy_id") == command.spy_id:
            try:
                desk_leg = await self.getvar(channel, "BRIDGEPEER")
            except AmiError as exc:
                log.info("call %s: no desk leg to listen to (%s)", command.call_id, exc)
        todo = spy_plan(command, call, spy, desk_leg)
        if todo.skip:
            log.info("call command %s %s: %s", command.action, command.id, todo.skip)
        error = await self.send(command, todo.actions)
        if error is not None and command.action == Action.SPY_START:
            todo = replace(todo, watch=False, ended=f"the supervisor's phone could not be rung: {error}")
        elif error is not None:  # a switch or a stop that found the leg gone: the watcher ends the session
            log.info("spy %s: %s: %s", command.spy_id, command.action, error)
        if todo.ended:
            log.warning("spy %s on desk %s: %s", command.spy_id, command.desk_id, todo.ended)
            await self.routing.spy_step(command.desk_id, command.spy_id, "ended", reason=todo.ended)
        if todo.watch:
            self.start_watching(command.desk_id, command.spy_id)

    def start_watching(self, desk_id: str, spy_id: str, answered: bool = False) -> None:
        if spy_id in self.watching:
            return
        self.watching.add(spy_id)
        task = asyncio.create_task(self.watch_spy(desk_id, spy_id, answered))
        self.watchers.add(task)
        task.add_done_callback(self.watchers.discard)
        task.add_done_callback(lambda _: self.watching.discard(spy_id))

    async def watch_open_spies(self) -> None:
        """At start (and after a failure): the open sessions' legs are watched again, so one whose
        watcher died with a bridge still ends when its leg does."""
        for desk_id in await self.routing.spies():
            record = await self.routing.spy(desk_id)
            if record.get("spy_id"):
                self.start_watching(desk_id, record["spy_id"], answered=bool(record.get("answered_ms")))

    async def watch_spy(self, desk_id: str, spy_id: str, answered: bool = False) -> None:
        """Follow the supervisor's leg: answered, then gone (hung up, not answered, the desk's call
        over) — each told to spy_step. A leg that never appears was not rung (or is gone already)."""
        loop = asyncio.get_running_loop()
        started, seen = loop.time(), False
        while True:
            try:
                stage: str | None = await self.getvar(spy_id, SPY_STAGE)
            except ChannelGone:
                stage = None
            except AmiError as exc:
                log.info("spy %s: %s", spy_id, exc)
                await asyncio.sleep(SPY_WATCH_S)
                continue
            seen = seen or stage is not None
            step = spy_watch_step(seen, stage, answered)
            if not seen and loop.time() - started > SPY_APPEAR_S:
                step = "ended"
            try:
                if step == "answered":
                    answered = True
                    await self.routing.spy_step(desk_id, spy_id, "answered")
                elif step == "ended":
                    reason = "the supervisor's leg ended" if seen else "the supervisor's leg never appeared"
                    await self.routing.spy_step(desk_id, spy_id, "ended", reason=reason)
                    return
            except RedisError as exc:
                log.error("spy %s: Redis: %s", spy_id, exc)
            await asyncio.sleep(SPY_WATCH_S)

    async def caller_here(self, channel: str) -> bool:
        """The caller's channel still exists (a ChannelGone was about another channel)."""
        try:
            await self.getvar(channel, "HOTLINE_STAGE")
        except ChannelGone:
            return False
        except AmiError:
            return True
        return True

    async def send(self, command: Command, actions: tuple[dict[str, str], ...]) -> AmiError | None:
        for fields in actions:
            log.info("call %s: %s %s → %s", command.call_id, fields["Action"], fields.get("Channel"),
                     fields.get("Context") or fields.get("Variable") or "")
            try:
                await self.ami.action(fields)
            except AmiError as exc:
                return exc
        return None

    async def hang_up_when_bridged(self, call_id: str, caller: str, leg: str, target_leg: str) -> None:
        """Hang ``leg`` (the initiator's) up once the caller is bridged with ``target_leg``: earlier,
        the Dial bridge it shares with the target would end the target's leg with it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + COMPLETE_WAIT_S
        while loop.time() < deadline:
            try:
                if await self.getvar(target_leg, "BRIDGEPEER") == caller:
                    break
            except AmiError:
                break
            await asyncio.sleep(0.1)
        else:
            log.warning("call %s: the caller is not bridged with %s yet; hanging %s up all the same",
                        call_id, target_leg, leg)
        try:
            await self.ami.action(hangup(leg))
        except AmiError as exc:
            log.info("call %s: the initiator's leg %s: %s", call_id, leg, exc)

    async def consult_failed(self, command: Command, transfer: Mapping[str, str], outcome: str, reason: str) -> None:
        """``cancelled``: the caller is still with its desk. ``requeued``: it could not be given back to
        its desk: to the waiting music, at the head of its own queue, the desk to wrap-up."""
        state = transfer.get("transfer_state", "")
        if outcome == "requeued":
            call = await self.routing.call(command.call_id)
            channel = call.get("channel") or command.channel
            if channel and await self.send(command, (redirect(channel),)) is not None:
                log.error("call %s: could not move the caller to wait; queued all the same", command.call_id)
            queue = transfer.get("own_queue", "")
        else:
            queue = ""
        try:
            after = await self.routing.transfer_step(command.call_id, state, outcome, requeue_queue=queue,
                                                     wrap_up_ms=self.wrap_up_ms if queue else None, reason=reason)
            log.info("call %s: transfer %s → %s (%s)", command.call_id, state, after.get("transfer_state"), reason)
        except RoutingRefused as exc:
            log.warning("call %s: %s", command.call_id, exc)

    async def leg_waiting(self, leg: str) -> bool:
        """The target leg reached hotline-consult-orphan (a moment's grace: the initiator's hang-up
        and the leg's move there race)."""
        for _ in range(int(PEER_WAIT_S / 0.1)):
            try:
                if await self.getvar(leg, CONSULT_ORPHAN) == "1":
                    return True
            except ChannelGone:
                return False
            except AmiError as exc:
                log.info("target leg %s: %s", leg, exc)
                return False
            await asyncio.sleep(0.1)
        return False

    async def getvar(self, channel: str, variable: str) -> str:
        reply = await self.ami.action({"Action": "Getvar", "Channel": channel, "Variable": variable})
        first = reply[0] if isinstance(reply, list) else reply
        return str(first.get("Value") or "") if first is not None else ""

    async def hold_step(self, command: Command, action: str, reason: str, by: str = "") -> None:
        reply = await self.routing.call_hold(command.call_id, command.desk_id, action, by=by or "bridge",
                                             reason=reason, wrap_up_ms=self.wrap_up_ms)
        log.info("call %s: %s → %s (%s)", command.call_id, action, reply.get("result"), reply.get("reason") or reason)

    async def act(self, command: Command, todo: Plan) -> None:
        if todo.skip:
            log.info("call command %s %s: %s", command.action, command.id, todo.skip)
        error: AmiError | None = None
        for fields in todo.actions:
            log.info("call %s: %s %s", command.call_id, fields["Action"], fields.get("Channel"))
            try:
                await self.ami.action(fields)
            except AmiError as exc:
                error = exc
                break
        if isinstance(error, ChannelGone):
            log.info("call %s: the caller had left (%s)", command.call_id, error)
            await self.hangups.record(command.call_id)
        elif error is not None:
            log.error("call %s: %s failed: %s", command.call_id, command.action, error)
        event = outcome_event(error) if todo.transfer else todo.event
        if event is not None:
            reason = str(error) if error is not None else todo.skip
            await self.step(command.call_id, event, reason)

    async def step(self, call_id: str, event: TransferEvent, reason: str) -> None:
        record = await self.routing.transfer(call_id)
        args = transfer_step_for(record, event, reason)
        if args is None:
            log.warning("call %s: the transfer is %s; %s changes nothing", call_id,
                        record.get("transfer_state") or "gone", event.value)
            return
        after = await self.routing.transfer_step(call_id, args.expected, args.state, requeue_queue=args.requeue_queue,
                                                 wrap_up_ms=self.wrap_up_ms if args.wrap_up else None,
                                                 reason=args.reason)
        log.info("call %s: transfer %s → %s (%s)", call_id, args.expected, after.get("transfer_state"),
                 args.requeue_queue or args.reason or event.value)

"""Calls a citizen back over AMI: the desk's phone first, then the citizen.

Used by the rq job ``dial_callback`` (telephony/callback_jobs.py), which is synchronous: so
this uses the blocking AMI client (telephony/ami_blocking.py), not the bridge's panoramisk link.

One attempt:

1. Login (events ``call,user`` only), then ``Originate`` with ``Async: true``:
   ``Channel: PJSIP/<desk>``, ``Context: hotline-callback``, ``Exten: <number>``, the desk
   ringing ``desk_ring_s`` with caller id ``"CALLBACK" <number>``.
2. ``OriginateResponse`` (same ActionID): ``Success`` once the call-taker picks up; anything
   else → ``desk_unavailable`` (not counted against the citizen).
3. The dialplan (``[hotline-callback]`` in asterisk_conf/extensions.conf.tmpl) dials the
   citizen and raises ``UserEvent CitizenCallbackResult`` with ``CallbackId`` and
   ``Status``: ANSWER → reached, NOANSWER → no_answer, BUSY → busy, CANCEL (the desk hung
   up first) → cancelled, anything else → failed.

No reply in time, a refused login or a dead socket → ``system_error``.
"""

from __future__ import annotations

import logging

from queueing.callbacks import Outcome
from telephony.ami_blocking import AmiSession, AmiSyncError

log = logging.getLogger("hotline.callbacks.dialer")

CALLBACK_CONTEXT = "hotline-callback"
# Not "Hotline…": the bridge takes every Hotline* UserEvent for one of its own.
RESULT_EVENT = "CitizenCallbackResult"
_STATUS = {"ANSWER": Outcome.REACHED, "NOANSWER": Outcome.NO_ANSWER, "BUSY": Outcome.BUSY,
           "CANCEL": Outcome.CANCELLED}


def outcome_of_dial_status(status: str) -> Outcome:
    """The citizen leg's DIALSTATUS as an attempt outcome."""
    return _STATUS.get(status.strip().upper(), Outcome.FAILED)


def dial_over_ami(host: str, port: int, username: str, secret: str, *, desk_id: str,
                  number: str, callback_id: str, desk_ring_s: int, citizen_ring_s: int,
                  margin_s: float = 10.0) -> Outcome:
    """One attempt, desk leg first, then the citizen; returns its outcome (never raises)."""
    try:
        with AmiSession(host, port) as ami:
            ami.login(username, secret, events="call,user")
            action_id, reply = ami.request({
                "Action": "Originate", "Channel": f"PJSIP/{desk_id}", "Context": CALLBACK_CONTEXT,
                "Exten": number, "Priority": "1", "Timeout": str(desk_ring_s * 1000),
                "CallerID": f'"CALLBACK" <{number}>', "Async": "true",
                "Variable": [f"HOTLINE_CALLBACK_ID={callback_id}",
                             f"HOTLINE_CALLBACK_RING={citizen_ring_s}"],
            })
            if reply.get("Response", "").lower() != "success":
                log.error("callback %s: Originate refused: %s", callback_id, reply.get("Message", ""))
                return Outcome.SYSTEM_ERROR
            desk = ami.wait_event(
                lambda m: m.get("Event") == "OriginateResponse" and m.get("ActionID") == action_id,
                desk_ring_s + margin_s)
            if desk is None:
                log.error("callback %s: no OriginateResponse within %s s", callback_id, desk_ring_s + margin_s)
                return Outcome.SYSTEM_ERROR
            if desk.get("Response", "").lower() != "success":
                log.info("callback %s: desk %s did not take it (reason %s)", callback_id, desk_id,
                         desk.get("Reason", "?"))
                return Outcome.DESK_UNAVAILABLE
            result = ami.wait_event(
                lambda m: m.get("Event") == "UserEvent" and m.get("UserEvent") == RESULT_EVENT
                and m.get("CallbackId") == callback_id,
                citizen_ring_s + margin_s)
            if result is None:
                log.error("callback %s: no %s within %s s", callback_id, RESULT_EVENT, citizen_ring_s + margin_s)
                return Outcome.SYSTEM_ERROR
            outcome = outcome_of_dial_status(result.get("Status", ""))
            if result.get("Status", "").upper() == "NOCARRIER":
                log.error("callback %s: Asterisk has no carrier for calls to citizens (the citizens "
                          "endpoint has no AOR contact: set citizens_contact); reported as %s",
                          callback_id, outcome)
            log.info("callback %s: desk %s → %s: %s", callback_id, desk_id, number, outcome)
            return outcome
    except (OSError, AmiSyncError, ValueError) as exc:
        log.error("callback %s: AMI failed: %s", callback_id, exc)
        return Outcome.SYSTEM_ERROR

"""The queueing vocabulary: every fixed set of values stored in Redis (docs/architecture.md).

They are plain strings in Redis and in the Lua scripts, which cannot import these;
tests/queueing/test_vocabulary.py checks that the scripts use exactly these values.
"""

from __future__ import annotations

from enum import StrEnum


class CallState(StrEnum):
    IVR = "ivr"
    QUEUED = "queued"
    RINGING = "ringing"
    ON_CALL = "on_call"
    FALLBACK = "fallback"
    ENDED = "ended"
    ABANDONED = "abandoned"


#: States after which a call never changes again.
FINAL_CALL_STATES = frozenset({CallState.ENDED, CallState.ABANDONED})


class CallOutcome(StrEnum):
    """A call record's ``outcome``, set when the call ends (``call_hangup``)."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    FALLBACK = "fallback"  # Asterisk's own queue took the caller


class AbandonStage(StrEnum):
    """A call record's ``abandon_stage``: the call state the caller hung up in."""

    IVR = CallState.IVR.value
    QUEUED = CallState.QUEUED.value
    RINGING = CallState.RINGING.value


class RouteReason(StrEnum):
    """A call record's ``route_reason``: why it went to its queue."""

    CHOSEN = "chosen"      # the caller pressed an agency's key
    NO_INPUT = "no_input"  # no key: the general queue
    INVALID = "invalid"    # only wrong keys: the general queue
    REJOINED = "rejoined"  # back from the fallback without having chosen (call_rejoin)
    DESK_FREE = "desk_free"  # [ivr] mode human_first: a desk was idle and nobody waiting, so no menu
    SPOKE = "spoke"  # spoke in the menu for [ivr] speech_to_human_s without a key (call_spoke)


class PriorityReason(StrEnum):
    """A call record's ``priority_reason``: where its priority came from (the console shows it)."""

    NO_CHOICE = "no_choice"    # no key or only wrong keys: the general queue's priority
    CHOSEN = "chosen"          # the priority of the agency the caller chose
    POLICY = "policy"          # a supervisor's number policy lowered it (policy_applied)
    SUPERVISOR = "supervisor"  # a supervisor changed it while the caller waited (call_reprioritize)
    TRANSFER = "transfer"      # the caller was transferred from another agency's desk
    REQUEUED = "requeued"      # its desk left it on hold: back at the head of its queue


class LocationSource(StrEnum):
    """Where a caller's location fix came from (``location:{number}``)."""

    AML = "aml"            # Advanced Mobile Location, sent by the handset
    NETWORK = "network"    # the carrier's cell or network location
    CALLER = "caller"      # told by the caller to a call-taker
    LAB = "lab"            # made up in the lab or a test


class RecordingStatus(StrEnum):
    """A call record's ``recording``: the call's recording, from the desk's answer to its check and expiry."""

    RECORDING = "recording"  # MixMonitor is writing it (the call goes on)
    OK = "ok"                # checked after the call: both directions there and not silent
    BROKEN = "broken"        # checked: a direction is silent, empty or unreadable (recording_detail says which)
    MISSING = "missing"      # checked: no file at all (Asterisk never started it, or it was lost)
    EXPIRED = "expired"      # deleted after [recording] retention_days


class DeskState(StrEnum):
    OFFLINE = "offline"
    READY = "ready"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class UserRole(StrEnum):
    """An API token's role (api/tokens.py) and a console user's (``user:{name}``), but for
    :data:`TOKEN_ONLY_ROLES`."""

    CALL_TAKER = "call_taker"  # its agency's desks, calls and callbacks, and the general queue's
    SUPERVISOR = "supervisor"  # everything
    VIEWER = "viewer"          # reads everything, changes nothing
    METRICS = "metrics"        # a Prometheus scraper: GET /metrics and nothing else


#: Roles of API tokens only: nobody signs in to the console as a scraper.
TOKEN_ONLY_ROLES = frozenset({UserRole.METRICS})


#: States a call-taker or supervisor may set (``desk_set_state``).
SETTABLE_DESK_STATES = frozenset({DeskState.OFFLINE, DeskState.READY, DeskState.PAUSED})


class CallbackStatus(StrEnum):
    """A callback task's ``status`` (queueing/callbacks.py)."""

    PENDING = "pending"
    DIALING = "dialing"
    RETRY_AT = "retry_at"
    REACHED = "reached"
    GIVEN_UP = "given_up"
    NOT_NEEDED = "not_needed"
    NOT_POSSIBLE = "not_possible"


#: Statuses of a task that may still be called back.
OPEN_CALLBACK_STATUSES = frozenset({CallbackStatus.PENDING, CallbackStatus.DIALING, CallbackStatus.RETRY_AT})


class CallbackOutcome(StrEnum):
    """How one attempt to call a citizen back ended (a task's ``last_outcome``)."""

    REACHED = "reached"                    # the citizen answered
    NO_ANSWER = "no_answer"                # rang out
    BUSY = "busy"                          # the citizen's line was busy
    FAILED = "failed"                      # the number could not be reached (unavailable, congestion)
    DESK_UNAVAILABLE = "desk_unavailable"  # the desk leg was not answered: not the citizen's fault
    CANCELLED = "cancelled"                # the desk hung up before the citizen answered
    SYSTEM_ERROR = "system_error"          # Asterisk or AMI failed
    NOT_NEEDED = "not_needed"              # a call-taker closes the task by hand


class NumberPolicy(StrEnum):
    """A supervisor's policy for a caller number (``number_set_policy``)."""

    NONE = "none"
    LOWER_PRIORITY = "lower_priority"
    GENERAL_ONLY = "general_only"


class Disposition(StrEnum):
    """How a call-taker closed an incident (``incident:{call_id}``'s and the call record's ``disposition``)."""

    DISPATCHED = "dispatched"      # help was sent (the agencies needed)
    ADVICE_GIVEN = "advice_given"  # the caller was told what to do; nobody sent
    FALSE_CALL = "false_call"      # no emergency (a mistake, a pocket dial): counts towards the nuisance score
    PRANK = "prank"                # a hoax on purpose: counts double towards the nuisance score
    DUPLICATE = "duplicate"        # the same emergency as another call (``duplicate_of``)


class WrapUpAction(StrEnum):
    """What a call-taker does to its desk's wrap-up (``desk_wrap_up``)."""

    END = "end"        # ready now
    EXTEND = "extend"  # once per wrap-up, by ``[console] wrap_up_extend_s``


class TransferState(StrEnum):
    """A transfer's ``transfer_state`` (``transfer:{call_id}``; queueing/transfers.py decides)."""

    READY = "ready"              # no transfer: the caller talks to its desk
    MOVING = "moving"            # blind: the bridge is moving the caller to the waiting music
    RINGBACK = "ringback"        # consult: caller on hold, the target desk rings
    ANSWERED = "answered"        # consult: the two desks talk, caller on hold
    CONFERENCED = "conferenced"  # caller and both desks in one room
    COMPLETED = "completed"      # the caller talks to the target desk
    CANCELLED = "cancelled"      # the caller talks to the initiating desk again
    REQUEUED = "requeued"        # the caller waits at the head of a queue
    ENDED = "ended"              # the caller hung up


class TransferKind(StrEnum):
    """A transfer's ``kind``."""

    BLIND = "blind"
    CONSULT = "consult"


class CadPushStatus(StrEnum):
    """Where a call's EIDO document stands with one agency's CAD (``cad_push:{call_id}``, ``<agency>.status``)."""

    PENDING = "pending"  # waiting for its first try (or for a newer document's)
    SENT = "sent"        # the agency's CAD took it (2xx)
    FAILED = "failed"    # the last try failed; rq tries again while ``retrying`` is 1, else a resend by hand


class Trend(StrEnum):
    """A wallboard figure against the window before it (queueing/board.py): the page's arrow."""

    BETTER = "better"
    WORSE = "worse"
    SAME = "same"


class SpyMode(StrEnum):
    """A supervisor's spy session on a desk's call (``spy:{desk_id}``'s ``mode``; ChanSpy's modes)."""

    LISTEN = "listen"    # hears the caller and the desk; nobody hears the supervisor
    WHISPER = "whisper"  # the desk hears the supervisor too; the caller does not
    BARGE = "barge"      # the caller and the desk both hear the supervisor


class AlertKind(StrEnum):
    """What a supervisor alert is about (``alert:{alert_id}``'s ``kind``; queueing/alerts.py decides)."""

    LONGEST_WAIT = "longest_wait"            # a queue's longest-waiting caller (subject: the queue)
    SERVICE_LEVEL = "service_level"          # % answered within the target, last 15 min (subject: the queue)
    NO_DESK = "no_desk"                      # no desk of an agency logged in (subject: the agency)
    ABANDON_SPIKE = "abandon_spike"          # abandons in the last 15 min, every queue
    FALLBACK_CALLERS = "fallback_callers"    # callers held by Asterisk's fallback queue
    BROKEN_RECORDING = "broken_recording"    # recordings checked broken or missing lately
    DESK_PAUSED = "desk_paused"              # a desk paused too long (subject: the desk)
    RESOURCE_SHORTAGE = "resource_shortage"  # Asterisk ran out of RTP ports, channels or open files (subject: which)


class AlertLevel(StrEnum):
    """An alert's ``level``: warning, or critical (repeats its sound until acknowledged)."""

    WARNING = "warning"
    CRITICAL = "critical"



# --- what a script's reply says it did (``result``) --------------------------------------------


class HangupResult(StrEnum):
    """``call_hangup``."""

    ABANDONED = "abandoned"
    ENDED = "ended"
    NOOP = "noop"  # already final: Asterisk reports some hangups twice


class OfferFailedResult(StrEnum):
    """``offer_failed``."""

    REQUEUED = "requeued"
    STALE = "stale"  # the call was no longer ringing at that desk: nothing changed


class CallbackClaimResult(StrEnum):
    """``callback_claim``."""

    CLAIMED = "claimed"                  # a desk is booked and the task is dialing
    NOT_OPEN = "not_open"                # final, or already dialing
    NOT_DUE = "not_due"                  # next_attempt_ms is later
    CLOSED = "closed"                    # the citizen got through since: now not_needed
    CALLERS_WAITING = "callers_waiting"  # incoming emergencies first
    NO_DESK = "no_desk"                  # no eligible desk is ready


class Resource(StrEnum):
    """What Asterisk ran out of when it refused a caller or could not ring a desk
    (telephony/resource_lines.py reads it from Asterisk's log; ``resource_shortage``)."""

    RTP_PORTS = "rtp_ports"                  # rtp.conf rtpstart..rtpend: a pair per channel with media
    CHANNELS = "channels"                    # asterisk.conf maxcalls
    FILE_DESCRIPTORS = "file_descriptors"    # asterisk.conf maxfiles / the process's open-file limit


class RefusedParty(StrEnum):
    """Who a shortage refused: a caller's incoming call, or a desk's leg that was never rung."""

    CALLER = "caller"
    DESK = "desk"

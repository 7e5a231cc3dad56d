"""What the dialplan tells the bridge over AMI, as pure functions.

The dialplan (asterisk_conf/extensions.conf.tmpl) raises one UserEvent at each point the
bridge must learn about; this module turns those AMI messages into domain events, and
turns CoreShowChannel rows into what reconciliation needs. Tests replay recorded messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class RingEnded:
    """A desk was rung and did not take the call (NOANSWER, BUSY, CHANUNAVAIL, DESK_INUSE…)."""

    call_id: str
    desk_id: str
    status: str


@dataclass(frozen=True)
class DeskAnswered:
    call_id: str
    desk_id: str


@dataclass(frozen=True)
class CallerLeft:
    """The caller's channel ended, whatever stage it was in; ``desk_leg``: its desk's leg while
    it was held (a consultation's initiator)."""

    call_id: str
    stage: str
    dial_status: str
    desk_leg: str = ""


@dataclass(frozen=True)
class WentToFallback:
    call_id: str
    reason: str
    # Who and where: a caller whose IVR never started (bridge unreachable) has no record yet.
    caller: str = ""
    channel: str = ""


@dataclass(frozen=True)
class DeskPhoneIdle:
    """A desk phone's device went idle (AMI DeviceStateChange to NOT_INUSE)."""

    desk_id: str


@dataclass(frozen=True)
class HeldDeskLeft:
    """A desk's leg in hotline-desk-hold ended (it hung up, or its caller was gone); ``peer``: the
    target leg its consultation's Dial was answered by, if any (DIALEDPEERNAME)."""

    call_id: str
    desk_id: str
    peer: str = ""


@dataclass(frozen=True)
class ResumeFailed:
    """hotline-resume could not join the held caller with its desk's leg (BRIDGERESULT);
    the caller is back on hold music. NONEXISTENT: the desk's leg is gone."""

    call_id: str
    desk_id: str
    result: str


@dataclass(frozen=True)
class ConsultAnswered:
    """The target desk of a consultative transfer picked up (hotline-consult's Dial)."""

    call_id: str
    desk_id: str


@dataclass(frozen=True)
class ConsultEnded:
    """hotline-consult's Dial of the target desk ended: DIALSTATUS (ANSWER: the target hung up
    after talking; NOANSWER, BUSY, CHANUNAVAIL, CONGESTION: it never did)."""

    call_id: str
    desk_id: str
    status: str


@dataclass(frozen=True)
class ConferenceLeft:
    """A desk's leg left the three-way conference of a consultative transfer (hotline-conference)."""

    call_id: str
    desk_id: str


DialplanEvent = (RingEnded | DeskAnswered | CallerLeft | WentToFallback | DeskPhoneIdle | HeldDeskLeft | ResumeFailed
                 | ConsultAnswered | ConsultEnded | ConferenceLeft)


class MalformedEvent(ValueError):
    pass


def _get(message: Mapping[str, str], key: str) -> str:
    # panoramisk's Message is case-insensitive; a plain dict from a test may not be.
    value = message.get(key)
    if value is None:
        value = message.get(key.lower(), "")
    return str(value).strip()


def parse_user_event(message: Mapping[str, str]) -> DialplanEvent | None:
    """A hotline UserEvent → a domain event; other UserEvents → None; a hotline event
    without its call id → MalformedEvent (the dialplan and the bridge disagree)."""
    name = _get(message, "UserEvent")
    if not name.startswith("Hotline"):
        return None
    call_id = _get(message, "CallId")
    if not call_id:
        raise MalformedEvent(f"{name} without CallId")
    if name == "HotlineRingEnd":
        return RingEnded(call_id, _get(message, "Desk"), _get(message, "Status") or "UNKNOWN")
    if name == "HotlineAnswered":
        return DeskAnswered(call_id, _get(message, "Desk"))
    if name == "HotlineHangup":
        return CallerLeft(call_id, _get(message, "Stage"), _get(message, "DialStatus"), _get(message, "DeskLeg"))
    if name == "HotlineFallback":
        return WentToFallback(call_id, _get(message, "Reason"), _get(message, "CallerIDNum"), _get(message, "Channel"))
    if name == "HotlineDeskLeft":
        return HeldDeskLeft(call_id, _get(message, "Desk"), _get(message, "Peer"))
    if name == "HotlineResumeFailed":
        return ResumeFailed(call_id, _get(message, "Desk"), _get(message, "Result") or "UNKNOWN")
    if name == "HotlineConsultAnswered":
        return ConsultAnswered(call_id, _get(message, "Desk"))
    if name == "HotlineConsultEnd":
        return ConsultEnded(call_id, _get(message, "Desk"), _get(message, "Status") or "UNKNOWN")
    if name == "HotlineConferenceLeft":
        return ConferenceLeft(call_id, _get(message, "Desk"))
    raise MalformedEvent(f"unknown hotline event {name}")


def parse_device_state(message: Mapping[str, str]) -> DeskPhoneIdle | None:
    """``Device: PJSIP/desk-101`` going ``NOT_INUSE`` → DeskPhoneIdle; anything else → None."""
    device, state = _get(message, "Device"), _get(message, "State")
    if device.startswith("PJSIP/") and state == "NOT_INUSE" and len(device) > 6:
        return DeskPhoneIdle(device[len("PJSIP/"):])
    return None


@dataclass(frozen=True)
class TalkingStarted:
    """TALK_DETECT heard sound above its energy threshold on a caller's channel (AMI
    ChannelTalkingStart; enabled in the menu only: [hotline-inbound])."""

    call_id: str
    channel: str


@dataclass(frozen=True)
class TalkingStopped:
    """TALK_DETECT heard its silence threshold of quiet after talking (AMI ChannelTalkingStop);
    ``duration_ms``: how long the talking lasted."""

    call_id: str
    channel: str
    duration_ms: int


TalkEvent = TalkingStarted | TalkingStopped


def parse_talking(message: Mapping[str, str]) -> TalkEvent | None:
    """ChannelTalkingStart / ChannelTalkingStop → a talk event of the caller (its Uniqueid is
    the call id); other events, or one without a channel, → None. A Stop without a readable
    Duration counts as 0 ms: too short to route anyone."""
    name, call_id, channel = _get(message, "Event"), _get(message, "Uniqueid"), _get(message, "Channel")
    if not call_id or not channel:
        return None
    if name == "ChannelTalkingStart":
        return TalkingStarted(call_id, channel)
    if name == "ChannelTalkingStop":
        duration = _get(message, "Duration")
        return TalkingStopped(call_id, channel, int(duration) if duration.isdigit() else 0)
    return None


def event_identity(message: Mapping[str, str]) -> str:
    """The same AMI event reaches every bridge logged in to that Asterisk; this names it
    (system, channel, time to the microsecond, kind) so only one bridge applies it."""
    return "|".join(_get(message, k) for k in ("SystemName", "Uniqueid", "Timestamp", "UserEvent"))


@dataclass(frozen=True)
class LiveChannel:
    """One row of CoreShowChannels: where a channel is in the dialplan right now."""

    channel: str
    uniqueid: str
    caller: str
    context: str
    exten: str
    application: str
    bridged: bool


def parse_channel_row(message: Mapping[str, str]) -> LiveChannel:
    return LiveChannel(
        channel=_get(message, "Channel"),
        uniqueid=_get(message, "Uniqueid"),
        caller=_get(message, "CallerIDNum"),
        context=_get(message, "Context"),
        exten=_get(message, "Exten"),
        application=_get(message, "Application"),
        bridged=bool(_get(message, "BridgeId")),
    )


HOTLINE_CONTEXTS = ("hotline-inbound", "hotline-wait", "hotline-deliver", "hotline-fallback")


def caller_stage(channel: LiveChannel) -> str:
    """Where a caller's channel is, in the bridge's words."""
    if channel.context == "hotline-fallback" or channel.application == "Queue":
        return "fallback"
    if channel.context == "hotline-wait":
        return "waiting"
    if channel.context == "hotline-deliver":
        return "on_call" if channel.bridged else "ringing"
    if channel.application == "AGI":
        return "ivr"
    return "other"

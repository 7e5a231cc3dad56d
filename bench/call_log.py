"""What the SIPp logs say happened to each call, by caller number (see bench/scenarios.py
for the line format), and what makes a call a success."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.scenarios import DTMF_END_OFFSET_S


def _when(seconds: str, micros: str) -> float:
    # SIPp prints its variables as doubles: "1795594771.000000 89311.000000".
    return float(seconds) + float(micros) / 1e6


@dataclass
class CitizenCall:
    caller: str
    called: float | None = None  # just before the INVITE
    answered: float | None = None
    key_pressed: float | None = None  # the key's first RTP event packet
    digit: str = ""
    line_hung_up: float | None = None  # BYE from Asterisk
    citizen_hung_up: float | None = None  # waited its whole time, then BYE

    @property
    def key_released(self) -> float | None:
        """When Asterisk can recognise the key: its RTP end packet."""
        return None if self.key_pressed is None else self.key_pressed + DTMF_END_OFFSET_S


@dataclass
class DeskCall:
    caller: str
    invited: float | None = None  # first INVITE for this caller at any desk
    talking: float | None = None  # the desk's 200 OK was ACKed
    invites: int = 0


def read_citizens(lines: Iterable[str], calls: dict[str, CitizenCall] | None = None) -> dict[str, CitizenCall]:
    calls = {} if calls is None else calls
    for line in lines:
        parts = line.split()
        if len(parts) < 4:
            continue
        kind, caller = parts[0], parts[1]
        call = calls.setdefault(caller, CitizenCall(caller))
        if kind == "CALL":
            call.called = _when(parts[2], parts[3])
        elif kind == "ANSWERED":
            call.answered = _when(parts[2], parts[3])
        elif kind == "DTMF" and len(parts) >= 5:
            call.digit, call.key_pressed = parts[2], _when(parts[3], parts[4])
        elif kind == "BYE":
            call.line_hung_up = _when(parts[2], parts[3])
        elif kind == "HANGUP":
            call.citizen_hung_up = _when(parts[2], parts[3])
    return calls


def read_desks(lines: Iterable[str], calls: dict[str, DeskCall] | None = None) -> dict[str, DeskCall]:
    calls = {} if calls is None else calls
    for line in lines:
        parts = line.split()
        if len(parts) < 4 or parts[0] not in ("INVITE", "TALK"):
            continue
        caller = parts[1].rstrip("@")
        call = calls.setdefault(caller, DeskCall(caller))
        when = _when(parts[2], parts[3])
        if parts[0] == "INVITE":
            call.invites += 1
            if call.invited is None:
                call.invited = when
        elif call.talking is None:
            call.talking = when
    return calls


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def desk_call_verdict(citizen: CitizenCall, desk: DeskCall | None, answer_within_s: float) -> Verdict:
    """(a) and (b): a desk answered within ``answer_within_s`` of the key, and the call
    ended by the line hanging up (the desk's BYE passed through), not by the citizen
    giving up."""
    if citizen.answered is None:
        return Verdict(False, "not answered by Asterisk")
    key_released = citizen.key_released  # None exactly when no key was pressed
    if key_released is None:
        return Verdict(False, "never got to press its key")
    if desk is None or desk.talking is None:
        return Verdict(False, "no desk answered")
    if desk.talking - key_released > answer_within_s:
        return Verdict(False, f"desk answered after more than {answer_within_s:g} s")
    if citizen.line_hung_up is None:
        return Verdict(False, "the line never hung up (citizen gave up)")
    return Verdict(True)


def bare_call_verdict(citizen: CitizenCall, hold_s: float, within_s: float) -> Verdict:
    """(c): answered within ``within_s`` of the INVITE, and hung up by Asterisk after its
    Wait, at most ``within_s`` late."""
    if citizen.answered is None:
        return Verdict(False, "not answered by Asterisk")
    if citizen.called is not None and citizen.answered - citizen.called > within_s:
        return Verdict(False, f"answered after more than {within_s:g} s")
    if citizen.line_hung_up is None:
        return Verdict(False, "the line never hung up (citizen gave up)")
    if citizen.line_hung_up - citizen.answered > hold_s + within_s:
        return Verdict(False, f"hung up more than {within_s:g} s late")
    return Verdict(True)


def routing_delays_ms(citizens: Iterable[CitizenCall], desks: dict[str, DeskCall]) -> list[float]:
    """Key released → first INVITE at a desk, per call that has both."""
    out = []
    for c in citizens:
        d = desks.get(c.caller)
        if c.key_released is not None and d is not None and d.invited is not None:
            out.append((d.invited - c.key_released) * 1000)
    return out

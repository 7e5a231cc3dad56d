"""Accounts for every caller a fault test placed: answered by a desk (seen on the desk
phone: rung, then answered), or on a callback list with its reason — else lost."""

from __future__ import annotations

from dataclasses import dataclass, field

from hotline.lab.lab import Lab
from hotline.lab.sipp import SippRun

ROWS: list[dict] = []  # printed as one table at the end of the session (conftest.py)


def answered_callers(desk_phones: list[SippRun]) -> set[str]:
    answered, ringing = set(), None
    for phone in desk_phones:
        for line in phone.log_lines():
            if line.startswith("RINGING from="):
                ringing = line.split("<sip:", 1)[1].split("@", 1)[0] if "<sip:" in line else None
            elif line.startswith("ANSWERED") and ringing:
                answered.add(ringing)
                ringing = None
    return answered


def callback_callers(lab: Lab) -> dict[str, str]:
    """caller number → the queue whose callback list holds them."""
    routing = lab.routing()
    found = {}
    for key in routing.redis.scan_iter(routing.keys.callbacks("*")):
        queue = key.rsplit(":", 1)[1]
        for call_id in routing.redis.zrange(key, 0, -1):
            caller = routing.call(call_id).get("caller")
            if caller:
                found[caller] = queue
    return found


@dataclass
class Ledger:
    fault: str
    lab: Lab
    callers: list[str] = field(default_factory=list)
    desk_phones: list[SippRun] = field(default_factory=list)

    def account(self) -> dict:
        answered = answered_callers(self.desk_phones) & set(self.callers)
        callbacks = {c: q for c, q in callback_callers(self.lab).items() if c in self.callers and c not in answered}
        lost = [c for c in self.callers if c not in answered and c not in callbacks]
        row = {"fault": self.fault, "placed": len(self.callers), "answered": len(answered),
               "callback": len(callbacks), "lost": len(lost), "lost_callers": lost}
        ROWS.append(row)
        return row

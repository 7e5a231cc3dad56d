"""Caller numbers: repeat callers, a nuisance score, and a supervisor's per-number policy.

Nobody is ever blocked. What is kept per (callable) number, under the key prefix:

* ``number:{n}`` (hash, written by ``call_arrive`` and ``offer_answered``): the last call
  and when, the current ``repeat_count``, the open callback, the last answered call.
* ``number:{n}:calls`` (zset): the newest call ids of the number, score = arrival ms.
* ``number:{n}:policy`` (hash, ``number_set_policy``): ``lower_priority`` (+ N) or
  ``general_only``, applied by ``call_enqueue``.

Repeat callers: a call within ``[numbers] repeat_window_s`` of the number's previous call is
linked to it in the call record (``previous_call_id``, ``repeat_count``).

Nuisance score (:func:`nuisance`), computed when read, from the call records themselves:
a *nuisance call* is a call of the last ``nuisance_window_s`` (24 h) that

* lasted less than ``short_call_s`` (10 s) from arrival to hang-up ("short"), or
* ended before a desk answered without the caller ever pressing a key ("silent").

Each nuisance call counts 1 when it just happened and half as much every
``nuisance_half_life_s`` (6 h) since: the score is roughly "how many nuisance calls
recently". At ``nuisance_threshold`` (3) or more the number is shown as a likely nuisance.
A caller who reaches a desk and talks longer than ``short_call_s`` never adds to it, unless
the call-taker's disposition says otherwise: a call disposed of as a false call counts 1, a
prank 2 (a hoax on purpose), whatever its length (:data:`DISPOSITION_WEIGHT`): the score learns
from the people who heard the call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from queueing.routing import Routing, _fields, _text
from queueing.states import FINAL_CALL_STATES, CallOutcome, Disposition, NumberPolicy, RouteReason

#: Numbers that can be called back and are tracked: an optional + and 3 to 20 digits
#: (mirrors ``callable_number`` in lua/_prelude.lua).
CALLABLE_NUMBER = re.compile(r"\+?[0-9]{3,20}")

POLICIES = tuple(NumberPolicy)

#: What a call-taker's disposition weighs in the nuisance score (before halving with age).
DISPOSITION_WEIGHT: dict[str, float] = {Disposition.FALSE_CALL: 1.0, Disposition.PRANK: 2.0}

#: Call records read for the nuisance score (``number:{n}:calls`` keeps 200).
MAX_CALLS_READ = 200


def callable_number(number: str | None) -> bool:
    if not number:
        return False
    return CALLABLE_NUMBER.fullmatch(number) is not None


@dataclass(frozen=True)
class NuisanceRules:
    """From the city file's ``[numbers]`` table."""

    short_call_ms: int = 10_000
    window_ms: int = 86_400_000
    half_life_ms: int = 21_600_000
    threshold: float = 3.0

    @classmethod
    def from_settings(cls, numbers: Any) -> NuisanceRules:
        """From ``CitySettings.numbers`` (config.settings.NumberSettings)."""
        return cls(short_call_ms=numbers.short_call_s * 1000, window_ms=numbers.nuisance_window_s * 1000,
                   half_life_ms=numbers.nuisance_half_life_s * 1000, threshold=numbers.nuisance_threshold)


@dataclass(frozen=True)
class Nuisance:
    score: float
    likely: bool
    short_calls: int
    silent_calls: int
    calls: int
    #: (call_id, kind) of every nuisance call counted, newest first; kind short, silent, false_call or prank.
    flagged: list[tuple[str, str]]
    false_calls: int = 0
    pranks: int = 0


def nuisance_kind(call: dict[str, str], short_call_ms: int) -> str | None:
    """``false_call`` or ``prank`` (the call-taker's disposition), ``short``, ``silent``, or None for one
    ended call record (None while it goes on)."""
    if call.get("state") not in FINAL_CALL_STATES or not call.get("ended_ms"):
        return None
    if call.get("disposition", "") in DISPOSITION_WEIGHT:
        return call["disposition"]
    duration = int(call["ended_ms"]) - int(call["arrived_ms"])
    if duration < short_call_ms:
        return "short"
    pressed_nothing = call.get("choice", "") == "" and call.get("route_reason", "") != RouteReason.CHOSEN
    if call.get("outcome") == CallOutcome.ABANDONED and pressed_nothing:
        return "silent"
    return None


def nuisance(calls: Iterable[dict[str, str]], now_ms: int, rules: NuisanceRules) -> Nuisance:
    """The nuisance score of a number from its call records. Pure: no Redis, no clock."""
    score, short, silent, counted, flagged, false_calls, pranks = 0.0, 0, 0, 0, [], 0, 0
    recent = [c for c in calls if c and now_ms - int(c["arrived_ms"]) <= rules.window_ms]
    for call in sorted(recent, key=lambda c: int(c["arrived_ms"]), reverse=True):
        counted += 1
        kind = nuisance_kind(call, rules.short_call_ms)
        if kind is None:
            continue
        age = max(0, now_ms - int(call["ended_ms"]))
        score += DISPOSITION_WEIGHT.get(kind, 1.0) * 0.5 ** (age / rules.half_life_ms)
        short += kind == "short"
        silent += kind == "silent"
        false_calls += kind == Disposition.FALSE_CALL
        pranks += kind == Disposition.PRANK
        flagged.append((call["call_id"], kind))
    score = round(score, 2)
    return Nuisance(score, score >= rules.threshold, short, silent, counted, flagged, false_calls, pranks)


def _policy(reply: Any) -> dict[str, str]:
    return _fields(reply)


class Numbers(Routing):
    """Per-number state over a synchronous ``redis.Redis`` (the API, the CLI)."""

    def set_policy(self, number: str, policy: str, *, set_by: str, priority_delta: int = 1,
                   note: str = "", now_ms: int | None = None) -> dict[str, str]:
        """Sets (or with ``none`` removes) the number's policy; returns it and the previous."""
        return self._execute(self._script("number_set_policy", now_ms, number, policy,
                                          priority_delta, set_by, note, parse=_policy))

    def policy(self, number: str) -> dict[str, str]:
        """The number's policy record; ``{"policy": "none"}`` when it has none."""
        record = _fields(self.redis.hgetall(self.keys.number_policy(number)))
        return record or {"policy": NumberPolicy.NONE}

    def policies(self) -> list[dict[str, str]]:
        """Every number with a policy, most recently set first."""
        numbers = [_text(n) for n in self.redis.zrevrange(self.keys.numbers_with_policy(), 0, -1)]
        return [self.policy(n) for n in numbers]

    def recent_calls(self, number: str, limit: int = MAX_CALLS_READ) -> list[dict[str, str]]:
        """The number's newest call records, newest first."""
        ids = [_text(c) for c in self.redis.zrevrange(self.keys.number_calls(number), 0, limit - 1)]
        if not ids:
            return []
        pipeline = self.redis.pipeline(transaction=False)
        for call_id in ids:
            pipeline.hgetall(self.keys.call(call_id))
        return [r for r in (_fields(reply) for reply in pipeline.execute()) if r]

    def view(self, number: str, rules: NuisanceRules, *, now_ms: int | None = None,
             calls_shown: int = 10) -> dict[str, Any]:
        """What desks and supervisors see of a number."""
        now = self.clock() if now_ms is None else now_ms
        if not callable_number(number):
            return {"number": number, "tracked": False,
                    "note": "withheld or not a dialable number: nothing is kept for it"}
        state = _fields(self.redis.hgetall(self.keys.number(number)))
        calls = self.recent_calls(number)
        score = nuisance(calls, now, rules)
        kinds = dict(score.flagged)
        return {
            "number": number,
            "tracked": True,
            "last_call_id": state.get("last_call_id", ""),
            "last_call_ms": int(state["last_call_ms"]) if state.get("last_call_ms") else None,
            "repeat_count": int(state.get("repeat_count") or 0),
            "open_callback": state.get("open_callback", ""),
            "last_answered_call": state.get("last_answered_call", ""),
            "nuisance": {
                "score": score.score,
                "likely_nuisance": score.likely,
                "short_calls": score.short_calls,
                "silent_calls": score.silent_calls,
                "false_calls": score.false_calls,
                "pranks": score.pranks,
                "calls_in_window": score.calls,
                "formula": (f"each call of the last {rules.window_ms // 3_600_000} h that lasted under "
                            f"{rules.short_call_ms // 1000} s, or ended before a desk answered with no key "
                            f"pressed, counts 1 (a call-taker's false call 1, prank 2, whatever its length), "
                            f"halving every {rules.half_life_ms / 3_600_000:g} h; "
                            f"likely nuisance at {rules.threshold:g} or more"),
            },
            "policy": self.policy(number),
            "recent_calls": [
                {k: c.get(k, "") for k in ("call_id", "arrived_ms", "ended_ms", "state", "outcome",
                                           "queue", "choice", "desk", "previous_call_id",
                                           "repeat_count", "policy_applied", "disposition")}
                | {"nuisance": kinds.get(c["call_id"], "")}
                for c in calls[:calls_shown]
            ],
        }

"""Routing operations over Redis: one Lua script per decision, plus plain readers.

:class:`Routing` works on ``redis.Redis``, :class:`AsyncRouting` on ``redis.asyncio.Redis``
(the bridge is asyncio). Both share every method of :class:`RoutingBase`. A method is
written as a generator of Redis requests (each a no-argument callable returning the reply,
or an awaitable of it) that receives each reply and returns the result; ``_execute``, the
only part that differs, drives it. Each public operation is an :class:`Operation`: on a
:class:`Routing` it returns the result, on an :class:`AsyncRouting` an awaitable of it (and
is typed so).

Times: every mutating method takes ``now_ms``; when omitted, the instance's ``clock``
(wall clock in ms by default) is read. A refusal from a script raises
:class:`~queueing.errors.RoutingRefused` with the script's message; other Redis errors
propagate unchanged.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast, overload

import redis
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from config.names import GENERAL_QUEUE
from queueing.errors import RoutingRefused
from queueing.keys import DEFAULT_PREFIX, PRIORITY_FACTOR, Keys
from queueing.results import Answered, Claim, DeskChange, Enqueued, Hangup, OfferFailed, WaitInfo
from queueing.script_timing import ScriptTimings
from queueing.scripts import Scripts
from queueing.states import CallState, DeskState, OfferFailedResult

#: Error replies starting with this are refusals (see ``lua/_prelude.lua``).
REFUSED_PREFIX = "REFUSED "


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _fields(reply: Any) -> dict[str, str]:
    """A flat field/value array (or a HGETALL dict) as ``dict[str, str]``."""
    if isinstance(reply, dict):
        return {_text(k): _text(v) for k, v in reply.items()}
    items = [_text(item) for item in reply]
    return dict(zip(items[::2], items[1::2], strict=False))


def _texts(reply: Any) -> list[str]:
    return [_text(item) for item in reply]


@contextmanager
def _refusals() -> Iterator[None]:
    """Turns a script's refusal into RoutingRefused; any other Redis error passes through."""
    try:
        yield
    except ResponseError as error:
        message = str(error)
        if not message.startswith(REFUSED_PREFIX):
            raise
        raise RoutingRefused(message[len(REFUSED_PREFIX):]) from None


T = TypeVar("T")
P = ParamSpec("P")
#: The client a routing works on.
ClientT = TypeVar("ClientT", bound="redis.Redis | aioredis.Redis")

#: A request: called with no argument, returns the reply (sync client) or an awaitable of it.
Request = Callable[[], Any]
#: An operation: yields requests, receives their replies, returns its result.
Steps = Generator[Request, Any, T]


class ScriptCall:
    """A request that runs a Lua script: ``_execute`` times it into the routing's timings."""

    __slots__ = ("script", "call")

    def __init__(self, script: str, call: Request) -> None:
        self.script = script
        self.call = call

    def __call__(self) -> Any:
        return self.call()


def _one(request: Request, parse: Callable[[Any], T]) -> Steps[T]:
    reply = yield request
    return parse(reply)


def _enqueued(reply: Any) -> Enqueued:
    f = _fields(reply)
    return Enqueued(f["call_id"], f["queue"], int(f["queue_score"]), int(f["position"]))


def _to_idle_desk(reply: Any) -> Enqueued | None:
    f = _fields(reply)
    return Enqueued(f["call_id"], f["queue"], int(f["queue_score"]), int(f["position"])) if f["queued"] == "1" else None


def _claims(reply: Any) -> list[Claim]:
    claims = []
    for item in reply or []:
        f = _fields(item)
        claims.append(Claim(f["call_id"], f["desk_id"], f["channel"], f["queue"], f["caller"],
                            int(f["deadline_ms"])))
    return claims


def _first_claim(reply: Any) -> Claim | None:
    claims = _claims(reply)
    return claims[0] if claims else None


def _answered(reply: Any) -> Answered:
    f = _fields(reply)
    return Answered(f["call_id"], f["desk_id"], int(f["wait_ms"]))


def _offer_failed(reply: Any) -> OfferFailed:
    f = _fields(reply)
    if f["result"] == OfferFailedResult.STALE:
        return OfferFailed(f["call_id"], f["desk_id"], requeued=False, note=f["note"])
    return OfferFailed(
        f["call_id"], f["desk_id"], requeued=True, queue=f["queue"],
        position=int(f["position"]), desk_state=f["desk_state"], misses=int(f["misses"]),
        missed=f["missed"] == "1",
    )


def _hangup(reply: Any) -> Hangup:
    f = _fields(reply)
    return Hangup(f["result"], f["call_id"], f["state"], f["previous"], f["outcome"],
                  f["abandon_stage"], f["desk_id"], f["desk_state"])


def _desk_change(reply: Any) -> DeskChange:
    f = _fields(reply)
    return DeskChange(f["desk_id"], f["agency"], f["state"], f["previous"], f["changed"] == "1")


def _events(reply: Any) -> list[dict[str, str]]:
    # XREVRANGE gives newest first; callers read history forwards.
    return [{"id": _text(entry_id), **_fields(fields)} for entry_id, fields in reversed(reply)]


def _nothing(reply: Any) -> None:
    return None


class Operation(Generic[P, T]):
    """A public operation of :class:`RoutingBase`, defined by the :data:`Steps` it takes.

    Read on a :class:`Routing` it is a method returning the result; on an
    :class:`AsyncRouting`, one returning an awaitable of it. The steps (and so the clock
    and the arguments) are taken when the method is called, the requests run by
    ``_execute``.
    """

    def __init__(self, steps: Callable[Concatenate[RoutingBase[Any], P], Steps[T]]) -> None:
        self.steps = steps
        self.name = steps.__name__
        self.__doc__ = steps.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Operation[P, T]: ...
    @overload
    def __get__(self, obj: AsyncRouting, owner: type | None = None) -> Callable[P, Awaitable[T]]: ...
    @overload
    def __get__(self, obj: Routing, owner: type | None = None) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: RoutingBase[Any], owner: type | None = None) -> Callable[P, Any]: ...

    def __get__(self, obj: RoutingBase[Any] | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        steps = self.steps

        @functools.wraps(steps)
        def method(*args: P.args, **kwargs: P.kwargs) -> Any:
            return obj._execute(steps(obj, *args, **kwargs))

        # Bound once per instance: the bridge calls these on every caller, and the instance
        # attribute is found before this (non-data) descriptor from then on.
        obj.__dict__[self.name] = method
        return method


def operation(steps: Callable[Concatenate[RoutingBase[Any], P], Steps[T]]) -> Operation[P, T]:
    """Declares a method of :class:`RoutingBase` as an :class:`Operation`."""
    return Operation(steps)


class RoutingBase(Generic[ClientT]):
    """Every operation, written once; subclasses only say how to drive its :data:`Steps`."""

    def __init__(
        self,
        redis: ClientT,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.scripts = Scripts(redis)
        self.clock = clock
        self.timings = ScriptTimings()

    def _execute(self, steps: Steps[T]) -> Any:
        raise NotImplementedError

    def _script(self, name: str, now_ms: int | None, *args: Any, parse: Callable[[Any], T]) -> Steps[T]:
        script = self.scripts[name]
        now = self.clock() if now_ms is None else now_ms
        argv = [self.keys.prefix, now, *args]
        return _one(ScriptCall(name, lambda: script(keys=self.keys.fixed(), args=argv)), parse)

    # -- calls -------------------------------------------------------------------------

    @operation
    def arrive(self, call_id: str, caller: str, channel: str, *, language: str = "",
               repeat_window_ms: int = 600_000, now_ms: int | None = None) -> Steps[None]:
        """A caller reached the IVR: creates the call record (state ``ivr``).

        A call from the same number within ``repeat_window_ms`` of its last call is linked
        to it (``previous_call_id``, ``repeat_count``; see queueing/numbers.py).
        """
        return self._script("call_arrive", now_ms, call_id, caller, channel, language,
                            repeat_window_ms, parse=_nothing)

    @operation
    def enqueue(self, call_id: str, queue: str, priority: int, *, choice: str = "",
                route_reason: str = "", language: str = "", ivr_path: str = "",
                priority_reason: str = "", now_ms: int | None = None) -> Steps[Enqueued]:
        """ivr -> queued; priority 0 is the highest, ties go by arrival.

        ``language``, when given, records the language the caller used in the menu;
        ``ivr_path`` the menu's steps as JSON (telephony.ivr_call); ``priority_reason`` a
        :class:`~queueing.states.PriorityReason`, by default from the route and the number's policy.
        """
        return self._script("call_enqueue", now_ms, call_id, queue, priority, choice,
                            route_reason, language, ivr_path, priority_reason, parse=_enqueued)

    @operation
    def to_idle_desk(self, call_id: str, priority: int, agencies: Sequence[str], *,
                     now_ms: int | None = None) -> Steps[Enqueued | None]:
        """[ivr] mode human_first: ivr -> the general queue at ``priority`` (route_reason
        desk_free), only when a desk of one of ``agencies`` is ready and no caller waits in
        any queue; None (still in the ivr) otherwise."""
        return self._script("call_to_idle_desk", now_ms, call_id, priority, *agencies, parse=_to_idle_desk)

    @operation
    def spoke(self, call_id: str, priority: int, speech_ms: int, *, now_ms: int | None = None) -> Steps[Enqueued | None]:
        """The caller spoke in the menu without a key (telephony/speech.py): ivr -> the general
        queue at ``priority`` (route_reason spoke); None when the call was no longer in the ivr
        (a key, another bridge or a hang-up came first). The reply has call_to_idle_desk's shape."""
        return self._script("call_spoke", now_ms, call_id, priority, speech_ms, parse=_to_idle_desk)

    @operation
    def claim_next(self, agencies: Sequence[str], ring_timeout_ms: int, *,
                   overflow_after_ms: Mapping[str, int] | None = None,
                   now_ms: int | None = None) -> Steps[Claim | None]:
        """Match the best waiting caller with the longest-idle eligible desk, or None.
        ``overflow_after_ms``: per agency, the wait after which its callers may also go to
        desks cross-trained for it (absent: never)."""
        return self._claim(agencies, ring_timeout_ms, 1, overflow_after_ms, now_ms, _first_claim)

    @operation
    def claim_batch(self, agencies: Sequence[str], ring_timeout_ms: int, max_claims: int, *,
                    overflow_after_ms: Mapping[str, int] | None = None,
                    now_ms: int | None = None) -> Steps[list[Claim]]:
        """Up to ``max_claims`` matches in one script call, in the order (and with the result)
        that as many ``claim_next`` calls in a row would make them; empty when none."""
        return self._claim(agencies, ring_timeout_ms, max_claims, overflow_after_ms, now_ms, _claims)

    def _claim(self, agencies: Sequence[str], ring_timeout_ms: int, max_claims: int,
               overflow_after_ms: Mapping[str, int] | None, now_ms: int | None,
               parse: Callable[[Any], T]) -> Steps[T]:
        overflow = overflow_after_ms or {}
        args = [f"{a}={overflow[a]}" if a in overflow else a for a in agencies]
        return self._script("claim_next", now_ms, ring_timeout_ms, max_claims, *args, parse=parse)

    @operation
    def offer_answered(self, call_id: str, desk_id: str, *,
                       now_ms: int | None = None) -> Steps[Answered]:
        return self._script("offer_answered", now_ms, call_id, desk_id, parse=_answered)

    @operation
    def offer_failed(self, call_id: str, desk_id: str, status: str, missed_limit: int, *,
                     now_ms: int | None = None) -> Steps[OfferFailed]:
        """The desk did not take the call: caller back at its place, desk counts a miss."""
        return self._script("offer_failed", now_ms, call_id, desk_id, status, missed_limit,
                            parse=_offer_failed)

    @operation
    def hangup(self, call_id: str, wrap_up_ms: int, *, now_ms: int | None = None) -> Steps[Hangup]:
        """The caller's channel is gone; safe to report more than once."""
        return self._script("call_hangup", now_ms, call_id, wrap_up_ms, parse=_hangup)

    @operation
    def fallback(self, call_id: str, *, reason: str = "", now_ms: int | None = None) -> Steps[None]:
        """ivr/queued -> fallback: Asterisk's static queue took the caller."""
        return self._script("call_fallback", now_ms, call_id, reason, parse=_nothing)

    @operation
    def reprioritize(self, call_id: str, priority: int, *, set_by: str = "", note: str = "",
                     now_ms: int | None = None) -> Steps[dict[str, str]]:
        """A supervisor's new priority for a waiting caller (0 = highest); it keeps its
        arrival time. The record says who (``priority_set_by``) and why (``priority_note``).
        Returns the call's queue, priority and position."""
        return self._script("call_reprioritize", now_ms, call_id, priority, set_by, note, parse=_fields)

    @operation
    def move(self, call_id: str, queue: str, *, moved_by: str = "", note: str = "",
             now_ms: int | None = None) -> Steps[dict[str, str]]:
        """A supervisor moves a waiting caller to another queue; it keeps its priority and arrival time,
        so it stands there by arrival among its priority. Refused for a ringing caller (call_move.lua).
        Returns the new queue, the previous one and the position."""
        return self._script("call_move", now_ms, call_id, queue, moved_by, note, parse=_fields)

    @operation
    def pick(self, call_id: str, desk_id: str, *, picked_by: str = "", note: str = "",
             now_ms: int | None = None) -> Steps[dict[str, str]]:
        """A supervisor picks a waiting caller for a ready desk that serves its queue; the next
        ``claim_next`` of a bridge serving that desk offers it there (call_pick.lua)."""
        return self._script("call_pick", now_ms, call_id, desk_id, picked_by, note, parse=_fields)

    @operation
    def rejoin(self, call_id: str, *, queue: str, priority: int, now_ms: int | None = None) -> Steps[int]:
        """fallback -> queued at the caller's original place; ``queue`` and ``priority`` for
        a caller who never chose. Returns the position in the queue (1 = next)."""
        return self._script("call_rejoin", now_ms, call_id, queue, priority,
                            parse=lambda reply: int(_fields(reply)["position"]))

    @operation
    def recording_start(self, call_id: str, file: str, *, now_ms: int | None = None) -> Steps[dict[str, str]]:
        """Asterisk records the call from now (``recording`` = recording, ``recording_file``); listed for retention."""
        return self._script("recording_start", now_ms, call_id, file, parse=_fields)

    # -- actions on a call (queueing/transfers.py decides a transfer's steps) --------------

    @operation
    def transfer_start(self, call_id: str, desk_id: str, agency: str, kind: str, *, label: str = "",
                       now_ms: int | None = None) -> Steps[dict[str, str]]:
        """The desk on the call starts a transfer to ``agency``; returns the transfer record."""
        return self._script("transfer_start", now_ms, call_id, desk_id, agency, kind, label, parse=_fields)

    @operation
    def transfer_step(self, call_id: str, expected: str, state: str, *, requeue_queue: str = "",
                      wrap_up_ms: int | None = None, reason: str = "",
                      now_ms: int | None = None) -> Steps[dict[str, str]]:
        """Applies a decided step if the transfer is still ``expected``; ``wrap_up_ms`` given: the
        initiating desk wraps up. Returns the transfer record after it."""
        return self._script("transfer_step", now_ms, call_id, expected, state, requeue_queue,
                            0 if wrap_up_ms is None else 1, wrap_up_ms or 0, reason, parse=_fields)

    @operation
    def transfer_consult(self, call_id: str, desk_id: str, action: str, *, by: str = "",
                         now_ms: int | None = None) -> Steps[dict[str, str]]:
        """The initiating desk completes, conferences or cancels its consultative transfer
        (``complete``/``conference``/``cancel``):
        a command for the bridges; returns the transfer record and ``command``."""
        return self._script("transfer_consult", now_ms, call_id, desk_id, action, by, parse=_fields)

    @operation
    def call_command(self, call_id: str, desk_id: str, action: str, *, by: str = "",
                     now_ms: int | None = None) -> Steps[dict[str, str]]:
        """Asks the bridges to act on the call the desk is on (``hangup``)."""
        return self._script("call_command", now_ms, call_id, desk_id, action, by, parse=_fields)

    @operation
    def call_hold(self, call_id: str, desk_id: str, action: str, *, by: str = "", reason: str = "",
                  wrap_up_ms: int = 0, now_ms: int | None = None) -> Steps[dict[str, str]]:
        """Hold and resume (``hold``/``resume``, asked by the desk on the call) and what the bridge
        learns of them (``hold_failed``, ``resume_failed``, ``desk_left``): queueing/lua/call_hold.lua."""
        return self._script("call_hold", now_ms, call_id, desk_id, action, by, reason, wrap_up_ms, parse=_fields)

    # -- a supervisor listening to a desk's call (queueing/lua/spy_*.lua) ----------------

    @operation
    def spy_start(self, desk_id: str, supervisor_desk: str, mode: str, *, by: str = "", tell_call_taker: bool = False,
                  now_ms: int | None = None) -> Steps[dict[str, str]]:
        """A supervisor's desk phone listens to (whispers to, barges in on) the desk's call."""
        return self._script("spy_start", now_ms, desk_id, supervisor_desk, mode, by, "1" if tell_call_taker else "0",
                            parse=_fields)

    @operation
    def spy_mode(self, desk_id: str, mode: str, *, by: str = "", now_ms: int | None = None) -> Steps[dict[str, str]]:
        return self._script("spy_mode", now_ms, desk_id, mode, by, parse=_fields)

    @operation
    def spy_stop(self, desk_id: str, *, by: str = "", now_ms: int | None = None) -> Steps[dict[str, str]]:
        return self._script("spy_stop", now_ms, desk_id, by, parse=_fields)

    @operation
    def spy_step(self, desk_id: str, spy_id: str, step: str, *, reason: str = "",
                 now_ms: int | None = None) -> Steps[dict[str, str]]:
        """What the bridge learns of a spy session's leg: ``answered`` or ``ended``."""
        return self._script("spy_step", now_ms, desk_id, spy_id, step, reason, parse=_fields)

    @operation
    def spies(self) -> Steps[list[str]]:
        """Desks with a spy session, sorted."""
        return _one(lambda: self.redis.smembers(self.keys.spies()), lambda ids: sorted(_text(i) for i in ids))

    @operation
    def spy(self, desk_id: str) -> Steps[dict[str, str]]:
        """The spy session on the desk's call; empty when none."""
        return _one(lambda: self.redis.hgetall(self.keys.spy(desk_id)), _fields)

    @operation
    def transfer(self, call_id: str) -> Steps[dict[str, str]]:
        """The call's latest transfer record; empty when it never had one."""
        return _one(lambda: self.redis.hgetall(self.keys.transfer(call_id)), _fields)

    # -- desks -------------------------------------------------------------------------

    @operation
    def register_desk(self, desk_id: str, agency: str, *, cross_trained: Sequence[str] = (),
                      now_ms: int | None = None) -> Steps[DeskChange]:
        return self._script("desk_register", now_ms, desk_id, agency, ",".join(cross_trained),
                            parse=_desk_change)

    @operation
    def set_desk_state(self, desk_id: str, state: str, *, reason: str = "", set_by: str = "",
                       now_ms: int | None = None) -> Steps[DeskChange]:
        """offline, ready or paused; refused while the desk is ringing or on a call. ``set_by``: who
        forced it, when not the desk's own call-taker (the event and the desk record say so)."""
        return self._script("desk_set_state", now_ms, desk_id, str(state), reason, set_by,
                            parse=_desk_change)

    @operation
    def release_desk(self, desk_id: str, *, now_ms: int | None = None) -> Steps[DeskChange]:
        """A desk stuck ringing or on a call that is over: ready again (drift repair)."""
        return self._script("desk_release", now_ms, desk_id, parse=_desk_change)

    @operation
    def release_wrapups(self, *, now_ms: int | None = None) -> Steps[list[str]]:
        """wrap-up -> ready for desks whose wrap-up has ended; returns their ids."""
        return self._script("wrapups_release", now_ms, parse=_texts)

    # -- bridges -----------------------------------------------------------------------

    @operation
    def bridge_heartbeat(self, bridge_id: str, ami_up: bool, loop_lag_ms: int, *, script_timings: str = "",
                         now_ms: int | None = None) -> Steps[dict[str, str]]:
        """A bridge is alive, its AMI link up or down, its event loop this late (``bridges``), with
        its Lua scripts' timings (``ScriptTimings.snapshot()`` as JSON text) for ``GET /metrics``."""
        return self._script("bridge_heartbeat", now_ms, bridge_id, "1" if ami_up else "0", max(0, loop_lag_ms),
                            script_timings, parse=_fields)

    @operation
    def resource_shortage(self, log: str, file_id: str, from_offset: int, to_offset: int, bridge_id: str,
                          tallies: str, *, restart: bool = False, now_ms: int | None = None) -> Steps[dict[str, str]]:
        """Records the shortages a bridge read in Asterisk's warnings log between two offsets
        (``tallies``: JSON, resource → counts); ``recorded`` 0 when another stretch was recorded
        first (``file``, ``offset``: where to read on from)."""
        return self._script("resource_shortage", now_ms, log, file_id, from_offset, to_offset,
                            "1" if restart else "0", bridge_id, tallies, parse=_fields)

    # -- readers -----------------------------------------------------------------------

    @operation
    def call(self, call_id: str) -> Steps[dict[str, str]]:
        """The call record (all values are strings); empty when the call is unknown."""
        return _one(lambda: self.redis.hgetall(self.keys.call(call_id)), _fields)

    @operation
    def active_calls(self) -> Steps[list[dict[str, str]]]:
        """Records of every call not yet ended, by arrival (for reconciling with Asterisk)."""
        call_ids = sorted(_texts((yield lambda: self.redis.smembers(self.keys.calls_active()))))
        if not call_ids:
            return []
        pipeline = self.redis.pipeline(transaction=False)
        for call_id in call_ids:
            pipeline.hgetall(self.keys.call(call_id))
        records = [_fields(reply) for reply in (yield pipeline.execute)]
        return sorted((r for r in records if r), key=lambda r: (int(r["arrived_ms"]), r["call_id"]))

    @operation
    def wait_info(self, call_id: str) -> Steps[WaitInfo | None]:
        """What an announcement to a waiting caller needs; None when the call is not queued."""
        call = _fields((yield lambda: self.redis.hgetall(self.keys.call(call_id))))
        if call.get("state") != CallState.QUEUED or not call.get("queue"):
            return None
        queue = call["queue"]
        desks_key = self.keys.desks() if queue == GENERAL_QUEUE else self.keys.desks_of(queue)
        pipeline = self.redis.pipeline(transaction=False)
        pipeline.zrank(self.keys.queue(queue), call_id)
        pipeline.lrange(self.keys.handle_times(queue), 0, -1)
        pipeline.smembers(desks_key)
        rank, times, desk_ids = yield pipeline.execute
        if rank is None:
            return None
        pipeline = self.redis.pipeline(transaction=False)
        for desk_id in sorted(_texts(desk_ids)):
            pipeline.hget(self.keys.desk(desk_id), "state")
        states = (yield pipeline.execute) if desk_ids else []
        logged_in = sum(1 for state in states if state is not None and _text(state) != DeskState.OFFLINE)
        return WaitInfo(queue, call.get("language", ""), int(rank) + 1,
                        [int(t) for t in _texts(times)], logged_in)

    @operation
    def desk(self, desk_id: str) -> Steps[dict[str, str]]:
        """The desk record; empty when the desk is unknown."""
        return _one(lambda: self.redis.hgetall(self.keys.desk(desk_id)), _fields)

    @operation
    def queue(self, queue: str) -> Steps[list[str]]:
        """Waiting call ids, next to be served first."""
        return _one(lambda: self.redis.zrange(self.keys.queue(queue), 0, -1), _texts)

    @operation
    def waiting_since(self, queue: str) -> Steps[list[tuple[str, int]]]:
        """Waiting call ids with each one's arrival ms (from its queue score), next to be served first."""
        return _one(lambda: self.redis.zrange(self.keys.queue(queue), 0, -1, withscores=True),
                    lambda reply: [(_text(member), int(score) % PRIORITY_FACTOR) for member, score in reply])

    @operation
    def calls_since(self, since_ms: int, fields: Sequence[str]) -> Steps[list[dict[str, str]]]:
        """``fields`` of every call that arrived at or after ``since_ms``, by arrival (missing fields: "")."""
        call_ids = yield from RoutingBase.call_ids_since.steps(self, since_ms)
        by_id = yield from RoutingBase.call_fields.steps(self, call_ids, fields)
        return list(by_id.values())

    @operation
    def call_ids_since(self, since_ms: int) -> Steps[list[str]]:
        """The ids of the calls that arrived at or after ``since_ms``, by arrival (the ``calls`` index)."""
        return _one(lambda: self.redis.zrangebyscore(self.keys.calls(), since_ms, "+inf"), _texts)

    @operation
    def call_fields(self, call_ids: Sequence[str], fields: Sequence[str]) -> Steps[dict[str, dict[str, str]]]:
        """``fields`` of each call, by id in the order given (missing fields: ""), in one round trip."""
        if not call_ids:
            return {}
        pipeline = self.redis.pipeline(transaction=False)
        for call_id in call_ids:
            pipeline.hmget(self.keys.call(call_id), list(fields))
        replies = yield pipeline.execute
        return {call_id: {f: _text(v) if v is not None else "" for f, v in zip(fields, values, strict=True)}
                for call_id, values in zip(call_ids, replies, strict=True)}

    @operation
    def resource_shortage_counts(self) -> Steps[dict[str, int]]:
        """``resources:shortages``: per resource its shortages, and ``<resource>:<party>`` refused."""
        return _one(lambda: self.redis.hgetall(self.keys.resource_shortages()),
                    lambda reply: {k: int(v) for k, v in _fields(reply).items()})

    @operation
    def bridges(self) -> Steps[list[dict[str, str]]]:
        """Every bridge's last heartbeat (``bridge_heartbeat``), by bridge id; values as strings."""
        return _one(lambda: self.redis.hgetall(self.keys.bridges()),
                    lambda reply: [{k: str(v) for k, v in json.loads(record).items()}
                                   for _, record in sorted(_fields(reply).items())])

    @operation
    def callbacks(self, queue: str) -> Steps[list[str]]:
        """Abandoned call ids of a queue, oldest abandonment first."""
        return _one(lambda: self.redis.zrange(self.keys.callbacks(queue), 0, -1), _texts)

    @operation
    def events(self, count: int = 100) -> Steps[list[dict[str, str]]]:
        """The last ``count`` events, oldest first; each has its stream ``id``."""
        return _one(lambda: self.redis.xrevrange(self.keys.events(), count=count), _events)

    @operation
    def events_since(self, after_id: str = "-", count: int = 1000) -> Steps[list[dict[str, str]]]:
        """Up to ``count`` events after stream id ``after_id`` ("-": from the first), oldest
        first: page through the audit trail by passing the last id back."""
        start = after_id if after_id == "-" else f"({after_id}"
        return _one(lambda: self.redis.xrange(self.keys.events(), min=start, count=count),
                    lambda reply: _events(list(reversed(reply))))


class Routing(RoutingBase[redis.Redis]):
    """Routing over a synchronous ``redis.Redis``."""

    def _execute(self, steps: Steps[T]) -> T:
        reply = None
        while True:
            try:
                request = steps.send(reply)
            except StopIteration as done:
                return cast(T, done.value)  # the value the steps returned
            started = time.perf_counter()
            try:
                with _refusals():
                    reply = request()
            finally:
                if isinstance(request, ScriptCall):
                    self.timings.observe(request.script, time.perf_counter() - started)


class AsyncRouting(RoutingBase[aioredis.Redis]):
    """Routing over ``redis.asyncio.Redis``: the same methods, each returning an awaitable."""

    async def _execute(self, steps: Steps[T]) -> T:
        reply = None
        while True:
            try:
                request = steps.send(reply)
            except StopIteration as done:
                return cast(T, done.value)  # the value the steps returned
            started = time.perf_counter()
            try:
                with _refusals():
                    reply = await request()
            finally:
                if isinstance(request, ScriptCall):
                    self.timings.observe(request.script, time.perf_counter() - started)

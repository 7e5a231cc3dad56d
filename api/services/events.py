"""Live events: the ``events`` stream as Server-Sent Events, each page seeing what its token may.

One connection per page. Its messages, in order:

* ``event: gap`` (only when the start id's successors were trimmed away, or the stream is older
  than the id): the page reloads its state with the GET routes.
* ``event: live``: from here on every event follows; its ``id`` is where the connection starts.
* one message per stream entry the token may see: ``id: <stream id>``, ``event: <type>``,
  ``data: <the entry's fields and its id, as JSON>``.
* ``: keepalive`` comments when nothing was sent for a while, with an ``id:`` line: the page's
  resume point moves past events its token does not see (EventSource keeps an id without data).
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.exceptions import RedisError

from api.auth import Access
from api.schemas import EventsGap, EventsLive
from api.tokens import Principal
from config.settings import GENERAL_QUEUE
from queueing.event_stream import Batch, EventStream, Gap, parse_stream_id
from queueing.routing import AsyncRouting

log = logging.getLogger("hotline.api.events")

KEEPALIVE_S = 15.0  # proxies drop idle links after 30-60 s; the page calls a link dead after two missed
BATCH = 200  # entries per read: a page far behind catches up in steps, with a gap check each
CALLS_CACHED = 10_000  # call places remembered per connection (a busy day's calls)


def sse(event: str | None, data: str | None, event_id: str | None = None, comment: str | None = None) -> str:
    """One Server-Sent Events message (none of the values holds a newline)."""
    lines = [f": {comment}"] if comment else []
    lines += [f"id: {event_id}"] if event_id is not None else []
    lines += [f"event: {event}"] if event else []
    lines += [f"data: {data}"] if data is not None else []
    return "\n".join(lines) + "\n\n"


class EventScope:
    """Which events one token's page receives: the events of what the GET routes show it.

    Supervisors and viewers: all. A call-taker: its agency's desks; calls of its agency's and the
    general queue (a call that has not chosen a queue yet is the general queue's, as for
    ``GET /calls/{id}``) and calls at its agency's desks (overflow); nothing else (number
    policies are the overseers'). A call's queue comes from the events themselves, or from
    its record the first time the connection meets a call that arrived before it opened."""

    def __init__(self, access: Access, principal: Principal, routing: AsyncRouting) -> None:
        self.access = access
        self.principal = principal
        self.routing = routing
        self.queues = access.queues_for(principal)
        self.places: OrderedDict[str, tuple[str, str]] = OrderedDict()  # call id → (queue, desk)

    def _own_desk(self, desk_id: str, event: dict[str, str]) -> bool:
        # A desk missing from the city file is judged by the agency the event names.
        agency = self.access.desk_agency.get(desk_id) or event.get("desk_agency") or event.get("agency")
        return bool(desk_id) and agency == self.principal.agency

    async def _place(self, call_id: str, event: dict[str, str]) -> tuple[str, str]:
        place = self.places.pop(call_id, None)
        if place is None:
            if event.get("type") == "call_arrived":
                place = ("", "")
            else:
                record = await self.routing.call(call_id)
                place = (record.get("queue", ""), record.get("desk", ""))
        place = (event.get("queue") or place[0], event.get("desk_id") or place[1])
        self.places[call_id] = place
        if len(self.places) > CALLS_CACHED:
            self.places.popitem(last=False)
        return place

    async def shows(self, event: dict[str, str]) -> bool:
        if self.principal.role != "call_taker":
            return True
        if event.get("type", "") in SPY_EVENTS and event.get("tell_call_taker") != "1":
            return False  # [supervision] tell_call_taker_of_spy is off: a supervisor listens unseen
        desk_id = event.get("desk_id", "")
        if self._own_desk(desk_id, event):
            if call_id := event.get("call_id"):
                await self._place(call_id, event)  # keep the call's place current all the same
            return True
        call_id = event.get("call_id")
        if not call_id:
            return False
        queue, desk = await self._place(call_id, event)
        return (queue or GENERAL_QUEUE) in self.queues or self._own_desk(desk, event)


#: A supervisor's spy session (queueing/lua/spy_*.lua): a call-taker sees them only when the city says so.
SPY_EVENTS = frozenset({"spy_started", "spy_answered", "spy_mode", "spy_stopped"})


@dataclass(frozen=True)
class Start:
    """Where a connection starts, checked before the response begins (so Redis down is a 503)."""

    batch: Batch  # a gap, or the first entries to send
    after: str  # the id the connection goes on from: the one asked for, or the newest
    resumed: bool


class EventService:
    def __init__(self, stream: EventStream, routing: AsyncRouting, *, keepalive_s: float = KEEPALIVE_S,
                 batch: int = BATCH) -> None:
        self.stream = stream
        self.routing = routing
        self.keepalive_s = keepalive_s
        self.batch = batch
        self.open_streams = 0  # connections being served now: a page that went away leaves none

    @staticmethod
    def check_id(value: str) -> str:
        """ValueError saying what is wrong when ``value`` is not a stream id."""
        parse_stream_id(value)
        return value

    async def start(self, after: str | None) -> Start:
        """Where to start: after ``after`` (checked for a gap), or at the newest event."""
        batch = await self.stream.catch_up(after, self.batch)
        if batch.gap:
            return Start(batch, batch.gap.resume_from, True)
        return Start(batch, batch.position if after is None else after, after is not None)

    async def messages(self, start: Start, scope: EventScope) -> AsyncIterator[str]:
        """The connection's messages, until the client goes (the server cancels this) or Redis fails."""
        self.open_streams += 1
        try:
            batch = start.batch
            if batch.gap:
                yield self._gap(batch.gap)
            yield sse("live", EventsLive(after=start.after, resumed=start.resumed).model_dump_json(), start.after)
            position = batch.position
            last_sent = time.monotonic()
            while True:
                for entry in batch.entries:
                    position = entry["id"]
                    if await scope.shows(entry):
                        yield sse(entry.get("type"), json.dumps(entry, ensure_ascii=False), entry["id"])
                        last_sent = time.monotonic()
                behind = len(batch.entries) >= self.batch
                if time.monotonic() - last_sent >= self.keepalive_s:
                    yield sse(None, None, position, comment="keepalive")
                    last_sent = time.monotonic()
                if behind:
                    # Far behind: the next read checks again that nothing after us was trimmed.
                    batch = await self.stream.catch_up(position, self.batch)
                    if batch.gap:
                        yield self._gap(batch.gap)
                        position = batch.position
                        last_sent = time.monotonic()
                else:
                    wait_ms = int((last_sent + self.keepalive_s - time.monotonic()) * 1000)
                    batch = Batch(await self.stream.wait(position, self.batch, wait_ms), None, position)
        except RedisError as exc:
            # The page's EventSource reconnects with its Last-Event-ID; the gap check covers the rest.
            log.warning("events stream ended: Redis unreachable: %s", exc)
        finally:
            self.open_streams -= 1

    def _gap(self, gap: Gap) -> str:
        why = ("are no longer kept (the stream keeps the newest 100 000 or so)" if gap.trimmed else
               f"are unknown: the stream has never reached {gap.requested} (Redis lost its data, or the id is "
               "from another server)")
        detail = f"events after {gap.requested} {why}; reload the state with the GET routes"
        body = EventsGap(requested=gap.requested, first_kept=gap.first_kept, resume_from=gap.resume_from, detail=detail)
        return sse("gap", body.model_dump_json(), gap.resume_from)

"""``GET /events``: live updates for the consoles and the wallboard, as Server-Sent Events.

The messages are :mod:`api.services.events`'s; docs/architecture.md ("Live events") lists the
fields of each event type.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import StreamingResponse

from api.auth import AUTH_RESPONSES, Access, Problem
from api.errors import REDIS_DOWN
from api.services.events import EventScope, EventService
from api.tokens import Principal

STREAM_ID_DOC = "a stream id `<ms>-<seq>` as sent in the messages' `id:` lines"


def events_router(access: Access, events: EventService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    @router.get(
        "/events", response_class=StreamingResponse,
        responses={
            200: {"description": "an endless text/event-stream: `gap` (if any), `live`, then one message per "
                                 "event the token may see, and `: keepalive` comments",
                  "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            400: {"model": Problem, "description": "Last-Event-ID or after is not a stream id"},
        })
    async def follow_events(
        after: str | None = Query(None, description=f"start after this event: {STREAM_ID_DOC}; "
                                                                   "without it (or Last-Event-ID), start now"),
        last_event_id: str | None = Header(None, alias="Last-Event-ID",
                                           description=f"what EventSource sends on reconnect ({STREAM_ID_DOC}); "
                                                       "wins over `after`"),
        principal: Principal = Depends(access.reader),
    ) -> StreamingResponse:
        """The events of the `hotline:events` stream the token may see, as they happen.

        A call-taker's token sees its agency's desks and the calls of its agency's and the general
        queue; supervisors and viewers see every event."""
        # A reconnecting page keeps its URL's ?after= and adds the newer Last-Event-ID: that one counts.
        start_id = last_event_id if last_event_id is not None else after
        name = "Last-Event-ID" if last_event_id is not None else "after"
        if start_id is not None:
            try:
                events.check_id(start_id)
            except ValueError as exc:
                raise HTTPException(400, f"{name}: {exc}") from None
        start = await events.start(start_id)
        scope = EventScope(access, principal, events.routing)
        return StreamingResponse(events.messages(start, scope), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return router

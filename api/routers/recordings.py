"""``GET /calls/{call_id}/recording`` (the whole mix) and ``…/recording/recent?seconds=30`` (the last
seconds, also while the call goes on): audio/wav with byte ranges, so an <audio> element can seek.
Call-takers of the call's agency and supervisors only (Access.check_call)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import Response

from api.auth import AUTH_RESPONSES, Access
from api.errors import REDIS_DOWN
from api.services.calls import CallService
from api.services.recordings import RecordingService, byte_range
from api.tokens import Principal
from queueing.recording_files import WavSlice


def _serve(piece: WavSlice, range_header: str) -> Response:
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store"}
    try:
        wanted = byte_range(range_header, piece.size)
    except ValueError as exc:
        raise HTTPException(416, str(exc), headers={"Content-Range": f"bytes */{piece.size}"}) from None
    if wanted is None:
        return Response(piece.read(0, piece.size - 1), media_type="audio/wav", headers=headers)
    first, last = wanted
    headers["Content-Range"] = f"bytes {first}-{last}/{piece.size}"
    return Response(piece.read(first, last), status_code=206, media_type="audio/wav", headers=headers)


def recordings_router(access: Access, calls: CallService, recordings: RecordingService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    def record(call_id: str, principal: Principal) -> dict[str, str]:
        found = calls.record(call_id)
        if not found:
            raise HTTPException(404, f"unknown call {call_id!r}")
        access.check_call(principal, call_id, found, what="the recording of call")
        return found

    @router.get("/calls/{call_id}/recording", response_class=Response)
    def get_recording(call_id: str, principal: Principal = Depends(access.operator),
                      range_header: str = Header("", alias="Range")) -> Response:
        return _serve(recordings.whole(call_id, record(call_id, principal)), range_header)

    @router.get("/calls/{call_id}/recording/recent", response_class=Response)
    def get_recent(call_id: str, seconds: int = Query(30, ge=1, le=300, description="how many of the last seconds"),
                   principal: Principal = Depends(access.operator),
                   range_header: str = Header("", alias="Range")) -> Response:
        return _serve(recordings.recent(call_id, record(call_id, principal), seconds), range_header)

    return router

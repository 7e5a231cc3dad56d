"""``PUT /desks/{desk_id}/wrap-up``: a call-taker ends its desk's wrap-up now, or extends it once."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from api.auth import AUTH_RESPONSES, Access
from api.errors import REDIS_DOWN, REFUSED
from api.schemas import DeskView, WrapUpChange
from api.services.wrap_up import WrapUpService
from api.tokens import Principal


def wrap_up_router(access: Access, wrap_ups: WrapUpService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    @router.put("/desks/{desk_id}/wrap-up", response_model=DeskView, responses=REFUSED)
    def change_wrap_up(desk_id: str, change: WrapUpChange, principal: Principal = Depends(access.operator)) -> DeskView:
        """``end``: ready now; ``extend``: the wrap-up ends ``[console] wrap_up_extend_s`` later, once per
        wrap-up. 409 with the reason when the desk is not in wrap-up or was extended already."""
        if not wrap_ups.desks.known(desk_id):
            raise HTTPException(404, f"unknown desk {desk_id!r}")
        access.check_desk_change(principal, desk_id)
        return wrap_ups.change(desk_id, change.action)

    return router

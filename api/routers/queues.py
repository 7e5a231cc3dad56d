"""``GET /queues``: callers waiting, per queue."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.auth import AUTH_RESPONSES, Access
from api.errors import REDIS_DOWN
from api.schemas import QueueView
from api.services.queues import QueueService
from api.tokens import Principal


def queues_router(access: Access, queues: QueueService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    @router.get("/queues", response_model=list[QueueView])
    def list_queues(principal: Principal = Depends(access.reader)) -> list[QueueView]:
        """Callers waiting, per queue; a call-taker's token sees the general queue and its agency's."""
        return queues.waiting(access.queues_for(principal))

    return router

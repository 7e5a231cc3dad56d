"""``GET /health``: for load balancers and monitoring, no token needed."""

from __future__ import annotations

import logging

import redis
from fastapi import APIRouter, HTTPException

from api.errors import REDIS_DOWN
from api.schemas import Health
from queueing.routing import Routing

log = logging.getLogger("hotline.api")


def health_router(routing: Routing) -> APIRouter:
    router = APIRouter()

    @router.get("/health", response_model=Health, responses=REDIS_DOWN)
    def health() -> Health:
        """No token needed (load balancers, monitoring): 200 while Redis answers, else 503."""
        try:
            routing.redis.ping()
        except redis.RedisError as exc:
            # Not the app's 503: an unauthenticated caller is not told Redis's address.
            log.warning("health: Redis unreachable: %s", exc)
            raise HTTPException(503, "Redis unreachable") from None
        return Health(status="ok", redis="reachable")

    return router

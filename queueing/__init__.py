"""Queueing: callers, desks and their matching, kept in Redis by atomic Lua scripts.

See docs/architecture.md for the key schema and states.
"""

from config.names import GENERAL_QUEUE
from queueing.errors import RoutingRefused, UnknownScript
from queueing.keys import DEFAULT_PREFIX, Keys, queue_score
from queueing.results import Answered, Claim, DeskChange, Enqueued, Hangup, OfferFailed
from queueing.routing import AsyncRouting, Routing, RoutingBase
from queueing.scripts import Scripts
from queueing.states import CallState, DeskState

__all__ = [
    "DEFAULT_PREFIX",
    "GENERAL_QUEUE",
    "Answered",
    "AsyncRouting",
    "CallState",
    "Claim",
    "DeskChange",
    "DeskState",
    "Enqueued",
    "Hangup",
    "Keys",
    "OfferFailed",
    "Routing",
    "RoutingBase",
    "RoutingRefused",
    "Scripts",
    "UnknownScript",
    "queue_score",
]

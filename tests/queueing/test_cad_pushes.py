"""queueing/lua/eido_push_*.lua against the real Redis: the statuses they store are CadPushStatus's, and
a result for a push nobody queued is refused."""

from __future__ import annotations

import re

import pytest

from queueing.cad_pushes import CadPushes
from queueing.errors import RoutingRefused
from queueing.routing import Routing
from queueing.scripts import LUA_DIR
from queueing.states import CadPushStatus


def test_the_scripts_store_exactly_the_statuses_of_the_enum():
    stored = set()
    for name in ("eido_push_queue", "eido_push_result"):
        source = (LUA_DIR / f"{name}.lua").read_text(encoding="utf-8")
        stored |= set(re.findall(r"'\.status', '(\w+)'", source))  # agency .. '.status', 'pending'
        stored |= set(re.findall(r"push_status = '(\w+)'", source))
    assert stored == set(CadPushStatus)


def test_a_result_without_a_queued_push_is_refused_and_a_document_needs_a_call(redis_client):
    pushes = CadPushes(redis_client)
    with pytest.raises(RoutingRefused, match="unknown call c-1"):
        pushes.queue_document("c-1", "{}", ["police"], by="lan")
    Routing(redis_client).arrive("c-1", "0912345678", "PJSIP/x")
    with pytest.raises(RoutingRefused, match="no CAD push of call c-1 to police"):
        pushes.record_attempt("c-1", "police", 1, sent=True, http_status=200)
    with pytest.raises(RoutingRefused, match="at least one agency"):
        pushes.queue_document("c-1", "{}", [], by="lan")
    queued = pushes.queue_document("c-1", "{}", ["police"], by="lan")
    assert (queued.seq, queued.queue) == (1, "general")  # a call in the menu is the general queue's
    attempt = pushes.record_attempt("c-1", "police", 1, sent=True, http_status=200)
    assert (attempt.status, attempt.attempts, attempt.current) == (CadPushStatus.SENT, 1, True)
    assert pushes.open_calls() == []

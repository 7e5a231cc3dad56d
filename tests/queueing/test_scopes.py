"""The one set of scope rules, shared by API tokens and console users (queueing/scopes.py)."""

import pytest

from config.settings import load_settings
from queueing.scopes import scope_problems
from tests.replay import E2E_CITY


@pytest.fixture(scope="module")
def city():
    return load_settings(E2E_CITY)


@pytest.mark.parametrize(("role", "agency", "desk", "expected"), [
    ("call_taker", "police", None, []),
    ("call_taker", "police", "desk-101", []),
    ("supervisor", None, None, []),
    ("viewer", None, None, []),
    ("metrics", None, None, []),
    ("admin", None, None, [("role", "role 'admin' is not one of call_taker, supervisor, viewer, metrics")]),
    ("metrics", "police", "desk-101", [("agency", "agency 'police': only a call_taker belongs to an agency; a metrics sees every agency"),
                                       ("desk", "desk 'desk-101': only a call_taker works at a desk, not a metrics")]),
    ("call_taker", None, None, [("agency", "a call_taker needs an agency, whose desks and calls it sees: one of police, fire, medical, disaster")]),
    ("call_taker", "navy", None, [("agency", "agency 'navy' is not an agency of the city file (police, fire, medical, disaster)")]),
    ("call_taker", "general", None, [("agency", "agency 'general' is not an agency of the city file (police, fire, medical, disaster); "
                                                "the general queue is every agency's, a call-taker sees it with its own")]),
    ("call_taker", "police", "desk-201", [("desk", "desk 'desk-201' is a fire desk, not police")]),
    ("call_taker", "police", "desk-9", [("desk", "desk 'desk-9' is not a desk of the city file (desk-101, desk-102, desk-201, desk-301, desk-401)")]),
    ("supervisor", "fire", "desk-201", [("agency", "agency 'fire': only a call_taker belongs to an agency; a supervisor sees every agency"),
                                        ("desk", "desk 'desk-201': only a call_taker works at a desk, not a supervisor")]),
])
def test_scope_problems(city, role, agency, desk, expected):
    assert [(p.field, p.message) for p in scope_problems(city, role, agency, desk)] == expected


@pytest.mark.parametrize(("role", "expected"), [
    ("supervisor", []),
    ("metrics", [("role", "role 'metrics' is for API tokens only (a Prometheus scraper's), not a console user: "
                          "one of call_taker, supervisor, viewer")]),
    ("admin", [("role", "role 'admin' is not one of call_taker, supervisor, viewer")]),
])
def test_a_console_user_has_no_token_only_role(city, role, expected):
    assert [(p.field, p.message) for p in scope_problems(city, role, None, None, console=True)] == expected

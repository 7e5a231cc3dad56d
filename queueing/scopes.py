"""Who may see what: the scope rules of a role, for API tokens and console users alike.

A call-taker belongs to one agency and, optionally, one of its desks; a supervisor or a
viewer sees every agency and works at no desk; a metrics token (a Prometheus scraper) has
no agency nor desk either, and is never a console user. Pure: the city file in, problems out.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.names import GENERAL_QUEUE
from config.settings import CitySettings
from queueing.states import TOKEN_ONLY_ROLES, UserRole


@dataclass(frozen=True)
class ScopeProblem:
    field: str  # "role", "agency" or "desk"
    message: str


def scope_problems(city: CitySettings, role: str, agency: str | None, desk: str | None, *,
                   console: bool = False) -> list[ScopeProblem]:
    """Each way the role, agency and desk disagree with each other or with the city file.
    ``console``: a console user's, who may not have a token-only role (metrics)."""
    roles = [r.value for r in UserRole if not (console and r in TOKEN_ONLY_ROLES)]
    if console and role in TOKEN_ONLY_ROLES:
        return [ScopeProblem("role", f"role {role!r} is for API tokens only (a Prometheus scraper's), not a "
                                     f"console user: one of {', '.join(roles)}")]
    agencies = [a.id for a in city.agencies]
    desk_agency = {d.id: d.agency for d in city.desks}
    if role not in roles:
        return [ScopeProblem("role", f"role {role!r} is not one of {', '.join(roles)}")]
    problems = []
    if role == UserRole.CALL_TAKER:
        if agency is None:
            problems.append(ScopeProblem("agency", "a call_taker needs an agency, whose desks and calls it sees: "
                                                   f"one of {', '.join(agencies)}"))
        elif agency not in agencies:
            hint = "; the general queue is every agency's, a call-taker sees it with its own" if agency == GENERAL_QUEUE else ""
            problems.append(ScopeProblem("agency", f"agency {agency!r} is not an agency of the city file "
                                                   f"({', '.join(agencies)}){hint}"))
        if desk is not None:
            if desk not in desk_agency:
                problems.append(ScopeProblem("desk", f"desk {desk!r} is not a desk of the city file ({', '.join(desk_agency)})"))
            elif agency in agencies and desk_agency[desk] != agency:
                problems.append(ScopeProblem("desk", f"desk {desk!r} is a {desk_agency[desk]} desk, not {agency}"))
    else:
        if agency is not None:
            problems.append(ScopeProblem("agency", f"agency {agency!r}: only a call_taker belongs to an agency; "
                                                   f"a {role} sees every agency"))
        if desk is not None:
            problems.append(ScopeProblem("desk", f"desk {desk!r}: only a call_taker works at a desk, not a {role}"))
    return problems


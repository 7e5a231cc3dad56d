"""Who may do what over the API: bearer-token authentication and role/agency checks.

Every route but ``GET /health`` depends on :class:`Access`. A request without a valid token
gets 401 (``WWW-Authenticate: Bearer``); a token whose role or agency may not do the thing
gets 403 saying why.

The browser console signs in instead (``POST /session``): its ``hotline_session`` cookie
stands for a principal with the same role, agency and desk a token would have, so every route
scopes it the same way. A bearer token, when sent, wins over the cookie. A request that changes
anything (POST, PUT, PATCH, DELETE) with the cookie must also carry the session's CSRF token in
``X-CSRF-Token``, else 403: another site can make a browser send the cookie, never the header.

* ``supervisor``: everything, every agency, number policies included.
* ``viewer``: reads everything, every agency (wallboards); changes nothing.
* ``call_taker``: its own agency's desks, queue, calls and callbacks, and the general queue's;
  changes only its own desk's state when bound to one (``desk``), else its agency's desks;
  reports callback outcomes of its agency (and the general queue's).
* ``metrics``: ``GET /metrics`` (Prometheus) and nothing else; a token only, never a console user.
  ``GET /metrics`` is also a supervisor's, and, with HOTLINE_METRICS_LOOPBACK=true, anyone's
  from 127.0.0.1 or ::1 without a token.

A token is never logged (only its name is) and is compared by hash in constant time
(:class:`api.tokens.TokenTable`).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from api.tokens import Principal, TokenTable, load_tokens
from config.settings import GENERAL_QUEUE, CitySettings, RuntimeSettings, SettingsError
from queueing.accounts import Accounts, ConsoleSession
from queueing.states import UserRole

log = logging.getLogger("hotline.api.auth")

bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="A token from `hotline api-token add` (its role: call_taker, supervisor, viewer or "
                                "metrics).")

SESSION_COOKIE = "hotline_session"
CSRF_HEADER = "X-CSRF-Token"
session_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="session",
                              description="The console's sign-in (`POST /session`). Requests that change anything "
                                          f"also send the session's csrf value in the `{CSRF_HEADER}` header.")
# Methods that change nothing: no CSRF token needed.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NOT_SIGNED_IN = "not signed in or session expired"
LOOPBACK = frozenset({"127.0.0.1", "::1"})


@dataclass(frozen=True)
class SessionPrincipal(Principal):
    """A principal signed in through the console; ``session_id`` is the session's key (not its token)."""

    session_id: str = ""


# HOTLINE_API_AUTH=off: every request is this supervisor. For a lab on a closed machine only.
LAB_PRINCIPAL = Principal(name="lab (HOTLINE_API_AUTH=off)", role=UserRole.SUPERVISOR)


class Problem(BaseModel):
    detail: str


# Declared on every route that needs a token, so the OpenAPI spec says what a refusal looks like.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no bearer token, or not a valid one"},
    403: {"model": Problem, "description": "the token's role or agency may not do this"},
}


def tokens_for(runtime: RuntimeSettings, city: CitySettings) -> TokenTable | None:
    """The tokens the API accepts, from HOTLINE_API_TOKENS_FILE; None when HOTLINE_API_AUTH=off.

    No tokens file is an error: an emergency line's API is never open by default."""
    if runtime.api_auth == "off":
        log.warning("%s=off: the API answers anyone without a token; a lab on a closed machine only%s",
                    runtime.env_name("api_auth"),
                    f" ({runtime.env_name('api_tokens_file')} is ignored)" if runtime.api_tokens_file else "")
        return None
    if runtime.api_tokens_file is None:
        raise SettingsError(
            f"{runtime.env_name('api_tokens_file')} is not set: the API serves only bearer-token holders. "
            "Create a token with `hotline api-token add --name NAME --role supervisor --file tokens.toml` and "
            f"point {runtime.env_name('api_tokens_file')} at that file (for a lab on a closed machine only: "
            f"{runtime.env_name('api_auth')}=off)")
    table = load_tokens(runtime.api_tokens_file, city)
    log.info("API tokens: %d from %s", len(table), runtime.api_tokens_file)
    return table


def _unauthorized(detail: str, error: str | None = None) -> HTTPException:
    challenge = 'Bearer realm="hotline"' + (f', error="{error}"' if error else "")
    log.info("401: %s", detail)
    return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


def _forbidden(principal: Principal, detail: str) -> HTTPException:
    log.info("403 for token %s: %s", principal, detail)
    return HTTPException(403, detail)


class Access:
    """The API's FastAPI dependencies (attributes) and the agency checks handlers call.

    ``tokens`` None means HOTLINE_API_AUTH=off: every request is :data:`LAB_PRINCIPAL`."""

    def __init__(self, city: CitySettings, tokens: TokenTable | None, accounts: Accounts | None = None, *,
                 metrics_loopback: bool = False) -> None:
        self.city = city
        self.tokens = tokens
        self.accounts = accounts  # None: no console sessions, the cookie is ignored
        self.metrics_loopback = metrics_loopback  # GET /metrics from 127.0.0.1 / ::1 without a token
        self.idle_s = city.console.session_idle_min * 60
        self.desk_agency = {d.id: d.agency for d in city.desks}
        self.signed_in = self._session_dependency()  # the console's own session (GET and DELETE /session)
        self.principal = self._principal_dependency()
        self.reader = self.principal  # any valid token
        self.operator = self._role_dependency("call_taker", "supervisor")  # changes desks, reports callbacks
        self.overseer = self._role_dependency("supervisor", "viewer")  # reads across agencies
        self.supervisor = self._role_dependency("supervisor")
        self.scraper = self._scraper_dependency()  # GET /metrics

    # --- dependencies -----------------------------------------------------------------

    def _session(self, request: Request, cookie: str) -> ConsoleSession:
        """The cookie's live session (its idle time restarted), CSRF-checked for a change; else 401 / 403."""
        session = self.accounts.session(cookie, self.idle_s) if self.accounts is not None and cookie else None
        if session is None:
            raise _unauthorized(NOT_SIGNED_IN)
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), session.csrf.encode("utf-8")):
                log.info("403 for user %r: %s header %s", session.user, CSRF_HEADER, "wrong" if sent else "missing")
                raise HTTPException(403, f"{'wrong' if sent else 'missing'} {CSRF_HEADER} header: a signed-in browser "
                                         "sends the csrf value of POST /session (or GET /session) with every change")
        return session

    def _session_dependency(self) -> Callable[..., ConsoleSession]:
        def signed_in(request: Request, cookie: str | None = Security(session_cookie)) -> ConsoleSession:
            return self._session(request, cookie or "")

        return signed_in

    def _principal_dependency(self) -> Callable[..., Principal]:
        def principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer),
                      cookie: str | None = Security(session_cookie)) -> Principal:
            found = self._authenticate(request, credentials, cookie)
            if found.role == UserRole.METRICS:
                raise _forbidden(found, "a metrics token reads GET /metrics and nothing else")
            return found

        return principal

    def _scraper_dependency(self) -> Callable[..., Principal | None]:
        def scraper(request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer),
                    cookie: str | None = Security(session_cookie)) -> Principal | None:
            """None: a tokenless request from the loopback, with HOTLINE_METRICS_LOOPBACK=true."""
            if self.metrics_loopback and credentials is None and request.client is not None \
                    and request.client.host in LOOPBACK:
                return None
            found = self._authenticate(request, credentials, cookie)
            if found.role not in (UserRole.METRICS, UserRole.SUPERVISOR):
                raise _forbidden(found, f"a {found.role} token may not read the metrics: it needs a metrics or "
                                        "supervisor token")
            return found

        return scraper

    def _authenticate(self, request: Request, credentials: HTTPAuthorizationCredentials | None,
                      cookie: str | None) -> Principal:
        """The token's or the console session's principal, whatever its role; else 401."""
        tokens = self.tokens
        if cookie and self.accounts is not None and (credentials is None or tokens is None):
            session = self._session(request, cookie)
            found: Principal = SessionPrincipal(session.user, session.role, session.agency, session.desk,
                                                session_id=session.session_id)
            log.debug("request by user %s", found)
            return found
        if tokens is None:
            return LAB_PRINCIPAL
        if credentials is None:
            raise _unauthorized("a bearer token is required: send 'Authorization: Bearer <token>' "
                                "(an operator issues tokens with `hotline api-token add`; the console signs "
                                "in with POST /session)")
        token_holder = tokens.authenticate(credentials.credentials)
        if token_holder is None:
            raise _unauthorized("invalid bearer token (unknown or revoked)", "invalid_token")
        log.debug("request by token %s", token_holder)
        return token_holder

    def _role_dependency(self, *roles: str) -> Callable[..., Principal]:
        def role(principal: Principal = Depends(self.principal)) -> Principal:
            if principal.role not in roles:
                read_only = " (viewer tokens are read-only)" if principal.role == "viewer" else ""
                raise _forbidden(principal, f"a {principal.role} token may not do this{read_only}: "
                                            f"it needs a {' or '.join(roles)} token")
            return principal

        return role

    # --- agency scoping (called by handlers once they know the desk, queue or call) ----

    def queues_for(self, principal: Principal) -> set[str]:
        """The queues whose callers, calls and callbacks this principal may see."""
        if principal.role != "call_taker":
            return set(self.city.queues)
        return {GENERAL_QUEUE, principal.agency or ""}

    def visible_desks(self, principal: Principal, desk_ids: Iterable[str]) -> list[str]:
        if principal.role != "call_taker":
            return list(desk_ids)
        return [d for d in desk_ids if self.desk_agency.get(d) == principal.agency]

    def check_desk_change(self, principal: Principal, desk_id: str) -> None:
        """May this principal change ``desk_id``'s state (a desk of the city)?"""
        if principal.role == "supervisor":
            return
        if principal.role != "call_taker":
            raise _forbidden(principal, f"a {principal.role} token may not change desks: it needs a call_taker "
                                        "or supervisor token")
        if principal.desk is not None:
            if desk_id != principal.desk:
                raise _forbidden(principal, f"this token is bound to desk {principal.desk}; it may not change {desk_id}")
            return
        if self.desk_agency.get(desk_id) != principal.agency:
            raise _forbidden(principal, f"{desk_id} is a {self.desk_agency.get(desk_id)} desk: a {principal.agency} "
                                        f"call-taker may change {principal.agency} desks only")

    def forcing(self, principal: Principal, desk_id: str) -> str:
        """Who forces ``desk_id``'s state: a supervisor's name when the desk is not the one they sit at; else ""
        (the desk's own call-taker, or the lab without auth)."""
        if principal is LAB_PRINCIPAL:  # HOTLINE_API_AUTH=off: nobody to name
            return ""
        return principal.name if principal.role == UserRole.SUPERVISOR and principal.desk != desk_id else ""

    def check_pause_reason(self, principal: Principal, reason: str) -> None:
        """A pause from the console gives one of the city file's reasons (the page offers only those)."""
        reasons = self.city.console.pause_reasons
        if isinstance(principal, SessionPrincipal) and reason not in reasons:
            raise HTTPException(400, f"pause reason {reason!r} is not one of the city file's [console] pause_reasons: "
                                     f"{', '.join(reasons)}")

    def check_agency(self, principal: Principal, agency: str, what: str) -> None:
        """May this principal see ``what`` of queue ``agency`` (general or an agency id)?"""
        if agency not in self.queues_for(principal):
            raise _forbidden(principal, f"{what} of {agency} are not for a {principal.agency} call-taker: "
                                        f"{principal.agency} and {GENERAL_QUEUE} only")

    def desk_on_call(self, principal: Principal, call_id: str, record: dict[str, str]) -> str:
        """The desk that acts on a call (transfer, hang up): a call-taker's own desk (the Lua script
        refuses unless the call is on a call there), or for a supervisor the desk the call is at."""
        if principal.role == "supervisor":
            return record.get("desk", "") or "-"
        if not principal.desk:
            raise _forbidden(principal, f"call {call_id}: only the desk on the call acts on it, and this "
                                        f"{principal.role} is bound to no desk (sign in at a desk)")
        return principal.desk

    def sees_call(self, principal: Principal, record: dict[str, str]) -> bool:
        """Whether this principal may see this call (:meth:`check_call` without the refusal; lists filter with it).

        A call-taker sees its agency's and the general queue's calls (a call that never chose a
        queue is the general queue's), and any call a desk of its agency handled (overflow)."""
        if principal.role != "call_taker":
            return True
        if (record.get("queue") or GENERAL_QUEUE) in self.queues_for(principal):
            return True
        if self.desk_agency.get(record.get("desk", "")) == principal.agency:
            return True
        if self.desk_agency.get(record.get("transferred_from", "")) == principal.agency:
            return True
        # Transferred to its agency (transfer_step): the target's call-taker opens the call.
        return bool(principal.agency) and principal.agency in record.get("visible_to", "").split(",")

    def check_call(self, principal: Principal, call_id: str, record: dict[str, str], what: str = "call") -> None:
        """May this principal see (or, for a callback, report on) this call? (:meth:`sees_call`)"""
        if self.sees_call(principal, record):
            return
        queue = record.get("queue") or GENERAL_QUEUE
        raise _forbidden(principal, f"{what} {call_id} is a {queue} call: a {principal.agency} call-taker may see "
                                    f"{principal.agency} and {GENERAL_QUEUE} calls only")

"""Console users and their sessions, in Redis (``user:{name}``, ``session:{id}``; docs/architecture.md).

A user has a name, a role (:class:`~queueing.states.UserRole`), a call-taker's agency and,
optionally, the one desk they work at, and a password kept only as an argon2 hash. Users are
added, re-passworded and removed with ``hotline user …``; every change is one Lua script and
an event on the audit trail.

A session is made at sign-in: a random token goes to the browser (the cookie); Redis keeps
the session under the token's SHA-256 only, so a copy of Redis signs nobody in. It expires
after ``idle_s`` without use and is refreshed by each use. A call-taker's session can be
bound to a desk: then no other user can sign in at that desk while it lives.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from config.settings import CitySettings
from queueing.routing import Routing, _fields, _text
from queueing.scopes import scope_problems
from queueing.states import UserRole

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # bounds the hashing work a sign-in attempt can cause

_hasher = PasswordHasher()
# Verified against when the user does not exist, so an unknown name takes as long as a wrong password.
_NOBODY = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A user that cannot be added or changed; the message names the bad value."""


@dataclass(frozen=True)
class User:
    name: str
    role: UserRole
    agency: str | None = None
    desk: str | None = None


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in user, as the session keeps them (the token itself is not kept)."""

    session_id: str
    user: str
    role: UserRole
    agency: str | None
    desk: str | None
    csrf: str


def session_id_of(token: str) -> str:
    """The key a session is kept under: the hex SHA-256 of the cookie's token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_user(city: CitySettings, name: str, role: str, agency: str | None, desk: str | None) -> User:
    """The user, or AccountError naming each bad value (the rules of the API's tokens)."""
    problems = []
    if not NAME.fullmatch(name):
        problems.append(f"user name {name!r} is not valid: 1-64 lowercase letters, digits, '.', '_' or '-', "
                        "starting with a letter or digit")
    if role == UserRole.CALL_TAKER and agency is None and desk is not None:
        agency = next((d.agency for d in city.desks if d.id == desk), None)  # the desk says which agency
    problems += [p.message for p in scope_problems(city, role, agency, desk, console=True)]
    if problems:
        raise AccountError("; ".join(problems))
    return User(name, UserRole(role), agency, desk)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password is too long: at most {MAX_PASSWORD} characters")


def _user(record: dict[str, str]) -> User:
    return User(record["name"], UserRole(record["role"]), record.get("agency") or None, record.get("desk") or None)


class Accounts(Routing):
    """Users and console sessions over a synchronous ``redis.Redis`` (the API, the CLI)."""

    # -- users -------------------------------------------------------------------------

    def add_user(self, user: User, password: str, *, now_ms: int | None = None) -> None:
        """A new user (checked with :func:`check_user`); RoutingRefused when the name is taken."""
        check_password(password)
        self._execute(self._script("user_add", now_ms, user.name, user.role.value, user.agency or "",
                                   user.desk or "", _hasher.hash(password), parse=_fields))

    def set_password(self, name: str, password: str, *, now_ms: int | None = None) -> int:
        """A new password; the user's sessions end. Returns how many did."""
        check_password(password)
        reply = self._execute(self._script("user_set_password", now_ms, name, _hasher.hash(password),
                                           parse=_fields))
        return int(reply["sessions_ended"])

    def remove_user(self, name: str, *, now_ms: int | None = None) -> int:
        """Removes the user and ends their sessions; returns how many sessions ended."""
        reply = self._execute(self._script("user_remove", now_ms, name, parse=_fields))
        return int(reply["sessions_ended"])

    def user(self, name: str) -> User | None:
        record = _fields(self.redis.hgetall(self.keys.user(name))) if NAME.fullmatch(name) else {}
        return _user(record) if record else None

    def users(self) -> list[User]:
        """Every user, by name."""
        names = sorted(_text(n) for n in self.redis.smembers(self.keys.users()))
        pipeline = self.redis.pipeline(transaction=False)
        for name in names:
            pipeline.hgetall(self.keys.user(name))
        return [_user(r) for r in (_fields(reply) for reply in pipeline.execute()) if r]

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password is theirs, else None; as slow for an unknown name as for a
        wrong password."""
        record = _fields(self.redis.hgetall(self.keys.user(name))) if NAME.fullmatch(name) else {}
        try:
            _hasher.verify(record.get("password") or _NOBODY, password[:MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return None
        return _user(record) if record else None

    # -- sessions ----------------------------------------------------------------------

    def open_session(self, name: str, desk: str | None, idle_s: int, *,
                     now_ms: int | None = None) -> tuple[str, ConsoleSession]:
        """Signs ``name`` in (password already checked), bound to ``desk`` if given.
        Returns the token for the cookie and the session; RoutingRefused when another user's
        session holds the desk."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        reply = self._execute(self._script("session_open", now_ms, session_id_of(token), name, desk or "", csrf,
                                           idle_s * 1000, parse=_fields))
        return token, ConsoleSession(reply["session_id"], reply["user"], UserRole(reply["role"]),
                                     reply["agency"] or None, reply["desk"] or None, csrf)

    def session(self, token: str, idle_s: int) -> ConsoleSession | None:
        """The live session of a cookie's token, its idle time restarted; None when there is none."""
        session_id = session_id_of(token)
        pipeline = self.redis.pipeline(transaction=False)
        pipeline.hgetall(self.keys.session(session_id))
        pipeline.expire(self.keys.session(session_id), idle_s)
        record = _fields(pipeline.execute()[0])
        if not record:
            return None
        if record["desk"]:
            self.redis.expire(self.keys.desk_session(record["desk"]), idle_s)
        return ConsoleSession(session_id, record["user"], UserRole(record["role"]), record["agency"] or None,
                              record["desk"] or None, record["csrf"])

    def idle_left_s(self, session_id: str) -> int:
        """Seconds before the session expires unless used (-2: it is gone)."""
        return int(self.redis.ttl(self.keys.session(session_id)))

    def desk_holder(self, desk_id: str) -> dict[str, str]:
        """The session bound to the desk (``user, session_id, since_ms``); empty when none."""
        return _fields(self.redis.hgetall(self.keys.desk_session(desk_id)))

    def close_session(self, session_id: str, reason: str = "signed out", *, now_ms: int | None = None) -> None:
        self._execute(self._script("session_close", now_ms, session_id, reason, parse=_fields))

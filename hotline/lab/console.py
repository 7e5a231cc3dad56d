"""The lab's console accounts: one call-taker per desk of the city file (signed in at that
desk) and one supervisor, all with one fresh password made for this lab. They live in the
lab's Redis only, and the password only in what ``./lab up`` prints and its 0600 info file."""

from __future__ import annotations

import secrets

from config.settings import CitySettings
from queueing.accounts import Accounts, User, check_user
from queueing.states import UserRole

SUPERVISOR = "supervisor"


def lab_users(city: CitySettings) -> list[User]:
    """A call-taker named after each desk (bound to it), and the supervisor."""
    users = [check_user(city, desk.id, UserRole.CALL_TAKER, desk.agency, desk.id) for desk in city.desks]
    return [*users, check_user(city, SUPERVISOR, UserRole.SUPERVISOR, None, None)]


def add_lab_users(accounts: Accounts, city: CitySettings, password: str | None = None) -> tuple[list[User], str]:
    """Adds the lab's users (replacing any of the same name) and returns them with their password."""
    password = password or secrets.token_urlsafe(9)
    users = lab_users(city)
    existing = {u.name for u in accounts.users()}
    for user in users:
        if user.name in existing:
            accounts.remove_user(user.name)
        accounts.add_user(user, password)
    return users, password

"""Exceptions of the queueing package."""

from __future__ import annotations


class RoutingRefused(Exception):
    """A script refused the change: bad input, or a state that forbids it.

    The message is the script's own, e.g. ``desk desk-9 is ringing; cannot set ready``.
    Nothing was written.
    """


class UnknownScript(LookupError):
    """No Lua script of that name in ``queueing/lua``."""

"""Names shared by every floor, defined once here on the ground floor (no dependencies).

The Lua scripts cannot import this: ``queueing/lua/_prelude.lua`` repeats the value and
tests/queueing/test_vocabulary.py holds it to this one.
"""

from __future__ import annotations

from enum import StrEnum

# The queue every agency's desks serve: where callers go when the menu got no
# usable answer. Agencies may not take this id.
GENERAL_QUEUE = "general"


class IvrMode(StrEnum):
    """[ivr] mode: what comes first when a desk is free ([ivr] in the city file documents the trade-off)."""

    MENU_FIRST = "menu_first"    # every caller hears the menu; a key picks the agency
    HUMAN_FIRST = "human_first"  # a desk idle and nobody waiting: the caller goes to it at once, no menu

"""Names shared by every floor, defined once here on the ground floor (no dependencies).

The Lua scripts cannot import this: ``queueing/lua/_prelude.lua`` repeats the value and
tests/queueing/test_vocabulary.py holds it to this one.
"""

from __future__ import annotations

# The queue every agency's desks serve: where callers go when the menu got no
# usable answer. Agencies may not take this id.
GENERAL_QUEUE = "general"

"""Keys pressed while nothing was listening, as a pure function.

Asterisk keeps a log of every key the caller's channel received from before the answer
(the dialplan's ``StoreDTMF(RX,HOTLINE_KEYS,…)``, a framehook that sees each key even when
``Answer()`` or res_agi between two commands reads and drops it). The IVR reads that log
before each menu and after each prompt, and acts on the keys it has not acted on yet, in
the order they were pressed: a key pressed while the AGI session connected, while Redis
answered ``arrive`` or between two prompts is honoured, never lost.
"""

from __future__ import annotations

# The log's length the dialplan sets (StoreDTMF's max_digits); past it Asterisk stops
# logging and only the keys the AGI commands return are seen.
KEY_LOG_LIMIT = 32


def next_key(logged: str, consumed: int, heard: str | None) -> tuple[str | None, int]:
    """The key to act on now, and how much of the log is then consumed.

    ``logged``: every key the channel received so far (HOTLINE_KEYS; "" when unset);
    ``consumed``: how many of them the IVR already acted on; ``heard``: the key the last
    AGI command returned (STREAM FILE, WAIT FOR DIGIT), if any.

    A heard key is also in the log (the framehook runs before the command sees the key),
    so the log decides: its oldest key not yet acted on comes first. Only when the log has
    nothing new (StoreDTMF missing, or past its limit) does the heard key count alone.
    """
    if 0 <= consumed < len(logged):
        return logged[consumed], consumed + 1
    return (heard or None), consumed

"""Redis key names of the queueing state (schema: docs/architecture.md, "Redis keys").

Every key lives under a prefix, ``hotline:`` by default; tests and lab bridges pass their own
prefix to share one Redis without seeing each other.

==========================  ======  ==================================================
key (after the prefix)      type    content
==========================  ======  ==================================================
``call:{call_id}``          hash    the call record
``calls``                   zset    every call id, score = arrival ms
``calls:active``            set     call ids not yet ended
``queue:{queue}``           zset    waiting call ids, score = :func:`queue_score`
``desk:{desk_id}``          hash    desk state
``desks``                   set     every desk id
``desks:ready:{agency}``    zset    ready desks, score = ready since ms (longest idle first)
``wrapups``                 zset    desks in wrap-up, score = wrap-up end ms
``offers``                  zset    call ids ringing at a desk, score = offer deadline ms
``callbacks:{queue}``       zset    abandoned call ids, score = abandoned at ms
``events``                  stream  every state change, capped near 100 000 entries
``wake``                    pub/sub channel: something may be dispatchable
``callback:{call_id}``      hash    callback task of an abandoned call (queueing/callbacks.py)
``callback_tasks:{queue}``  zset    open callback tasks, score = :func:`queue_score` of
                                    (priority, abandoned at ms)
``number:{number}``         hash    a caller number's last call, repeat count, open callback,
                                    last answered call (expires 7 days after the last write)
``number:{number}:calls``   zset    the number's recent call ids, score = arrival ms
                                    (newest 200, expires with the number)
``number:{number}:policy``  hash    a supervisor's policy for the number (never expires)
``numbers:policy``          zset    numbers that have a policy, score = set at ms
==========================  ======  ==================================================

The Lua scripts build the per-call/desk/queue/agency names themselves from the same prefix
(``queueing/lua/_prelude.lua``); :meth:`Keys.fixed` lists the keys they receive in KEYS.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "hotline:"

#: The queue served by every agency's desks (the no-input route).
GENERAL_QUEUE = "general"

#: Queue scores are ``priority * PRIORITY_FACTOR + arrival_ms``: priority first, then arrival.
PRIORITY_FACTOR = 10**13


def queue_score(priority: int, arrival_ms: int) -> int:
    """Score of a waiting caller: lower is served first (priority 0 is the highest).

    Mirrors ``call_enqueue.lua``; exact as long as it stays below 2**53 (Lua numbers are
    doubles), which priorities up to 99 do.
    """
    return priority * PRIORITY_FACTOR + arrival_ms


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix."""

    prefix: str = DEFAULT_PREFIX

    def call(self, call_id: str) -> str:
        return f"{self.prefix}call:{call_id}"

    def calls(self) -> str:
        return f"{self.prefix}calls"

    def calls_active(self) -> str:
        return f"{self.prefix}calls:active"

    def queue(self, queue: str) -> str:
        return f"{self.prefix}queue:{queue}"

    def desk(self, desk_id: str) -> str:
        return f"{self.prefix}desk:{desk_id}"

    def desks(self) -> str:
        return f"{self.prefix}desks"

    def desks_of(self, agency: str) -> str:
        """Set of every desk of an agency, whatever its state."""
        return f"{self.prefix}desks:of:{agency}"

    def handle_times(self, queue: str) -> str:
        """List of the last 50 answered calls' desk time (talk + wrap-up, ms), newest first."""
        return f"{self.prefix}handle_ms:{queue}"

    def desks_ready(self, agency: str) -> str:
        return f"{self.prefix}desks:ready:{agency}"

    def wrapups(self) -> str:
        return f"{self.prefix}wrapups"

    def offers(self) -> str:
        return f"{self.prefix}offers"

    def callbacks(self, queue: str) -> str:
        return f"{self.prefix}callbacks:{queue}"

    def events(self) -> str:
        return f"{self.prefix}events"

    # -- callbacks and caller numbers (queueing/callbacks.py, queueing/numbers.py) ----

    def callback(self, call_id: str) -> str:
        return f"{self.prefix}callback:{call_id}"

    def callback_tasks(self, queue: str) -> str:
        return f"{self.prefix}callback_tasks:{queue}"

    def number(self, number: str) -> str:
        return f"{self.prefix}number:{number}"

    def number_calls(self, number: str) -> str:
        return f"{self.prefix}number:{number}:calls"

    def number_policy(self, number: str) -> str:
        return f"{self.prefix}number:{number}:policy"

    def numbers_with_policy(self) -> str:
        return f"{self.prefix}numbers:policy"

    def applied_event(self, identity: str) -> str:
        """String, set once by the bridge that applied this AMI event (expires)."""
        return f"{self.prefix}applied:{identity}"

    def wake(self) -> str:
        """Pub/sub channel, not a key."""
        return f"{self.prefix}wake"

    def fixed(self) -> list[str]:
        """The KEYS every script receives, in the order ``lua/_prelude.lua`` reads them."""
        return [
            self.calls(),
            self.calls_active(),
            self.desks(),
            self.offers(),
            self.wrapups(),
            self.events(),
        ]

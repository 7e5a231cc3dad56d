"""ivr.early_keys.next_key: how Asterisk's key log and what the AGI commands heard combine."""

import pytest

from ivr.early_keys import next_key

# (log, consumed, heard) → (key, consumed after)
ROWS = [
    # nothing pressed, nothing heard
    ("", 0, None, None, 0),
    ("", 0, "", None, 0),
    # pressed before the menu (while the AGI connected, Redis answered arrive): in the log only
    ("1", 0, None, "1", 1),
    # pressed during a prompt: the command heard it and the log has it; acted on once
    ("2", 0, "2", "2", 1),
    ("2", 1, None, None, 1),
    # a key dropped between two commands, then one heard during the next prompt: oldest first
    ("92", 0, "2", "9", 1),
    ("92", 1, None, "2", 2),
    ("92", 2, None, None, 2),
    # an invalid key acted on, then a valid one pressed between prompts
    ("91", 1, None, "1", 2),
    # StoreDTMF missing (no log): the heard key alone
    ("", 0, "3", "3", 0),
    ("", 0, "*", "*", 0),
    # the log full (its limit reached): the heard key alone, the log no longer grows
    ("1" * 32, 32, "4", "4", 32),
    # a log shorter than what was consumed (never seen; not trusted): the heard key
    ("1", 3, "2", "2", 3),
    ("1", 3, None, None, 3),
    # keys beyond digits are passed on as pressed: the menu treats them as invalid
    ("#", 0, None, "#", 1),
    ("A", 0, None, "A", 1),
]


@pytest.mark.parametrize(("logged", "consumed", "heard", "key", "after"), ROWS)
def test_next_key(logged, consumed, heard, key, after):
    assert next_key(logged, consumed, heard) == (key, after)


def test_every_key_in_the_log_is_acted_on_once_in_order():
    logged, consumed, taken = "9213", 0, []
    while (step := next_key(logged, consumed, None))[0] is not None:
        key, consumed = step
        taken.append(key)
    assert taken == list(logged)

"""ivr.menu.step: every row of the decision table, and no path that leaves a caller alone."""

from pathlib import Path

import pytest

from config.settings import GENERAL_QUEUE, load_settings
from ivr.menu import (
    CallerGone,
    CallerHungUp,
    DigitPressed,
    Menu,
    MenuOption,
    MenuState,
    NoInput,
    PlayMenu,
    RouteTo,
    Started,
    step,
)

REPO = Path(__file__).resolve().parents[2]


def make_menu(attempts: int = 2, general_priority: int = 0) -> Menu:
    return Menu(
        options={
            "1": MenuOption("1", "police", 1),
            "2": MenuOption("2", "fire", 1),
            "3": MenuOption("3", "medical", 2),
        },
        attempts=attempts,
        general_priority=general_priority,
    )


MENU = make_menu()
FIRST = MenuState()
STARTED = MenuState(attempt=1, started=True)
LAST = MenuState(attempt=2, started=True)
LAST_AFTER_INVALID = MenuState(attempt=2, last_invalid="9", started=True)
POLICE = RouteTo("police", 1, "1", "chosen")
TO_GENERAL_SILENT = RouteTo(GENERAL_QUEUE, 0, None, "no_input", prompt="connecting_general")
ROUTED = MenuState(attempt=1, started=True, final=POLICE)
GONE = MenuState(attempt=2, started=True, final=CallerGone(2, None))

# (name, state before, event, action, state after)
TABLE = [
    ("answered: play the menu", FIRST, Started(), PlayMenu(1), STARTED),
    ("valid digit: its agency at its priority", STARTED, DigitPressed("1"), POLICE, ROUTED),
    ("valid digit, other priority", STARTED, DigitPressed("3"), RouteTo("medical", 2, "3", "chosen"), MenuState(1, None, True, RouteTo("medical", 2, "3", "chosen"))),
    ("invalid digit, attempts left: notice + menu again", STARTED, DigitPressed("9"), PlayMenu(2, "invalid"), LAST_AFTER_INVALID),
    ("star is invalid too", STARTED, DigitPressed("*"), PlayMenu(2, "invalid"), MenuState(2, "*", True)),
    ("no input, attempts left: notice + menu again", STARTED, NoInput(), PlayMenu(2, "no_input"), LAST),
    ("empty digit is no input", STARTED, DigitPressed(""), PlayMenu(2, "no_input"), LAST),
    ("valid digit on the last attempt", LAST, DigitPressed("2"), RouteTo("fire", 1, "2", "chosen"), MenuState(2, None, True, RouteTo("fire", 1, "2", "chosen"))),
    ("valid digit after an invalid one: the choice wins", LAST_AFTER_INVALID, DigitPressed("1"), POLICE, MenuState(2, "9", True, POLICE)),
    (
        "invalid digit on the last attempt: general, reason invalid",
        LAST,
        DigitPressed("#"),
        RouteTo(GENERAL_QUEUE, 0, "#", "invalid", prompt="connecting_general"),
        MenuState(2, "#", True, RouteTo(GENERAL_QUEUE, 0, "#", "invalid", prompt="connecting_general")),
    ),
    ("no input on the last attempt: general, reason no_input", LAST, NoInput(), TO_GENERAL_SILENT, MenuState(2, None, True, TO_GENERAL_SILENT)),
    (
        "no input on the last attempt after an invalid digit: choice keeps that digit",
        LAST_AFTER_INVALID,
        NoInput(),
        RouteTo(GENERAL_QUEUE, 0, "9", "no_input", prompt="connecting_general"),
        MenuState(2, "9", True, RouteTo(GENERAL_QUEUE, 0, "9", "no_input", prompt="connecting_general")),
    ),
    ("repeated Started replays the menu, keeps the attempt", LAST, Started(), PlayMenu(2), LAST),
    ("digit before Started (barge-in) is honoured", FIRST, DigitPressed("1"), POLICE, ROUTED),
    ("no input before Started counts as an attempt", FIRST, NoInput(), PlayMenu(2, "no_input"), LAST),
    ("caller hangs up in the menu", LAST_AFTER_INVALID, CallerHungUp(), CallerGone(2, "9"), MenuState(2, "9", True, CallerGone(2, "9"))),
    ("caller hangs up before the menu", FIRST, CallerHungUp(), CallerGone(1, None), MenuState(final=CallerGone(1, None))),
    ("routed: a digit repeats the route", ROUTED, DigitPressed("2"), POLICE, ROUTED),
    ("routed: no input repeats the route", ROUTED, NoInput(), POLICE, ROUTED),
    ("routed: Started repeats the route", ROUTED, Started(), POLICE, ROUTED),
    ("routed: hang-up repeats the route", ROUTED, CallerHungUp(), POLICE, ROUTED),
    ("gone: anything repeats the abandon", GONE, DigitPressed("1"), CallerGone(2, None), GONE),
]


@pytest.mark.parametrize(("state", "event", "action", "after"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_step_table(state, event, action, after):
    assert step(MENU, state, event) == (after, action)


@pytest.mark.parametrize(
    ("event", "route"),
    [
        (NoInput(), RouteTo(GENERAL_QUEUE, 3, None, "no_input", prompt="connecting_general")),
        (DigitPressed("0"), RouteTo(GENERAL_QUEUE, 3, "0", "invalid", prompt="connecting_general")),
        (DigitPressed("2"), RouteTo("fire", 1, "2", "chosen")),
    ],
)
def test_single_attempt_routes_on_the_first_answer(event, route):
    menu = make_menu(attempts=1, general_priority=3)
    state, action = step(menu, MenuState(), Started())
    assert action == PlayMenu(1)
    assert step(menu, state, event)[1] == route


def run(menu: Menu, events) -> list:
    state, actions = MenuState(), []
    for event in events:
        state, action = step(menu, state, event)
        actions.append(action)
    return actions


SCENARIOS = [
    ("chooses at once", [Started(), DigitPressed("1")], [PlayMenu(1), POLICE]),
    (
        "silent caller",
        [Started(), NoInput(), NoInput()],
        [PlayMenu(1), PlayMenu(2, "no_input"), TO_GENERAL_SILENT],
    ),
    (
        "wrong key, then right",
        [Started(), DigitPressed("7"), DigitPressed("3")],
        [PlayMenu(1), PlayMenu(2, "invalid"), RouteTo("medical", 2, "3", "chosen")],
    ),
    (
        "wrong key, then silence",
        [Started(), DigitPressed("7"), NoInput()],
        [PlayMenu(1), PlayMenu(2, "invalid"), RouteTo(GENERAL_QUEUE, 0, "7", "no_input", prompt="connecting_general")],
    ),
    (
        "silence, then wrong key",
        [Started(), NoInput(), DigitPressed("8")],
        [PlayMenu(1), PlayMenu(2, "no_input"), RouteTo(GENERAL_QUEUE, 0, "8", "invalid", prompt="connecting_general")],
    ),
]


@pytest.mark.parametrize(("events", "actions"), [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_scenarios(events, actions):
    assert run(MENU, events) == actions


def test_menu_from_the_real_city_file():
    city = load_settings(REPO / "hotline.toml")
    menu = Menu.from_settings(city)
    assert menu.attempts == city.ivr.attempts
    assert menu.general_priority == city.ivr.general_priority
    for agency in city.agencies:
        state, action = step(menu, MenuState(), DigitPressed(agency.digit))
        assert action == RouteTo(agency.id, agency.priority, agency.digit, "chosen")


# --- no path leaves a caller alone -------------------------------------------------------

ALPHABET = [Started(), DigitPressed("1"), DigitPressed("7"), DigitPressed(""), NoInput(), CallerHungUp()]
CALLER_ANSWERS = (DigitPressed, NoInput)  # the events that use up a play of the menu
MAX_LENGTH = 10


def check_action(menu: Menu, state: MenuState, event, action) -> None:
    assert isinstance(action, PlayMenu | RouteTo | CallerGone), action
    if isinstance(action, PlayMenu):
        assert 1 <= action.attempt <= menu.attempts
    if isinstance(action, CallerGone):
        # Only the caller ends a call in the menu.
        assert isinstance(event, CallerHungUp) or state.final == action
    if isinstance(action, RouteTo):
        if action.reason == "chosen":
            assert menu.options[action.choice].queue == action.queue
        else:
            assert (action.queue, action.priority, action.prompt) == (GENERAL_QUEUE, menu.general_priority, "connecting_general")


def routes_when_silent(menu: Menu, state: MenuState) -> None:
    """From here a caller who never presses anything still reaches a queue within `attempts` timeouts."""
    for _ in range(menu.attempts):
        state, action = step(menu, state, NoInput())
        if isinstance(action, RouteTo | CallerGone):
            return
    pytest.fail(f"silent caller still in the menu after {menu.attempts} timeouts: {state}")


@pytest.mark.parametrize("attempts", [1, 2, 3, 5])
def test_every_event_sequence_ends_in_a_queue(attempts):
    menu = make_menu(attempts=attempts)
    explored = 0

    def explore(state: MenuState, depth: int, answers: int) -> None:
        nonlocal explored
        explored += 1
        routes_when_silent(menu, state)
        if depth == MAX_LENGTH:
            return
        for event in ALPHABET:
            after, action = step(menu, state, event)
            check_action(menu, state, event, action)
            used = answers + isinstance(event, CALLER_ANSWERS)
            if after.finished:
                # A finished call stays finished, with the same answer, whatever arrives.
                assert after.final == action
                for late in ALPHABET:
                    assert step(menu, after, late) == (after, action)
                continue
            # Still in the menu: the caller has been answered with another play of it,
            # and has not yet used more plays than the city allows.
            assert isinstance(action, PlayMenu)
            assert used < attempts
            explore(after, depth + 1, used)

    explore(MenuState(), 0, 0)
    assert explored > attempts  # the search really walked the tree

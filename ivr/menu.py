"""The IVR's decisions, as a pure function: (menu, state, event) → (state, action).

The telephony layer plays what the actions say and feeds back what the caller
did; every decision lives here, so the table test covers every call path.

Emergency-line rule #1: no path ends in a hang-up, a busy tone or silence. A
caller who presses nothing, or only wrong keys, hears the menu at most
`attempts` times and then goes to the general queue, which every desk serves.
The only way out without a RouteTo is the caller hanging up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal

from config.settings import GENERAL_QUEUE, CitySettings

Notice = Literal["invalid", "no_input"]  # also the prompt keys played before the menu repeats
RouteReason = Literal["chosen", "no_input", "invalid"]


# --- the menu, from the city's data file ----------------------------------------------


@dataclass(frozen=True)
class MenuOption:
    digit: str
    queue: str  # the agency id
    priority: int


@dataclass(frozen=True)
class Menu:
    options: Mapping[str, MenuOption]  # digit → option
    attempts: int
    general_priority: int

    @classmethod
    def from_settings(cls, city: CitySettings) -> Menu:
        options = {a.digit: MenuOption(digit=a.digit, queue=a.id, priority=a.priority) for a in city.agencies}
        return cls(
            options=MappingProxyType(options),
            attempts=city.ivr.attempts,
            general_priority=city.ivr.general_priority,
        )


# --- events: what happened on the call ------------------------------------------------


@dataclass(frozen=True)
class Started:
    """The call was answered and the IVR took it."""


@dataclass(frozen=True)
class DigitPressed:
    """A DTMF key. An empty digit (what AGI GET DATA returns on timeout) counts as no input."""

    digit: str


@dataclass(frozen=True)
class NoInput:
    """The menu finished and no_input_timeout_s passed without a key."""


@dataclass(frozen=True)
class CallerHungUp:
    """The caller left while still in the menu."""


Event = Started | DigitPressed | NoInput | CallerHungUp


# --- actions: what the telephony layer does next ----------------------------------------


@dataclass(frozen=True)
class PlayMenu:
    """Play `notice` (if any), then the menu, then wait no_input_timeout_s for a digit."""

    attempt: int  # 1-based: which play of the menu this is
    notice: Notice | None = None


@dataclass(frozen=True)
class RouteTo:
    """Put the caller in `queue` at `priority`; the IVR is done with this call."""

    queue: str
    priority: int
    choice: str | None  # the digit chosen, or the last invalid digit pressed
    reason: RouteReason
    # A prompt key to play before queueing: the caller did not pick an agency,
    # so they hear where they are going instead of a silent transfer.
    prompt: str | None = None


@dataclass(frozen=True)
class CallerGone:
    """The caller hung up in the menu: record the abandon, nothing to play."""

    attempt: int
    choice: str | None  # the last invalid digit pressed, if any


Action = PlayMenu | RouteTo | CallerGone


# --- the machine --------------------------------------------------------------------------


@dataclass(frozen=True)
class MenuState:
    attempt: int = 1  # 1-based: the menu play the caller is answering
    last_invalid: str | None = None
    started: bool = False
    # Once set, the call has left the menu and every further event gets this same answer.
    final: RouteTo | CallerGone | None = None

    @property
    def finished(self) -> bool:
        return self.final is not None


def start() -> MenuState:
    return MenuState()


def step(menu: Menu, state: MenuState, event: Event) -> tuple[MenuState, Action]:
    """Decide what happens after `event`. Total: every state and event gives an action."""
    if state.final is not None:
        # The decision is made; repeating it is safer than inventing a new one.
        return state, state.final

    if isinstance(event, CallerHungUp):
        gone = CallerGone(attempt=state.attempt, choice=state.last_invalid)
        return replace(state, final=gone), gone

    if isinstance(event, Started):
        # A repeated Started replays the current menu; it never uses up an attempt.
        return replace(state, started=True), PlayMenu(attempt=state.attempt)

    if isinstance(event, DigitPressed) and event.digit:
        option = menu.options.get(event.digit)
        if option is not None:
            route = RouteTo(queue=option.queue, priority=option.priority, choice=event.digit, reason="chosen")
            return replace(state, started=True, final=route), route
        return _retry_or_general(menu, replace(state, last_invalid=event.digit), "invalid")

    # NoInput, or an empty digit: the caller said nothing.
    return _retry_or_general(menu, state, "no_input")


def _retry_or_general(menu: Menu, state: MenuState, notice: Notice) -> tuple[MenuState, Action]:
    if state.attempt < menu.attempts:
        attempt = state.attempt + 1
        return replace(state, attempt=attempt, started=True), PlayMenu(attempt=attempt, notice=notice)
    route = RouteTo(
        queue=GENERAL_QUEUE,
        priority=menu.general_priority,
        choice=state.last_invalid,
        reason=notice,
        prompt="connecting_general",
    )
    return replace(state, started=True, final=route), route

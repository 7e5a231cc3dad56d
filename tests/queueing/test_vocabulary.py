"""The Lua scripts and the Python of queueing/ speak the vocabulary of queueing/states.py
(and config.names), value for value.

The scripts cannot import the enums, so they repeat the strings; these tests read every
quoted literal the scripts compare with, assign to or store in a state, status, outcome,
abandon stage, route reason, policy or reply ``result``, and check each one against its enum,
and that each enum value the scripts decide on is used.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import pytest

import ivr.menu
from config.names import GENERAL_QUEUE
from queueing import states
from queueing.scripts import LUA_DIR, PRELUDE
from queueing.states import (
    OPEN_CALLBACK_STATUSES,
    SETTABLE_DESK_STATES,
    AbandonStage,
    AlertKind,
    AlertLevel,
    CallbackClaimResult,
    CallbackOutcome,
    CallbackStatus,
    CallOutcome,
    CallState,
    DeskState,
    Disposition,
    HangupResult,
    NumberPolicy,
    OfferFailedResult,
    PriorityReason,
    RouteReason,
    TransferKind,
    TransferState,
    WrapUpAction,
)
from queueing.transfers import UNDER_WAY

QUEUEING = Path(states.__file__).parent
LUA_FILES = sorted(LUA_DIR.glob("*.lua"))

# --- a small Lua tokenizer ----------------------------------------------------------------


@dataclass(frozen=True)
class Tok:
    kind: str  # name, str, num, op
    text: str  # for str: the value without quotes
    line: int


_TOKEN = re.compile(r"""
    (?P<comment>--[^\n]*)
  | (?P<str>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_]\w*)
  | (?P<op>==|~=|<=|>=|\.\.\.|\.\.|[-+*/%^#<>=(){}\[\];:,.])
  | (?P<space>\s+)
""", re.VERBOSE)


def tokenize(source: str) -> list[Tok]:
    tokens, line, pos = [], 1, 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        assert m, f"cannot tokenize at line {line}: {source[pos:pos + 30]!r}"
        kind, text = m.lastgroup, m.group()
        if kind == "str":
            tokens.append(Tok("str", text[1:-1], line))
        elif kind in ("num", "name", "op"):
            tokens.append(Tok(kind, text, line))
        line += text.count("\n")
        pos = m.end()
    return tokens


def _opens(t: Tok) -> bool:
    return t.kind == "op" and t.text in ("(", "[", "{")


def _closes(t: Tok) -> bool:
    return t.kind == "op" and t.text in (")", "]", "}")


def _closing(tokens: list[Tok], i: int) -> int:
    """Index of the bracket closing the one at ``i``."""
    depth = 0
    for j in range(i, len(tokens)):
        if _opens(tokens[j]):
            depth += 1
        elif _closes(tokens[j]):
            depth -= 1
            if depth == 0:
                return j
    raise AssertionError(f"unbalanced bracket at line {tokens[i].line}")


def _items(tokens: list[Tok], i: int) -> list[list[Tok]]:
    """The comma-separated items between the bracket at ``i`` and its closing one."""
    end, items, current, j = _closing(tokens, i), [], [], i + 1
    while j < end:
        t = tokens[j]
        if _opens(t):
            k = _closing(tokens, j)
            current.extend(tokens[j:k + 1])
            j = k + 1
            continue
        if t.kind == "op" and t.text in (",", ";"):
            items.append(current)
            current = []
        else:
            current.append(t)
        j += 1
    if current:
        items.append(current)
    return items


def _values(expr: list[Tok]) -> list[str]:
    """Literals an expression may evaluate to: every string not compared, concatenated, or
    inside a call's arguments or a table."""
    values, opened = [], []
    for i, t in enumerate(expr):
        if _opens(t):
            opened.append(t.text == "(" and not (i > 0 and expr[i - 1].kind == "name"))
        elif _closes(t):
            if not opened:  # the statement's end closes an outer bracket
                break
            opened.pop()
        elif (t.kind == "str" and all(opened)
              and not (i > 0 and expr[i - 1].text in ("==", "~=", ".."))
              and not (i + 1 < len(expr) and expr[i + 1].text in ("==", "~=", ".."))):
            values.append(t.text)
    return values


# --- which vocabulary a name or field is in -------------------------------------------------

STATES = frozenset(CallState) | frozenset(DeskState)


def vocabulary(name: str, obj: str, script: str) -> tuple[str, frozenset[str]] | None:
    """(what, allowed values) for a variable, record field or stored field ``name``."""
    callbacks = script.startswith("callback_")
    if script == "number_set_policy" and name == "previous":
        return "NumberPolicy", frozenset(NumberPolicy)
    if name == "state":
        if obj == "call":
            return "CallState", frozenset(CallState)
        if obj == "desk":
            return "DeskState", frozenset(DeskState)
        return "state", STATES
    if name == "previous":
        return "state", STATES
    if name == "desk_state":
        return "DeskState", frozenset(DeskState)
    if name == "target":  # desk_set_state: what a person asks for
        return "target", frozenset(SETTABLE_DESK_STATES) | {"login"}
    if name == "status":
        return "CallbackStatus", frozenset(CallbackStatus)
    if name == "outcome":
        return ("CallbackOutcome", frozenset(CallbackOutcome)) if callbacks else ("CallOutcome", frozenset(CallOutcome))
    if name == "last_outcome":
        return "CallbackOutcome", frozenset(CallbackOutcome)
    if name in ("abandon_stage", "stage"):
        return "AbandonStage", frozenset(AbandonStage)
    if name == "route_reason":
        return "RouteReason", frozenset(RouteReason)
    if name == "disposition":
        return "Disposition", frozenset(Disposition)
    if name == "action" and script == "desk_wrap_up":
        return "WrapUpAction", frozenset(WrapUpAction)
    if name == "transfer_state":
        return "TransferState", frozenset(TransferState)
    if name == "kind" and script.startswith("transfer_"):
        return "TransferKind", frozenset(TransferKind)
    if name in ("level", "previous_level"):
        return "AlertLevel", frozenset(AlertLevel)
    if name == "kind" and script.startswith("alert"):
        return "AlertKind", frozenset(AlertKind)
    if name == "priority_reason":
        return "PriorityReason", frozenset(PriorityReason)
    if name in ("policy", "policy_applied"):
        return "NumberPolicy", frozenset(NumberPolicy)
    if name == "result" and script in RESULTS:
        return RESULTS[script].__name__, frozenset(RESULTS[script])
    return None


# Scripts whose reply's ``result`` has an enum.
RESULTS = {"call_hangup": HangupResult, "offer_failed": OfferFailedResult, "callback_claim": CallbackClaimResult}


# Set tables (``{ a = true, ... }``) of the scripts, by name: the vocabulary they list.
SET_TABLES = {
    "known": frozenset(CallState),              # call_hangup: states a hangup handles
    "desk_states": frozenset(DeskState),        # desk_set_state: every desk state
    "targets": frozenset(SETTABLE_DESK_STATES) | {"login"},
    "CALLBACK_OPEN": frozenset(OPEN_CALLBACK_STATUSES),
    "NEXT": frozenset(CallbackStatus),          # callback_outcome: statuses an outcome leads to
    "POLICIES": frozenset(NumberPolicy),
    "DISPOSITIONS": frozenset(Disposition),     # incident_save
    "under_way": UNDER_WAY,                     # transfer_start, call_command: a transfer still open
    "transfer_states": frozenset(TransferState) - {TransferState.READY},  # transfer_step: states a step leads to
    "PRIORITY_REASONS": frozenset(PriorityReason),  # call_enqueue: the reasons a caller may bring
    "ALERT_KINDS": frozenset(AlertKind),        # alerts_apply: the kinds an alert may have
}
# Tables that must list their whole vocabulary.
COMPLETE_SET_TABLES = {"desk_states": frozenset(DeskState), "under_way": UNDER_WAY,
                       "transfer_states": frozenset(TransferState) - {TransferState.READY}, "CALLBACK_OPEN": frozenset(OPEN_CALLBACK_STATUSES),
                       "POLICIES": frozenset(NumberPolicy), "DISPOSITIONS": frozenset(Disposition), "PRIORITY_REASONS": frozenset(PriorityReason),
                       "ALERT_KINDS": frozenset(AlertKind)}
# Helpers whose argument at that position is a desk state / callback status.
CALL_ARGS = {"own_desk": (0, "DeskState"), "close_callback": (1, "CallbackStatus"),
             "answer": (0, "CallbackClaimResult")}  # callback_claim's reply
# A stored value outside the vocabulary, on purpose.
EXTRA = {("state", "missing")}  # *_entry_dropped events: the record itself is gone


@dataclass(frozen=True)
class Use:
    script: str
    line: int
    what: str  # the vocabulary's name
    allowed: frozenset[str]
    value: str


def _target(tokens: list[Tok], i: int) -> tuple[str, str, int] | None:
    """(name, object, start) of the variable or field ending just before index ``i``."""
    j = i - 1
    if j >= 0 and tokens[j].text == "]":  # policy[1]
        depth = 0
        while j >= 0:
            depth += tokens[j].text == "]"
            depth -= tokens[j].text == "["
            if depth == 0:
                break
            j -= 1
        j -= 1
    if j < 0 or tokens[j].kind != "name":
        return None
    name, obj = tokens[j].text, ""
    if j >= 2 and tokens[j - 1].text == "." and tokens[j - 2].kind == "name":
        obj, j = tokens[j - 2].text, j - 2
    return name, obj, j


def lua_uses(path: Path) -> Iterable[Use]:
    script = path.stem
    tokens = tokenize(path.read_text(encoding="utf-8"))

    def use(name: str, obj: str, values: Iterable[str], line: int) -> Iterable[Use]:
        vocab = vocabulary(name, obj, script)
        if vocab is None:
            return
        for value in values:
            if value != "" and (name, value) not in EXTRA:
                yield Use(script, line, vocab[0], vocab[1], value)

    def pairs(items: list[list[Tok]]) -> Iterable[Use]:
        # A flat field/value list: HSET's arguments, emit's fields, a script's reply.
        for field, value in zip(items[::2], items[1::2], strict=False):
            if len(field) == 1 and field[0].kind == "str":
                yield from use(field[0].text, "", _values(value), field[0].line)

    opened: list[str] = []
    for i, t in enumerate(tokens):
        if _opens(t):
            opened.append(t.text)
        elif _closes(t):
            opened.pop()
        if t.text in ("==", "~="):
            target = _target(tokens, i)
            if target and i + 1 < len(tokens) and tokens[i + 1].kind == "str":
                yield from use(target[0], target[1], [tokens[i + 1].text], t.line)
        elif t.text == "=" and t.kind == "op":
            target = _target(tokens, i)
            if target is None:
                continue
            inside_table = bool(opened) and opened[-1] == "{"
            if inside_table:  # { status = 'pending', ... }
                end = i + 1
                while end < len(tokens) and not (tokens[end].kind == "op" and tokens[end].text in (",", "}")):
                    end = _closing(tokens, end) + 1 if _opens(tokens[end]) else end + 1
                yield from use(target[0], target[1], _values(tokens[i + 1:end]), t.line)
                continue
            # a statement: a, b = x, y (the right side ends with its line)
            names = [target]
            while names[-1][2] >= 2 and tokens[names[-1][2] - 1].text == ",":
                more = _target(tokens, names[-1][2] - 1)
                if more is None:
                    break
                names.append(more)
            names.reverse()
            end = i + 1
            def continues(k: int, line: int = t.line) -> bool:  # same line, or a line ending inside brackets
                return tokens[k].line == line or (tokens[k - 1].kind == "op" and tokens[k - 1].text in ("(", "{", ","))

            while end < len(tokens) and continues(end):
                end = _closing(tokens, end) + 1 if _opens(tokens[end]) else end + 1
            rhs = [Tok("op", "(", t.line), *tokens[i + 1:end], Tok("op", ")", t.line)]
            for (name, obj, _), expr in zip(names, _items(rhs, 0), strict=False):
                yield from use(name, obj, _values(expr), t.line)
        elif t.kind == "name" and t.text in CALL_ARGS and i + 1 < len(tokens) and tokens[i + 1].text == "(":
            position, what = CALL_ARGS[t.text]
            items = _items(tokens, i + 1)
            if tokens[i - 1].text != "function" and len(items) > position and (what != "CallbackClaimResult"
                                                                               or script == "callback_claim"):
                vocab = {"DeskState": frozenset(DeskState), "CallbackStatus": frozenset(CallbackStatus),
                         "CallbackClaimResult": frozenset(CallbackClaimResult)}[what]
                for value in _values(items[position]):
                    yield Use(script, t.line, what, vocab, value)
        elif t.text == "(" and i >= 3 and [x.text for x in tokens[i - 3:i]] == ["redis", ".", "call"]:
            items = _items(tokens, i)
            if items and items[0][0].text == "HSET":
                yield from pairs(items[2:])
        elif t.text == "(" and i >= 1 and tokens[i - 1].text == "emit" and tokens[i - 2].text != "function":
            yield from pairs(_items(tokens, i)[1:])
        elif t.text == "{" and i >= 1 and tokens[i - 1].text == "return":
            yield from pairs(_items(tokens, i))


def set_tables(path: Path) -> dict[str, set[str]]:
    tokens = tokenize(path.read_text(encoding="utf-8"))
    found = {}
    for i, t in enumerate(tokens):
        if t.kind == "name" and t.text in SET_TABLES and tokens[i + 1].text == "=" and tokens[i + 2].text == "{":
            found[t.text] = {item[0].text for item in _items(tokens, i + 2)
                             if len(item) == 3 and item[1].text == "=" and item[2].text == "true"}
    return found


ALL_USES = [use for path in LUA_FILES for use in lua_uses(path)]


# --- the tests ------------------------------------------------------------------------------


def test_the_extraction_sees_the_scripts():
    # Guards the parser itself: a few uses it must find.
    seen = {(u.script, u.what, u.value) for u in ALL_USES}
    for expected in [("call_arrive", "state", "ivr"), ("call_hangup", "CallOutcome", "answered"),
                     ("call_hangup", "CallOutcome", "abandoned"), ("call_hangup", "state", "ended"),
                     ("_prelude", "state", "ready"), ("offer_failed", "DeskState", "paused"),
                     ("callback_create", "CallbackStatus", "not_possible"),
                     ("_prelude", "NumberPolicy", "general_only"),
                     ("call_rejoin", "RouteReason", "rejoined"),
                     ("callback_outcome", "CallbackOutcome", "reached")]:
        assert expected in seen, expected
    assert len(ALL_USES) > 100


@pytest.mark.parametrize("use", ALL_USES, ids=lambda u: f"{u.script}:{u.line}:{u.value}")
def test_every_lua_literal_is_in_its_enum(use):
    assert use.value in use.allowed, (
        f"queueing/lua/{use.script}.lua line {use.line}: {use.value!r} is no {use.what} "
        f"(queueing/states.py has {sorted(use.allowed)})")


@pytest.mark.parametrize("enum", [CallState, DeskState, CallOutcome, CallbackStatus, NumberPolicy, HangupResult,
                                  OfferFailedResult, CallbackClaimResult, Disposition, WrapUpAction, PriorityReason,
                                  TransferState])
def test_every_value_the_scripts_decide_on_is_used(enum):
    used = {u.value for u in ALL_USES if u.what in (enum.__name__, "state")}
    used |= {v for path in LUA_FILES for name, values in set_tables(path).items()
             if SET_TABLES[name] <= frozenset(enum) for v in values}
    assert set(enum) - used == set()


def test_set_tables_list_their_vocabulary():
    tables = {name: values for path in LUA_FILES for name, values in set_tables(path).items()}
    assert set(tables) == set(SET_TABLES)
    for name, values in tables.items():
        assert values <= SET_TABLES[name], name
        if name in COMPLETE_SET_TABLES:
            assert values == COMPLETE_SET_TABLES[name], name


def test_abandon_stages_are_the_states_a_hangup_abandons():
    # call_hangup ends on_call and fallback calls; every other state it knows is abandoned,
    # and the stage is that state.
    source = (LUA_DIR / "call_hangup.lua").read_text(encoding="utf-8")
    ended = re.search(r"if ((?:previous == '\w+'(?: or )?)+) then\s*\n\s*result, state, stage = 'ended'", source)
    assert ended, "call_hangup.lua's ended branch moved: update this test"
    ends = set(re.findall(r"'(\w+)'", ended.group(1)))
    known = set_tables(LUA_DIR / "call_hangup.lua")["known"]
    assert set(AbandonStage) == known - ends
    assert "result, state, outcome, stage = 'abandoned', 'abandoned', 'abandoned', previous" in source


def test_route_reasons_are_the_menus_and_the_rejoins():
    menu = set(get_args(ivr.menu.RouteReason))
    lua = {u.value for u in ALL_USES if u.what == "RouteReason"}
    assert menu | lua == set(RouteReason)


def test_the_general_queue_is_one_name():
    prelude = (LUA_DIR / PRELUDE).read_text(encoding="utf-8")
    assert re.findall(r"^local GENERAL = '([^']*)'$", prelude, flags=re.MULTILINE) == [GENERAL_QUEUE]
    for path in LUA_FILES:
        tokens = tokenize(path.read_text(encoding="utf-8"))
        literal = [t.line for t in tokens if t.kind == "str" and t.text == GENERAL_QUEUE]
        assert literal == ([] if path.name != PRELUDE else literal[:1]), f"{path.name}: use GENERAL, not a literal"
    for path in QUEUEING.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value == GENERAL_QUEUE:
                pytest.fail(f"{path.relative_to(QUEUEING.parent)}:{node.lineno}: use GENERAL_QUEUE")


# Python literals that equal a vocabulary value by coincidence: (file, value, why).
PY_NOT_VOCABULARY = {
    ("desk_states.py", "ready"),  # the person's command "ready", not the state
}
VOCABULARY = {str(v) for enum in (CallState, DeskState, CallOutcome, AbandonStage, RouteReason, CallbackStatus,
                                  CallbackOutcome, NumberPolicy, HangupResult, OfferFailedResult, CallbackClaimResult,
                                  Disposition, WrapUpAction)
              for v in enum}


def test_queueing_python_compares_with_the_enums():
    found = []
    for path in sorted(QUEUEING.rglob("*.py")):
        if path.name == "states.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Compare):
                continue
            for operand in [node.left, *node.comparators]:
                constants = operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else [operand]
                for c in constants:
                    if (isinstance(c, ast.Constant) and c.value in VOCABULARY
                            and (path.name, c.value) not in PY_NOT_VOCABULARY):
                        found.append(f"{path.name}:{c.lineno}: {c.value!r}")
    assert found == []


ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def _doc_list(label: str) -> list[str]:
    text = " ".join(ARCHITECTURE.read_text(encoding="utf-8").split())
    found = re.search(rf"{label}: `([^`]*)`", text)
    assert found, label
    return [item.strip() for item in found.group(1).split(",")]


@pytest.mark.parametrize(("label", "enum"), [
    ("Desk states", DeskState), ("Outcomes", CallOutcome), ("abandon stages", AbandonStage),
    ("route reasons", RouteReason),
])
def test_the_architecture_lists_the_enums(label, enum):
    assert _doc_list(label) == [str(v) for v in enum]


@pytest.mark.parametrize(("label", "script"), [("Call hash fields", "call_arrive"), ("Desk hash fields", "desk_register")])
def test_the_architecture_lists_the_fields_a_record_is_made_with(label, script):
    # The script that creates the record writes every field at once.
    tokens = tokenize((LUA_DIR / f"{script}.lua").read_text(encoding="utf-8"))
    for i, t in enumerate(tokens):
        if t.text == "(" and [x.text for x in tokens[i - 3:i]] == ["redis", ".", "call"]:
            items = _items(tokens, i)
            if items[0][0].text == "HSET" and items[1][0].text in ("call_key", "desk_key"):
                fields = [item[0].text for item in items[2::2]]
                break
    assert _doc_list(label) == fields

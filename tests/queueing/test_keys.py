"""Key names, queue scores and script loading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from queueing import GENERAL_QUEUE, Keys, Routing, Scripts, UnknownScript, queue_score
from queueing.accounts import Accounts, User
from queueing.callbacks import Callbacks
from queueing.keys import SCHEMA
from queueing.numbers import Numbers
from queueing.scripts import LUA_DIR, PRELUDE
from queueing.states import UserRole

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
QUEUEING = LUA_DIR.parent
T0 = 1_700_000_000_000


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("call", ("c-1",), "hotline:call:c-1"),
        ("calls", (), "hotline:calls"),
        ("calls_active", (), "hotline:calls:active"),
        ("queue", ("police",), "hotline:queue:police"),
        ("desk", ("desk-9",), "hotline:desk:desk-9"),
        ("desks", (), "hotline:desks"),
        ("desks_ready", ("fire",), "hotline:desks:ready:fire"),
        ("wrapups", (), "hotline:wrapups"),
        ("offers", (), "hotline:offers"),
        ("callbacks", ("general",), "hotline:callbacks:general"),
        ("events", (), "hotline:events"),
        ("wake", (), "hotline:wake"),
        ("callback", ("c-1",), "hotline:callback:c-1"),
        ("callback_tasks", ("police",), "hotline:callback_tasks:police"),
        ("number", ("+8491",), "hotline:number:+8491"),
        ("number_calls", ("+8491",), "hotline:number:+8491:calls"),
        ("number_policy", ("+8491",), "hotline:number:+8491:policy"),
        ("numbers_with_policy", (), "hotline:numbers:policy"),
        ("user", ("lan",), "hotline:user:lan"),
        ("users", (), "hotline:users"),
        ("user_sessions", ("lan",), "hotline:user:lan:sessions"),
        ("session", ("9f86d0",), "hotline:session:9f86d0"),
        ("desk_session", ("desk-9",), "hotline:desk:desk-9:session"),
    ],
)
def test_key_names_follow_the_architecture(name, args, expected):
    assert getattr(Keys(), name)(*args) == expected
    assert getattr(Keys("lab-a:"), name)(*args) == expected.replace("hotline:", "lab-a:", 1)


def test_general_queue_name():
    assert GENERAL_QUEUE == "general"


@pytest.mark.parametrize(
    ("priority", "arrival_ms", "expected"),
    [
        (0, T0, T0),
        (1, T0, 10**13 + T0),
        (2, 5, 2 * 10**13 + 5),
        (99, T0, 99 * 10**13 + T0),
    ],
)
def test_queue_score(priority, arrival_ms, expected):
    assert queue_score(priority, arrival_ms) == expected


def test_priority_outranks_arrival():
    assert queue_score(0, T0 + 3_600_000) < queue_score(1, T0)


@pytest.mark.parametrize("priority", [0, 1, 7, 42, 99])
def test_lua_score_is_exact_and_matches_python(redis_client, priority):
    # Lua numbers print with 14 significant digits unless formatted: scores have up to 16.
    routing = Routing(redis_client)
    routing.arrive("c-1", "+15550100", "PJSIP/trunk-1", now_ms=T0 + 123)
    enqueued = routing.enqueue("c-1", "police", priority, now_ms=T0 + 5000)
    expected = queue_score(priority, T0 + 123)
    assert enqueued.queue_score == expected
    assert int(routing.call("c-1")["queue_score"]) == expected
    assert redis_client.zscore(Keys().queue("police"), "c-1") == expected


def test_every_script_of_the_architecture_table_is_loaded(redis_client):
    table = ARCHITECTURE.read_text(encoding="utf-8").split("## Lua scripts", 1)[1]
    documented = sorted(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE))
    assert {"call_arrive", "claim_next", "location_add", "pop_seen"} <= set(documented)  # the table was read
    assert Scripts(redis_client).names == documented


def test_unknown_script_name_is_a_clear_error(redis_client):
    scripts = Scripts(redis_client)
    with pytest.raises(UnknownScript, match="no Lua script named 'claim_nxt'.*known: .*call_arrive, "):
        scripts["claim_nxt"]
    with pytest.raises(UnknownScript):
        scripts["_prelude"]


def test_prefixes_keep_instances_apart(redis_client):
    lab_a, lab_b = Routing(redis_client, prefix="lab-a:"), Routing(redis_client, prefix="lab-b:")
    lab_a.arrive("c-1", "+15550100", "PJSIP/trunk-1", now_ms=T0)
    lab_a.enqueue("c-1", "police", 1, now_ms=T0)
    lab_b.register_desk("d-1", "police", now_ms=T0)
    lab_b.set_desk_state("d-1", "ready", now_ms=T0)

    assert lab_b.claim_next(["police"], 20_000, now_ms=T0) is None
    assert lab_a.queue("police") == ["c-1"]
    assert lab_b.call("c-1") == {}
    assert redis_client.exists("hotline:call:c-1") == 0
    assert sorted(redis_client.keys("lab-a:*")) == [
        "lab-a:call:c-1", "lab-a:calls", "lab-a:calls:active", "lab-a:events",
        "lab-a:number:+15550100", "lab-a:number:+15550100:calls", "lab-a:queue:police",
    ]


# --- one key schema: queueing.keys.SCHEMA -----------------------------------------------------


def _shape(pattern: str) -> str:
    """A key pattern with its variable parts unnamed: ``number:{}:calls``."""
    return re.sub(r"\{[^}]*\}", "{}", pattern)


def test_the_schema_names_each_key_once():
    assert len({_shape(k.pattern) for k in SCHEMA}) == len(SCHEMA)
    assert len({k.method for k in SCHEMA}) == len(SCHEMA)
    assert {k.type for k in SCHEMA} <= {"hash", "zset", "set", "list", "stream", "string", "pub/sub"}


@pytest.mark.parametrize("spec", SCHEMA, ids=lambda k: k.pattern)
def test_keys_builds_each_key_of_the_schema(spec):
    # Each variable part passed as its own placeholder gives the pattern back.
    args = re.findall(r"\{[^}]*\}", spec.pattern)
    assert getattr(Keys("p:"), spec.method)(*args) == "p:" + spec.pattern


def test_every_key_keys_builds_is_in_the_schema():
    methods = {name for name, value in vars(Keys).items() if callable(value) and not name.startswith("_")}
    assert methods - {"fixed"} == {k.method for k in SCHEMA}


def test_the_keys_docstring_is_the_schema():
    doc = Keys.__doc__ or ""
    for spec in SCHEMA:
        assert re.search(rf"^``{re.escape(spec.pattern)}`` +{re.escape(spec.type)} +{re.escape(spec.content)}$",
                         doc, flags=re.MULTILINE), spec.pattern


def _architecture_key_rows() -> list[tuple[str, str, str]]:
    section = ARCHITECTURE.read_text(encoding="utf-8").split("\n## Redis keys", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines[:2] == ["| key | type | content |", "| --- | --- | --- |"]
    rows = []
    for line in lines[2:]:
        key, kind, content = (cell.strip() for cell in line.strip("|").split(" | "))
        assert key.startswith("`") and key.endswith("`"), line
        rows.append((key[1:-1], kind, content))
    return rows


def test_the_architecture_table_is_the_schema_row_by_row():
    assert _architecture_key_rows() == [(k.pattern, k.type, k.content) for k in SCHEMA]


def _lua_key_shapes() -> dict[str, set[str]]:
    """{file: shapes of the key names it builds from the prefix}."""
    found: dict[str, set[str]] = {}
    for path in sorted(LUA_DIR.glob("*.lua")):
        source = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
        built = re.findall(r"PREFIX \.\. '([^']*)'( \.\. \w+)?", source)
        assert len(built) == source.count("PREFIX .."), f"{path.name}: a key built in an unexpected way"
        shapes = {head + ("{}" if var else "") for head, var in built}
        # number:{n} plus a suffix: number_key(n) .. ':calls', or a local holding number_key(n)
        suffixes = re.findall(r"(?:number_key\([^)]*\)|nkey) \.\. '([^']*)'", source)
        shapes |= {"number:{}" + suffix for suffix in suffixes}
        found[path.name] = shapes
    return found


def test_every_key_the_lua_scripts_build_is_in_the_schema():
    schema = {_shape(k.pattern) for k in SCHEMA}
    built = _lua_key_shapes()
    assert {"call:{}", "desk:{}", "handle_ms:{}", "desks:of:{}", "number:{}:calls"} <= set().union(*built.values())
    for name, shapes in built.items():
        assert shapes <= schema, f"{name} builds {sorted(shapes - schema)}, which queueing.keys.SCHEMA lacks"


def test_the_prelude_reads_the_fixed_keys_in_keys_order():
    prelude = (LUA_DIR / PRELUDE).read_text(encoding="utf-8")
    listed = re.search(r"^--\s+(calls, calls:active, [\w:, ]+)$", prelude, flags=re.MULTILINE)
    assert listed and [k.strip() for k in listed.group(1).split(",")] == [
        key.removeprefix("p:") for key in Keys("p:").fixed()]


def test_python_builds_key_names_only_in_keys_py():
    import ast

    for path in sorted(QUEUEING.rglob("*.py")):
        if path.name == "keys.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.FormattedValue):
                first = ast.unparse(node.values[0].value)
                assert not first.endswith("prefix"), f"{path.name}:{node.lineno}: build key names with Keys"


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join("[^:]+" if part.startswith("{") else re.escape(part)
                              for part in re.split(r"(\{[^}]*\})", pattern)))


def test_every_key_written_is_in_the_schema_with_its_type(redis_client):
    # One pass through every kind of write: desks, a call answered and hung up, an abandoned
    # call and its callback task, a number's policy.
    routing, callbacks, numbers = Routing(redis_client), Callbacks(redis_client), Numbers(redis_client)
    routing.register_desk("d-1", "police", cross_trained=["fire"], now_ms=T0)
    routing.set_desk_state("d-1", "ready", now_ms=T0)
    routing.register_desk("d-2", "fire", now_ms=T0)
    routing.arrive("c-1", "0912345678", "PJSIP/citizens-1", now_ms=T0)
    routing.enqueue("c-1", "police", 1, choice="1", route_reason="chosen", now_ms=T0 + 1)
    claim = routing.claim_next(["police", "fire"], 20_000, now_ms=T0 + 2)
    assert claim is not None
    routing.offer_answered("c-1", "d-1", now_ms=T0 + 3)
    routing.hangup("c-1", 30_000, now_ms=T0 + 10_000)
    routing.arrive("c-2", "0987654321", "PJSIP/citizens-2", now_ms=T0 + 20_000)
    routing.enqueue("c-2", GENERAL_QUEUE, 0, route_reason="no_input", now_ms=T0 + 21_000)
    routing.hangup("c-2", 30_000, now_ms=T0 + 22_000)
    callbacks.create("c-2", now_ms=T0 + 23_000)
    numbers.set_policy("0912345678", "lower_priority", set_by="sup-1", now_ms=T0 + 24_000)
    accounts = Accounts(redis_client)
    accounts.add_user(User("lan", UserRole.CALL_TAKER, "police", None), "correct horse", now_ms=T0 + 25_000)
    accounts.open_session("lan", "d-1", 1800, now_ms=T0 + 26_000)

    written = sorted(redis_client.scan_iter(match="hotline:*"))
    assert len(written) >= 15
    specs = [(spec, _pattern_regex(spec.pattern)) for spec in SCHEMA]
    for key in written:
        name = key.removeprefix("hotline:")
        matches = [spec for spec, regex in specs if regex.fullmatch(name)]
        assert len(matches) == 1, f"{key} matches {[m.pattern for m in matches]} in queueing.keys.SCHEMA"
        assert redis_client.type(key) == matches[0].type, key

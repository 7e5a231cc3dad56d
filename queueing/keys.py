"""Redis key names of the queueing state: :data:`SCHEMA` is the one list of them.

Every key lives under a prefix, ``hotline:`` by default; tests and lab bridges pass their own
prefix to share one Redis without seeing each other. :class:`Keys` builds the names (its
docstring is the schema as a table), docs/architecture.md's "Redis keys" table is held to
the schema by tests/queueing/test_keys.py, and so are the key names the Lua scripts build
themselves from the same prefix (``queueing/lua/_prelude.lua``); :meth:`Keys.fixed` lists the
keys they receive in KEYS.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "hotline:"

#: Queue scores are ``priority * PRIORITY_FACTOR + arrival_ms``: priority first, then arrival.
PRIORITY_FACTOR = 10**13


def queue_score(priority: int, arrival_ms: int) -> int:
    """Score of a waiting caller: lower is served first (priority 0 is the highest).

    Mirrors ``call_enqueue.lua``; exact as long as it stays below 2**53 (Lua numbers are
    doubles), which priorities up to 99 do.
    """
    return priority * PRIORITY_FACTOR + arrival_ms


@dataclass(frozen=True)
class KeySpec:
    """One key (or channel) of the schema."""

    #: After the prefix; ``{name}`` stands for a part that varies.
    pattern: str
    #: Redis type: hash, zset, set, list, stream, string, or pub/sub for a channel.
    type: str
    #: What it holds, one line (markdown: the docs table shows it as is).
    content: str
    #: The :class:`Keys` method that builds it.
    method: str


SCHEMA: tuple[KeySpec, ...] = (
    KeySpec("call:{call_id}", "hash", "the call record (`call_id, caller, state, queue, desk, outcome`, …)", "call"),
    KeySpec("calls", "zset", "every call id, score = arrival ms (history, newest last)", "calls"),
    KeySpec("calls:active", "set", "call ids not yet ended (for reconciliation with Asterisk)", "calls_active"),
    KeySpec("queue:{queue}", "zset", "waiting call ids, score = priority × 10¹³ + arrival ms", "queue"),
    KeySpec("desk:{desk_id}", "hash", "a desk's record (`agency, state, call_id, since_ms`, …)", "desk"),
    KeySpec("desks", "set", "every desk id", "desks"),
    KeySpec("handle_ms:{queue}", "list",
            "desk time (talk + wrap-up, ms) of the queue's last 50 answered calls, newest first, "
            "for the expected wait", "handle_times"),
    KeySpec("desks:of:{agency}", "set", "every desk of an agency, whatever its state", "desks_of"),
    KeySpec("desks:ready:{agency}", "zset", "ready desks of an agency, score = ready since ms (longest idle first)",
            "desks_ready"),
    KeySpec("desks:ready_for:{queue}", "zset",
            "ready desks of other agencies cross-trained for a queue, score = ready since ms (overflow reads the head)",
            "desks_ready_for"),
    KeySpec("desks:logged_in:{agency}", "set",
            "desks of an agency in any state but offline (is any logged in? overflow, transfers)", "desks_logged_in"),
    KeySpec("wrapups", "zset", "desks in wrap-up, score = wrap-up end ms", "wrapups"),
    KeySpec("offers", "zset", "call ids being rung at a desk, score = offer deadline ms", "offers"),
    KeySpec("callbacks:{queue}", "zset", "abandoned call ids to call back, score = abandoned at ms", "callbacks"),
    KeySpec("events", "stream", "every state change (type, call_id, desk, …), capped near 100 000 entries", "events"),
    KeySpec("callback:{call_id}", "hash", "callback task of an abandoned call (`status, attempts, next_attempt_ms`, …)", "callback"),
    KeySpec("callback_tasks:{queue}", "zset", "open callback tasks, score = priority × 10¹³ + abandoned at ms",
            "callback_tasks"),
    KeySpec("number:{number}", "hash",
            "a caller number's `last_call_id, last_call_ms, repeat_count, open_callback, last_answered_ms, "
            "last_answered_call`; expires 7 days after its last write", "number"),
    KeySpec("number:{number}:calls", "zset",
            "the number's newest 200 call ids, score = arrival ms; expires with the number", "number_calls"),
    KeySpec("number:{number}:policy", "hash",
            "a supervisor's policy for the number: `policy, priority_delta, set_by, set_ms, note` (never expires)",
            "number_policy"),
    KeySpec("numbers:policy", "zset", "numbers that have a policy, score = set at ms", "numbers_with_policy"),
    KeySpec("location:{number}", "zset",
            "a caller number's newest 20 location fixes (JSON: `lat, lon, radius_m, at_ms, source, method, "
            "confidence`), score = taken at ms; expires a day after the last", "location"),
    KeySpec("applied:{event}", "string",
            "set by the one bridge that applied an AMI event (several bridges see each event); "
            "expires after an hour", "applied_event"),
    KeySpec("user:{name}", "hash",
            "a console user: `name, role, agency, desk, password` (an argon2 hash, never the password), "
            "`created_ms, password_ms`", "user"),
    KeySpec("users", "set", "every console user name", "users"),
    KeySpec("user:{name}:sessions", "set", "ids of the user's console sessions (pruned at each sign-in)",
            "user_sessions"),
    KeySpec("session:{session_id}", "hash",
            "a console session, id = SHA-256 of the cookie's token: `user, role, agency, desk, csrf, created_ms`; "
            "expires after the city file's idle minutes, refreshed on use", "session"),
    KeySpec("desk:{desk_id}:session", "hash",
            "the console session bound to the desk: `user, session_id, since_ms`; expires with the session",
            "desk_session"),
    KeySpec("incident:{call_id}", "hash",
            "the incident of a call: `call_id, agency, nature, nature_text, location_text, priority, agencies, "
            "disposition, duplicate_of, version, created_ms, updated_ms, updated_by, dispatched_ms`, …", "incident"),
    KeySpec("incident:{call_id}:notes", "list",
            'the incident\'s notes, oldest first, each `{"at_ms", "by", "text"}` as JSON; appended, never edited',
            "incident_notes"),
    KeySpec("recordings", "zset",
            "call ids whose recording files may exist, score = recording start ms (retention deletes the oldest)",
            "recordings"),
    KeySpec("transfer:{call_id}", "hash",
            "the call's latest transfer: `call_id, transfer_state, kind, from_desk, from_agency, target_agency, "
            "own_queue, target_desk, started_ms, updated_ms, reason`", "transfer"),
    KeySpec("spy:{desk_id}", "hash",
            "a supervisor listening to the desk's call: `spy_id` (the supervisor's leg's uniqueid), `desk_id, "
            "call_id, supervisor_desk, mode, by, started_ms, answered_ms, tell_call_taker`", "spy"),
    KeySpec("spy_by:{desk_id}", "string", "the desk a supervisor's desk is listening to", "spy_by"),
    KeySpec("spies", "set", "desks with a spy session (a bridge that starts watches their supervisors' legs again)",
            "spies"),
    KeySpec("call_commands", "stream",
            "what the API asks the bridge to do to a call over AMI (`action, call_id, channel`, …), read once by "
            "the bridges' consumer group", "call_commands"),
    KeySpec("cad_push:{call_id}", "hash",
            "a call's EIDO document for the agencies' CAD and each push: `call_id, queue, document, seq, agencies`, "
            "and per agency `<agency>.status` (pending, sent, failed), `.attempts, .last_error, .last_http_status, "
            ".sent_ms, .retrying`; the document stays after it is sent", "cad_push"),
    KeySpec("cad_pushes:open", "zset", "call ids with a CAD push not yet sent, score = first queued ms",
            "cad_pushes_open"),
    KeySpec("bridges", "hash",
            "each bridge's last heartbeat, field = bridge id, value = JSON `bridge_id, heartbeat_ms, ami_up, "
            "ami_since_ms, loop_lag_ms`; a bridge silent for a day is dropped", "bridges"),
    KeySpec("picks", "zset", "call ids a supervisor picked for a named desk (`call_pick`), score = picked at ms; "
            "claim_next offers them first", "picks"),
    KeySpec("wake", "pub/sub", "a channel, not a key: published when something may be dispatchable", "wake"),
    KeySpec("alert:{alert_id}", "hash",
            "a supervisor alert (id = `<kind>[:<subject>]@<raised ms>`): `alert_id, key, kind, subject, level, value, "
            "threshold, detail, params, raised_ms, changed_ms, acked_by, acked_ms, cleared_ms`; a cleared one is kept "
            "while it is on `alerts:history`", "alert"),
    KeySpec("alerts:active", "hash", "the alerts on now: field = `<kind>[:<subject>]`, value = its alert id",
            "alerts_active"),
    KeySpec("alerts:history", "list", "ids of the newest 200 cleared alerts, newest first", "alerts_history"),
    KeySpec("alerts:evaluated_ms", "string", "when the facts of the last alert evaluation applied were read",
            "alerts_evaluated"),
    KeySpec("resources:shortages", "hash",
            "Asterisk's shortages since ever (`resource_shortage`): field `<resource>` = shortages, "
            "`<resource>:caller` = callers refused, `<resource>:desk` = desks left unrung (`GET /metrics`)",
            "resource_shortages"),
    KeySpec("resources:recent", "zset",
            "each recorded batch of shortages (JSON: `resource, shortages, callers_refused, desks_unrung`), "
            "score = recorded at ms; the last day (the supervisors' alert)", "resource_recent"),
    KeySpec("resources:log", "hash",
            "how far Asterisk's warnings log has been recorded: field = the log's path, value = "
            "`<file id> <offset>` (bridges read on from it; a part is recorded once)", "resource_log"),
)


def schema_table() -> str:
    """:data:`SCHEMA` as a reStructuredText table (the :class:`Keys` docstring)."""
    rows = [(f"``{k.pattern}``", k.type, k.content) for k in SCHEMA]
    widths = [max(len(row[i]) for row in rows + [("key (after the prefix)", "type", "content")]) for i in range(3)]
    rule = "  ".join("=" * w for w in widths)

    def line(cells: tuple[str, str, str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([rule, line(("key (after the prefix)", "type", "content")), rule, *map(line, rows), rule])


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix; the schema (:data:`SCHEMA`) is appended below."""

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

    def bridges(self) -> str:
        return f"{self.prefix}bridges"

    def desks_of(self, agency: str) -> str:
        """Set of every desk of an agency, whatever its state."""
        return f"{self.prefix}desks:of:{agency}"

    def handle_times(self, queue: str) -> str:
        """List of the last 50 answered calls' desk time (talk + wrap-up, ms), newest first."""
        return f"{self.prefix}handle_ms:{queue}"

    def desks_ready(self, agency: str) -> str:
        return f"{self.prefix}desks:ready:{agency}"

    def desks_ready_for(self, queue: str) -> str:
        """Ready desks cross-trained for ``queue`` (of other agencies), longest idle first."""
        return f"{self.prefix}desks:ready_for:{queue}"

    def desks_logged_in(self, agency: str) -> str:
        """Set of an agency's desks that are not offline."""
        return f"{self.prefix}desks:logged_in:{agency}"

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

    def location(self, number: str) -> str:
        """Zset of the number's location fixes (queueing/locations.py)."""
        return f"{self.prefix}location:{number}"

    def applied_event(self, identity: str) -> str:
        """String, set once by the bridge that applied this AMI event (expires)."""
        return f"{self.prefix}applied:{identity}"

    # -- console users and sessions (queueing/accounts.py) -------------------------------

    def user(self, name: str) -> str:
        return f"{self.prefix}user:{name}"

    def users(self) -> str:
        return f"{self.prefix}users"

    def user_sessions(self, name: str) -> str:
        return f"{self.prefix}user:{name}:sessions"

    def session(self, session_id: str) -> str:
        """Hash of a console session; the id is the SHA-256 of the cookie's token, never the token."""
        return f"{self.prefix}session:{session_id}"

    def desk_session(self, desk_id: str) -> str:
        return f"{self.prefix}desk:{desk_id}:session"

    # -- incidents (queueing/incidents.py) ----------------------------------------------

    def incident(self, call_id: str) -> str:
        return f"{self.prefix}incident:{call_id}"

    def incident_notes(self, call_id: str) -> str:
        return f"{self.prefix}incident:{call_id}:notes"

    # -- recordings (queueing/recordings.py) ---------------------------------------------

    def recordings(self) -> str:
        return f"{self.prefix}recordings"

    # -- actions on a call (queueing/transfers.py, telephony/call_control.py) ----------

    def transfer(self, call_id: str) -> str:
        return f"{self.prefix}transfer:{call_id}"

    def spy(self, desk_id: str) -> str:
        return f"{self.prefix}spy:{desk_id}"

    def spy_by(self, desk_id: str) -> str:
        return f"{self.prefix}spy_by:{desk_id}"

    def spies(self) -> str:
        return f"{self.prefix}spies"

    def call_commands(self) -> str:
        """Stream of commands for the bridges (consumer group ``bridges``)."""
        return f"{self.prefix}call_commands"

    # -- pushes to the agencies' CAD (queueing/cad_pushes.py, api/cad_push.py) -----------

    def cad_push(self, call_id: str) -> str:
        return f"{self.prefix}cad_push:{call_id}"

    def cad_pushes_open(self) -> str:
        return f"{self.prefix}cad_pushes:open"

    def picks(self) -> str:
        """Call ids a supervisor picked for a desk (``call_pick``), oldest first."""
        return f"{self.prefix}picks"

    # -- supervisor alerts (queueing/alerts.py, queueing/alert_store.py) -----------------

    def alert(self, alert_id: str) -> str:
        return f"{self.prefix}alert:{alert_id}"

    def alerts_active(self) -> str:
        return f"{self.prefix}alerts:active"

    def alerts_history(self) -> str:
        return f"{self.prefix}alerts:history"

    def alerts_evaluated(self) -> str:
        return f"{self.prefix}alerts:evaluated_ms"

    # -- Asterisk's shortages (telephony/resource_watch.py) -------------------------------

    def resource_shortages(self) -> str:
        return f"{self.prefix}resources:shortages"

    def resource_recent(self) -> str:
        return f"{self.prefix}resources:recent"

    def resource_log(self) -> str:
        return f"{self.prefix}resources:log"

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


Keys.__doc__ = f"{Keys.__doc__}\n\n{schema_table()}\n"

"""telephony.agi_protocol: the environment and replies recorded from Asterisk 22, and commands."""

from __future__ import annotations

import pytest

from telephony.agi_protocol import (
    MAX_ENVIRONMENT_BYTES,
    MAX_ENVIRONMENT_LINES,
    AgiEnvironmentError,
    AgiResult,
    command,
    parse_agi_result,
    parse_environment,
    parse_reply,
    quote,
    route_of,
)
from tests.replay import AGI_RECORDINGS, agi_recording, environment_lines

# What each recording's environment says (read off the files).
EXPECTED_ENV = {
    "agi_presses_1.agi": ("PJSIP/citizens-00000000", "hotline-rec-1795594136.0", "0912345678"),
    "agi_silent.agi": ("PJSIP/citizens-00000000", "hotline-rec2-1795594166.0", "0900000003"),
    "agi_hangs_up_in_menu.agi": ("PJSIP/citizens-00000000", "hotline-rec4-1795595092.0", "0900000004"),
    "agi_missing_prompt.agi": ("PJSIP/citizens-00000000", "hotline-rec5-1795595107.0", "0900000007"),
}


def test_every_recording_is_covered():
    assert sorted(EXPECTED_ENV) == AGI_RECORDINGS


@pytest.mark.parametrize("name", sorted(EXPECTED_ENV))
def test_parse_recorded_environment(name):
    env = parse_environment(agi_recording(name).environment)
    channel, uniqueid, callerid = EXPECTED_ENV[name]
    assert env.script == "ivr"
    assert env.channel == channel
    assert env.uniqueid == uniqueid
    assert env.callerid == callerid
    assert env.caller_number == callerid
    assert env.extension == "112"
    assert env.variables["agi_context"] == "hotline-inbound"
    assert env.variables["agi_network"] == "yes"
    assert env.variables["agi_request"].startswith("agi://127.0.0.1:")
    assert env.variables["agi_request"].endswith("/ivr")
    assert env.variables["agi_accountcode"] == ""  # "agi_accountcode: " with nothing after
    assert env.variables["agi_rdnis"] == "unknown"
    # every line became a variable (the blank terminator is not one)
    assert len(env.variables) == len(environment_lines(name)) - 1


def _env_with(name: str, **replace: str) -> bytes:
    lines = []
    for line in environment_lines(name):
        key = line.partition(":")[0]
        if key in replace:
            line = f"{key}: {replace[key]}"
        lines.append(line)
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(("callerid", "number"), [("unknown", ""), ("", ""), ("+84912345678", "+84912345678")])
def test_caller_number_of_withheld_and_present_callers(callerid, number):
    env = parse_environment(_env_with("agi_presses_1.agi", agi_callerid=callerid))
    assert env.callerid == callerid
    assert env.caller_number == number


def test_caller_number_when_callerid_line_is_absent():
    raw = b"agi_network_script: ivr\nagi_channel: PJSIP/x-1\nagi_uniqueid: u-1\n\n"
    env = parse_environment(raw)
    assert (env.callerid, env.caller_number, env.extension) == ("", "", "")


def test_environment_with_crlf_line_ends():
    raw = agi_recording("agi_presses_1.agi").environment.replace(b"\n", b"\r\n")
    env = parse_environment(raw)
    assert env.channel == "PJSIP/citizens-00000000"
    assert env.variables["agi_threadid"] == "140151971268288"


def test_script_with_arguments_is_routed_by_its_path():
    env = parse_environment(_env_with("agi_silent.agi", agi_network_script="ivr?lang=vi"))
    assert env.script == "ivr"


GOOD = agi_recording("agi_presses_1.agi").environment


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (GOOD.replace(b"agi_network: yes\n", b"GET / HTTP/1.1\n"), r"^line 1 is not 'agi_name: value': 'GET / HTTP/1\.1'$"),
        (GOOD.replace(b"agi_language: en", b"language: en"), r"^line 5 is not 'agi_name: value': 'language: en'$"),
        (GOOD.replace(b"agi_type: PJSIP", b"agi_type PJSIP"), r"^line 6 is not 'agi_name: value'"),
        (GOOD.replace(b"agi_type: PJSIP", b"agi-type: PJSIP"), r"^line 6 is not 'agi_name: value'"),
        (GOOD.replace(b"agi_channel: PJSIP/citizens-00000000\n", b""), r"^agi_channel missing$"),
        (GOOD.replace(b"agi_channel: PJSIP/citizens-00000000", b"agi_channel: "), r"^agi_channel missing$"),
        (GOOD.replace(b"agi_uniqueid: hotline-rec-1795594136.0\n", b""), r"^agi_uniqueid missing$"),
        (GOOD.replace(b"agi_network_script: ivr\n", b""), r"^agi_network_script missing$"),
        (GOOD.replace(b"0912345678", b"09\xff12", 1), r"^environment is not UTF-8 \(invalid start byte at byte \d+\)$"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n", r"^environment is not UTF-8"),
        (b"", r"^agi_network_script missing$"),
    ],
    ids=["not-agi-first-line", "no-agi-prefix", "no-colon", "dash-in-name", "no-channel", "empty-channel",
         "no-uniqueid", "no-script", "not-utf8", "tls-hello", "empty"],
)
def test_malformed_environments_are_refused_with_a_clear_message(raw, message):
    with pytest.raises(AgiEnvironmentError, match=message):
        parse_environment(raw)


def test_too_large_environment():
    raw = GOOD + b"agi_arg_1: " + b"x" * MAX_ENVIRONMENT_BYTES + b"\n\n"
    with pytest.raises(AgiEnvironmentError, match=rf"^environment larger than {MAX_ENVIRONMENT_BYTES} bytes$"):
        parse_environment(raw)


def test_too_many_lines():
    raw = b"".join(b"agi_arg_%d: x\n" % i for i in range(MAX_ENVIRONMENT_LINES + 50)) + b"\n"
    assert len(raw) < MAX_ENVIRONMENT_BYTES
    with pytest.raises(AgiEnvironmentError, match=rf"^environment has more than {MAX_ENVIRONMENT_LINES} lines$"):
        parse_environment(raw)


def test_agi_environment_error_is_a_value_error():
    assert issubclass(AgiEnvironmentError, ValueError)


# --- replies ---------------------------------------------------------------------------------

# Every distinct reply line Asterisk sent in the recordings, and what it means.
#   line: (ok, code, result, data, hangup, digit)
RECORDED_REPLIES = {
    "200 result=49 endpos=9120": (True, 200, "49", "", False, "1"),
    "200 result=0 endpos=9404": (True, 200, "0", "", False, None),
    "200 result=0 endpos=10853": (True, 200, "0", "", False, None),
    "200 result=0 endpos=3506": (True, 200, "0", "", False, None),
    "200 result=0 endpos=3437": (True, 200, "0", "", False, None),
    "200 result=0": (True, 200, "0", "", False, None),
    "200 result=1": (True, 200, "1", "", False, None),
    "200 result=50 endpos=1120": (True, 200, "50", "", False, "2"),
    "200 result=6": (True, 200, "6", "", False, None),  # CHANNEL STATUS: 6 = line is up
    # GET VARIABLE HOTLINE_KEYS: the caller's key log (StoreDTMF); result=1 and the value
    "200 result=1 (1)": (True, 200, "1", "1", False, None),
    "200 result=1 (2)": (True, 200, "1", "2", False, None),
    # result=-1: the caller hung up (endpos=5760) or the prompt file is missing (endpos=0);
    # only CHANNEL STATUS tells them apart.
    "200 result=-1 endpos=5760": (False, 200, "-1", "", True, None),
    "200 result=-1 endpos=0": (False, 200, "-1", "", True, None),
    "511 Command Not Permitted on a dead channel or intercept routine": (False, 511, "", "", False, None),
    "HANGUP": (False, 0, "", "", True, None),
}


def test_every_recorded_reply_is_covered():
    recorded = {line for name in AGI_RECORDINGS for line in agi_recording(name).asterisk_lines}
    assert recorded == set(RECORDED_REPLIES)


@pytest.mark.parametrize("line", sorted(RECORDED_REPLIES))
def test_parse_recorded_reply(line):
    reply = parse_reply(line + "\n")
    assert (reply.ok, reply.code, reply.result, reply.data, reply.hangup, reply.digit) == RECORDED_REPLIES[line]
    assert reply.line == line


# What parse_agi_result makes of each recorded line (the project's own parser: panoramisk's
# changed between releases).
RECORDED_RESULTS = {
    "200 result=49 endpos=9120": AgiResult(None, "49"),
    "200 result=0": AgiResult(None, "0"),
    "200 result=-1 endpos=5760": AgiResult("app_error", "-1"),
    "511 Command Not Permitted on a dead channel or intercept routine": AgiResult("unknown"),
    "HANGUP": AgiResult("hangup"),
}


def test_agi_results_of_recorded_lines():
    recorded = {line for name in AGI_RECORDINGS for line in agi_recording(name).asterisk_lines}
    assert set(RECORDED_RESULTS) <= recorded
    for line, expected in RECORDED_RESULTS.items():
        assert parse_agi_result(line) == expected


@pytest.mark.parametrize(("line", "expected"), [
    ("200 result= (timeout)", AgiResult(None)),
    ("200 result=1 (speech)", AgiResult(None, "1", "speech")),
    ("200 result=0 (hangup)", AgiResult("hangup")),
    ("510 Invalid or unknown command", AgiResult("invalid_command")),
    ("520-Invalid command syntax.", AgiResult("usage")),
    ("100 result=0 Trying...", AgiResult(None)),
    ("garbage", AgiResult("unknown")),
])
def test_agi_results(line, expected):
    assert parse_agi_result(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # line: (ok, code, result, hangup)
        ("510 Invalid or unknown command", (False, 510, "", False)),
        ("520-Invalid command syntax.  Proper usage follows:", (False, 520, "", False)),
        ("520 End of proper usage.", (False, 520, "", False)),
        ("100 result=0 Trying...", (True, 100, "", False)),
        ("200 result=-1", (False, 200, "-1", True)),
        ("", (False, 0, "", False)),
        ("garbage", (False, 0, "", False)),
    ],
)
def test_parse_other_replies(line, expected):
    reply = parse_reply(line)
    assert (reply.ok, reply.code, reply.result, reply.hangup) == expected
    assert reply.digit is None


@pytest.mark.parametrize(
    ("result", "digit"),
    [("48", "0"), ("49", "1"), ("57", "9"), ("35", "#"), ("42", "*"), ("65", "A"), ("0", None), ("1", None),
     ("120", None)],
)
def test_digit_is_the_key_whose_ascii_code_is_the_result(result, digit):
    assert parse_reply(f"200 result={result} endpos=100").digit == digit


def test_reply_with_data_in_parentheses():
    reply = parse_reply("200 result=1 (speech)")
    assert (reply.ok, reply.result, reply.data) == (True, "1", "speech")


# --- routes and commands ---------------------------------------------------------------------

@pytest.mark.parametrize(
    ("network_script", "route"),
    [("ivr", "ivr"), ("ivr?x=1", "ivr"), ("/ivr/", "ivr"), ("agi://127.0.0.1:4573/ivr", "ivr"),
     ("agi://127.0.0.1:4573/ivr?x=1&y=2", "ivr"), ("", ""), ("a/b", "a/b")],
)
def test_route_of(network_script, route):
    assert route_of(network_script) == route


def test_quote():
    assert quote("hotline/vi/menu") == '"hotline/vi/menu"'
    assert quote("") == '""'
    assert quote("a b") == '"a b"'
    assert quote('say "hi"') == '"say \\"hi\\""'
    assert quote("C:\\x") == '"C:\\\\x"'
    assert quote('\\"') == '"\\\\\\""'


@pytest.mark.parametrize("arg", ["a\nb", "a\rb", "\r\n", "menu\n"])
def test_quote_refuses_line_breaks(arg):
    with pytest.raises(ValueError, match="line break"):
        quote(arg)


def test_command_refuses_line_breaks_in_any_argument():
    with pytest.raises(ValueError, match="line break"):
        command("SET VARIABLE", "X", "1\nHANGUP")


def test_commands_match_what_the_bridge_sent_in_the_recordings():
    assert command("STREAM FILE", "hotline/vi/menu", "0123456789*#") == 'STREAM FILE "hotline/vi/menu" "0123456789*#"'
    assert command("STREAM FILE", "hotline/vi/connecting_general", "") == 'STREAM FILE "hotline/vi/connecting_general" ""'
    assert command("WAIT FOR DIGIT", 2000) == 'WAIT FOR DIGIT "2000"'
    assert command("SET VARIABLE", "HOTLINE_ROUTE", "queued") == 'SET VARIABLE "HOTLINE_ROUTE" "queued"'
    assert command("ANSWER") == "ANSWER"
    assert command("CHANNEL STATUS") == "CHANNEL STATUS"
    recorded = {line for name in AGI_RECORDINGS for line in agi_recording(name).bridge_lines}
    assert {
        'STREAM FILE "hotline/vi/menu" "0123456789*#"',
        'WAIT FOR DIGIT "2000"',
        'SET VARIABLE "HOTLINE_ROUTE" "queued"',
        'SET VARIABLE "HOTLINE_WAIT_PROMPT" "hotline/vi/connecting_general&hotline/en/connecting_general"',
        "CHANNEL STATUS",
    } <= recorded


# After a result=-1 the bridge asks CHANNEL STATUS: a dead channel answers 511 (then HANGUP),
# a live one whose prompt file is missing answers result=6 and the menu goes on.
@pytest.mark.parametrize(
    ("name", "failed_play", "status_reply", "then"),
    [
        ("agi_hangs_up_in_menu.agi", "200 result=-1 endpos=5760",
         "511 Command Not Permitted on a dead channel or intercept routine", ("ASTERISK", "HANGUP")),
        ("agi_missing_prompt.agi", "200 result=-1 endpos=0", "200 result=6",
         ("BRIDGE", 'STREAM FILE "hotline/en/menu" "0123456789*#"')),
    ],
)
def test_recorded_channel_status_after_a_failed_play(name, failed_play, status_reply, then):
    # the IVR's reads of the key log (GET VARIABLE HOTLINE_KEYS) aside
    pairs = list(agi_recording(name).exchange)
    exchange = [m for i, m in enumerate(pairs)
                if "HOTLINE_KEYS" not in m[1] and not (i and "HOTLINE_KEYS" in pairs[i - 1][1])]
    assert exchange[0] == ("BRIDGE", 'STREAM FILE "hotline/vi/menu" "0123456789*#"')
    assert exchange[1] == ("ASTERISK", failed_play)
    status_at = exchange.index(("BRIDGE", "CHANNEL STATUS"))
    hung_up = name == "agi_hangs_up_in_menu.agi"
    assert exchange[2:status_at] == ([("ASTERISK", "HANGUP")] if hung_up else [])
    assert exchange[status_at + 1] == ("ASTERISK", status_reply)
    assert exchange[status_at + 2] == then
    assert parse_reply(failed_play).result == "-1"
    status = parse_reply(status_reply)
    assert (status.ok and not status.hangup) is not hung_up

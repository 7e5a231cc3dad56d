"""FastAGI protocol as pure functions: the environment Asterisk sends, and the replies.

Socket I/O lives in ``agi_server``; everything here takes text and returns values, so it is
tested by replaying exchanges recorded from Asterisk 22.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_ENVIRONMENT_BYTES = 16 * 1024  # Asterisk sends ~1 KiB; more is not Asterisk
MAX_ENVIRONMENT_LINES = 200


class AgiEnvironmentError(ValueError):
    """The first bytes on the FastAGI port are not an AGI environment."""


@dataclass(frozen=True)
class AgiEnvironment:
    script: str  # the route, e.g. "ivr" for agi://host:port/ivr
    channel: str
    uniqueid: str
    callerid: str
    extension: str
    variables: dict[str, str]

    @property
    def caller_number(self) -> str:
        # Asterisk sends "unknown" when the caller withheld or had no number.
        return "" if self.callerid in ("", "unknown") else self.callerid


def parse_environment(raw: bytes) -> AgiEnvironment:
    """Parse the ``agi_*: value`` block that ends with an empty line."""
    if len(raw) > MAX_ENVIRONMENT_BYTES:
        raise AgiEnvironmentError(f"environment larger than {MAX_ENVIRONMENT_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AgiEnvironmentError(f"environment is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    lines = text.replace("\r\n", "\n").split("\n")
    if len(lines) > MAX_ENVIRONMENT_LINES:
        raise AgiEnvironmentError(f"environment has more than {MAX_ENVIRONMENT_LINES} lines")
    variables: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")
        if not sep or not key.startswith("agi_") or not key.replace("_", "").isalnum():
            raise AgiEnvironmentError(f"line {number} is not 'agi_name: value': {line[:60]!r}")
        variables[key] = value.strip()
    for required in ("agi_network_script", "agi_channel", "agi_uniqueid"):
        if not variables.get(required):
            raise AgiEnvironmentError(f"{required} missing")
    return AgiEnvironment(
        script=route_of(variables["agi_network_script"]),
        channel=variables["agi_channel"],
        uniqueid=variables["agi_uniqueid"],
        callerid=variables.get("agi_callerid", ""),
        extension=variables.get("agi_extension", ""),
        variables=variables,
    )


def route_of(network_script: str) -> str:
    """``ivr`` or ``ivr?x=1`` → ``ivr`` (Asterisk passes the path after the port)."""
    try:
        path = urlsplit(network_script).path if "://" in network_script else network_script.split("?", 1)[0]
    except ValueError as exc:  # urllib refuses e.g. "agi://[::1/ivr" (unbalanced IPv6 brackets)
        raise AgiEnvironmentError(f"agi_network_script is not a URL: {exc}") from None
    return path.strip("/")


@dataclass(frozen=True)
class AgiReply:
    ok: bool
    code: int
    result: str  # the result= value ("" when absent)
    data: str  # the (…) part, e.g. "timeout"
    hangup: bool
    line: str

    @property
    def digit(self) -> str | None:
        """For STREAM FILE / WAIT FOR DIGIT / GET OPTION: the key pressed, if any.
        result is the ASCII code of the key, 0 when none was pressed."""
        # ASCII digits, at most 3: "²".isdigit() is true but int() refuses it, and chr() a huge code.
        if not self.ok or not (self.result.isascii() and self.result.isdigit()) or len(self.result) > 3 or self.result == "0":
            return None
        ch = chr(int(self.result))
        return ch if ch in "0123456789*#ABCD" else None


_CODE = re.compile(r"(?P<code>^\d*)\s*(?P<response>.*)")
_KEY_VALUE = re.compile(r"(?P<key>\w+)=(?P<value>[^\s]+)\s*(?:\((?P<data>.*)\))*")


@dataclass(frozen=True)
class AgiResult:
    """What a reply line says: ``error`` is None, ``hangup`` (``HANGUP`` or ``(hangup)``),
    ``app_error`` (``result=-1``), ``invalid_command`` (510), ``usage`` (520) or ``unknown``."""

    error: str | None
    result: str = ""
    data: str = ""


def parse_agi_result(line: str) -> AgiResult:
    """One reply line (no line end) as its result; never raises. Ours rather than
    panoramisk's ``parse_agi_result``, whose results changed between its releases."""
    if line == "HANGUP":
        return AgiResult("hangup")
    match = _CODE.search(line)
    code_text, response = (match["code"], match["response"]) if match else ("", "")
    if not code_text:
        return AgiResult("unknown")
    code = int(code_text)
    if code == 100:
        return AgiResult(None)
    if code == 510:
        return AgiResult("invalid_command")
    if code == 520:
        return AgiResult("usage")
    if code != 200:
        return AgiResult("unknown")
    result, data = "", ""
    for key, value, extra in _KEY_VALUE.findall(response):
        if extra == "hangup":
            return AgiResult("hangup")
        if key == "result":
            if value == "-1":
                return AgiResult("app_error", "-1")
            result, data = value, extra
    return AgiResult(None, result, data)


def parse_reply(line: str) -> AgiReply:
    """One reply line from Asterisk: ``200 result=49 endpos=12000``, ``HANGUP``, ``510 …``."""
    line = line.rstrip("\r\n")
    # ASCII digits only: "²²²".isdigit() is true, but int() of it raises.
    if not line or not (line[:3].isascii() and line[:3].isdigit()) and line != "HANGUP":
        return AgiReply(False, 0, "", "", False, line)
    parsed = parse_agi_result(line)
    return AgiReply(
        ok=parsed.error is None,
        code=int(line[:3]) if line[:3].isdigit() else 0,
        result=parsed.result,
        data=parsed.data,
        hangup=parsed.error == "hangup" or parsed.result == "-1",
        line=line,
    )


def quote(arg: str) -> str:
    """Quote one AGI command argument (spaces, quotes and newlines cannot pass raw)."""
    if any(c in arg for c in "\r\n"):
        raise ValueError(f"AGI argument with a line break: {arg!r}")
    if "\0" in arg:  # Asterisk reads the command as a C string: it would end there
        raise ValueError(f"AGI argument with a NUL character: {arg!r}")
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command(verb: str, *args: str | int) -> str:
    """``command("STREAM FILE", "hotline/vi/menu", "1234")`` → one AGI command line."""
    return " ".join([verb, *(quote(str(a)) for a in args)])

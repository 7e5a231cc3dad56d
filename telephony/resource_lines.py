"""Asterisk's log lines that say it ran out of something, as shortages (pure).

Asterisk says a caller was refused or a desk's leg was never rung for lack of RTP ports,
channels or open files only in its log: no AMI event names the cause, and an incoming call
refused this way never reaches the dialplan at all. So the bridge follows the log
(telephony/resource_watch.py) and this module reads its lines.

A shortage is told in a *cause* line, sometimes followed, in the same Asterisk thread, by an
*effect* line that says who paid for it. Lines as Asterisk 22 writes them (captured on the lab
with a 10-port RTP range, maxcalls 3, maxfiles 180; tests/telephony/test_resource_lines.py):

* RTP ports: ``ERROR[16302] res_rtp_asterisk.c: Oh dear... we couldn't allocate a port for RTP
  instance '0x…'`` (one per channel refused), then ``res_pjsip_session.c:  citizens: Couldn't
  negotiate stream 0:audio-0:…`` (an incoming call: the caller) or ``PJSIP/desk-101-00000005:
  Couldn't add sdp streams for stream …`` (a desk's leg: the desk).
* Channels: ``WARNING[24770] pbx.c: Maximum call limit of 3 calls exceeded by
  'PJSIP/citizens-00000003'!`` (cause and effect in one: the caller's channel is hung up).
* Open files: any warning or error ending in ``Too many open files`` (EMFILE; ``… in system``:
  ENFILE), several lines per failure (``alertpipe.c``, ``res_timing_timerfd.c``), then
  ``chan_pjsip.c:  citizens: Failed to allocate new PJSIP channel on incoming SIP INVITE``.

Each RTP or call-limit line is one shortage; a run of open-file lines in one thread (no other
line of that thread between them) is one. The next effect line of
that thread says who it refused. An effect with no shortage before it in its thread is not
counted: a stream that cannot be negotiated for want of a common codec is no shortage.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field

from queueing.states import RefusedParty, Resource

#: ``[date] LEVEL[thread][C-call]? file.c: message``; the date's format is logger.conf's own.
_LINE = re.compile(r"^\[[^\]]*\]\s+(?P<level>WARNING|ERROR)\[(?P<thread>\d+)\](?:\[[^\]]*\])?\s+(?P<text>.*)$")
_CAUSES = (
    (re.compile(r"couldn't allocate a port for RTP", re.I), Resource.RTP_PORTS),
    (re.compile(r"Maximum call limit of \d+ calls exceeded", re.I), Resource.CHANNELS),
    (re.compile(r"Too many open files", re.I), Resource.FILE_DESCRIPTORS),
)
#: ``… exceeded by 'PJSIP/citizens-00000003'``: the refused channel, so the caller.
_CALL_LIMIT_CHANNEL = re.compile(r"exceeded by '(?P<channel>[^']*)'")
#: A desk's outgoing leg could not get its media: ``PJSIP/<endpoint>-<n>: Couldn't add sdp streams``.
_DESK_LEG = re.compile(r"\bPJSIP/(?P<endpoint>[^\s:]+)-[0-9a-f]+: Couldn't add sdp streams")
#: An incoming call refused: ``<endpoint>: Couldn't negotiate stream`` (no channel name yet)
#: or ``Failed to allocate new PJSIP channel on incoming SIP INVITE``.
_CALLER = re.compile(r"(?:^|\s)(?!PJSIP/)[^\s:]+: Couldn't negotiate stream|"
                     r"Failed to allocate new PJSIP channel on incoming")
#: Threads remembered between lines: Asterisk's SIP work runs on a handful; this only bounds a flood.
MAX_THREADS = 256
#: The sample line kept for the audit trail is cut to this many characters.
MAX_SAMPLE = 300


@dataclass(frozen=True)
class LogLine:
    """What one line says: a shortage of ``cause``, and/or who was refused (``party``)."""

    thread: str
    cause: Resource | None = None
    party: RefusedParty | None = None
    desk: str = ""  # the desk's endpoint when party is DESK


def read_line(line: str) -> LogLine | None:
    """One warning or error of Asterisk's log (None: any other line); a line that says nothing
    of a shortage or a refusal still names its thread."""
    m = _LINE.match(line.rstrip("\r\n"))
    if m is None:
        return None
    text, thread = m.group("text"), m.group("thread")
    cause = next((resource for pattern, resource in _CAUSES if pattern.search(text)), None)
    if cause is Resource.CHANNELS:
        channel = _CALL_LIMIT_CHANNEL.search(text)
        return LogLine(thread, cause, RefusedParty.CALLER, channel.group("channel") if channel else "")
    if cause is not None:
        return LogLine(thread, cause)
    if desk := _DESK_LEG.search(text):
        return LogLine(thread, party=RefusedParty.DESK, desk=desk.group("endpoint"))
    if _CALLER.search(text):
        return LogLine(thread, party=RefusedParty.CALLER)
    return LogLine(thread)


@dataclass
class Tally:
    """One resource's shortages in a stretch of the log."""

    shortages: int = 0
    callers_refused: int = 0
    desks_unrung: int = 0
    desks: list[str] = field(default_factory=list)  # each desk left unrung, once, in order
    line: str = ""  # the first cause line, for the audit trail

    def to_json(self) -> dict[str, object]:
        return {"shortages": self.shortages, "callers_refused": self.callers_refused,
                "desks_unrung": self.desks_unrung, "desks": self.desks, "line": self.line}


@dataclass
class ShortageReader:
    """Reads the log's lines in order and tallies the shortages per resource.

    It keeps, per Asterisk thread, the resource of the last shortage not yet matched with an
    effect, and whether that thread's last line was one of its cause lines (a run)."""

    _open: OrderedDict[str, tuple[Resource, bool]] = field(default_factory=OrderedDict)

    def read(self, lines: list[str], into: dict[Resource, Tally] | None = None) -> dict[Resource, Tally]:
        tallies = {} if into is None else into
        for raw in lines:
            seen = read_line(raw)
            if seen is None:
                continue
            if seen.cause is not None:
                self._cause(seen, raw, tallies)
            elif seen.party is not None:
                self._effect(seen, tallies)
            elif (opened := self._open.get(seen.thread)) is not None:
                self._open[seen.thread] = (opened[0], False)  # another line: the run has ended
        return tallies

    def forget(self) -> None:
        """The log starts again elsewhere (rotated, or another bridge read this part)."""
        self._open.clear()

    def _cause(self, seen: LogLine, raw: str, tallies: dict[Resource, Tally]) -> None:
        assert seen.cause is not None
        before = self._open.get(seen.thread)
        if seen.cause is Resource.FILE_DESCRIPTORS and before == (seen.cause, True):
            return  # the same failure told again (EMFILE: an alert pipe, then a timer)
        tally = tallies.setdefault(seen.cause, Tally())
        tally.shortages += 1
        tally.line = tally.line or raw.strip()[:MAX_SAMPLE]
        if seen.party is not None:  # the call limit: refused and said in one line
            tally.callers_refused += 1
            self._open.pop(seen.thread, None)
            return
        self._open[seen.thread] = (seen.cause, True)
        self._open.move_to_end(seen.thread)
        while len(self._open) > MAX_THREADS:
            self._open.popitem(last=False)

    def _effect(self, seen: LogLine, tallies: dict[Resource, Tally]) -> None:
        before = self._open.pop(seen.thread, None)
        if before is None:
            return  # no shortage before it in this thread: another reason (a codec, a dead phone)
        tally = tallies.setdefault(before[0], Tally())
        if seen.party is RefusedParty.DESK:
            tally.desks_unrung += 1
            if seen.desk not in tally.desks:
                tally.desks.append(seen.desk)
        else:
            tally.callers_refused += 1


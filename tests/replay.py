"""Recorded Asterisk 22 exchanges (tests/recordings/) and a fake Asterisk that replays them.

A FastAGI recording (``agi_*.agi``) has one message a line: ``ASTERISK <text>`` was sent by
Asterisk, ``BRIDGE   <text>`` by our bridge; the environment ends with an empty
``ASTERISK `` line. ``ami_call_path.json`` holds AMI messages and action replies.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

RECORDINGS = Path(__file__).parent / "recordings"
E2E_CITY = Path(__file__).parent / "e2e" / "city.toml"
AGI_RECORDINGS = sorted(p.name for p in RECORDINGS.glob("agi_*.agi"))

ASTERISK = "ASTERISK"
BRIDGE = "BRIDGE"
PREFIX_LEN = len("ASTERISK ")  # "BRIDGE   " is padded to the same width


@dataclass(frozen=True)
class AgiRecording:
    name: str
    environment: bytes  # exactly what Asterisk sent first, blank line included
    exchange: tuple[tuple[str, str], ...]  # (ASTERISK | BRIDGE, line) after the environment

    @property
    def bridge_lines(self) -> list[str]:
        return [line for who, line in self.exchange if who == BRIDGE]

    @property
    def asterisk_lines(self) -> list[str]:
        return [line for who, line in self.exchange if who == ASTERISK]


@cache
def agi_recording(name: str) -> AgiRecording:
    messages: list[tuple[str, str]] = []
    for raw in (RECORDINGS / name).read_text(encoding="utf-8").splitlines():
        if raw.startswith("#") or not raw.strip():
            continue
        who = raw[:PREFIX_LEN].strip()
        if who not in (ASTERISK, BRIDGE):
            raise ValueError(f"{name}: unexpected line {raw!r}")
        messages.append((who, raw[PREFIX_LEN:]))
    end = messages.index((ASTERISK, ""))  # the blank line that ends the environment
    assert all(who == ASTERISK for who, _ in messages[:end]), f"{name}: bridge spoke during the environment"
    environment = "".join(line + "\n" for _, line in messages[: end + 1]).encode("utf-8")
    return AgiRecording(name, environment, tuple(messages[end + 1 :]))


def environment_lines(name: str) -> list[str]:
    return agi_recording(name).environment.decode().splitlines()


@cache
def ami_messages() -> list[dict]:
    return json.loads((RECORDINGS / "ami_call_path.json").read_text(encoding="utf-8"))


def ami_user_events() -> list[dict[str, str]]:
    return [m for m in ami_messages() if m.get("Event") == "UserEvent"]


def ami_reply(name: str):
    """A recorded action reply, e.g. ``ami_reply("Redirect_missing")``."""
    for message in ami_messages():
        if f"_reply_{name}" in message:
            return message[f"_reply_{name}"]
    raise KeyError(name)


def ami_error_text(action: str, reply_name: str) -> str:
    """The AmiError text telephony.ami.AmiLink.action makes of a recorded error reply."""
    return f"AMI {action}: {ami_reply(reply_name)['Message']}"


# --- a fake Asterisk on the FastAGI port ------------------------------------------------------

STEP_TIMEOUT_S = 5.0


class ReplayMismatch(AssertionError):
    pass


async def read_line(reader: asyncio.StreamReader, timeout: float = STEP_TIMEOUT_S) -> str:
    """One line from the bridge without its newline; "" at EOF."""
    line = await asyncio.wait_for(reader.readline(), timeout)
    return line.decode("utf-8").rstrip("\n")


async def expect_closed(reader: asyncio.StreamReader, timeout: float = STEP_TIMEOUT_S) -> bytes:
    """Wait for the bridge to close the connection; returns whatever it sent meanwhile."""
    try:
        return await asyncio.wait_for(reader.read(), timeout)
    except ConnectionResetError:
        # Closed with our late lines (Asterisk's HANGUP) unread: the kernel resets instead.
        return b""


def send_quietly(writer: asyncio.StreamWriter, data: bytes) -> None:
    try:
        writer.write(data)
    except (ConnectionError, OSError):
        pass  # the bridge already closed: Asterisk's late HANGUP lines go nowhere


async def replay(port: int, recording: AgiRecording, *, stop_before: str | None = None) -> list[str]:
    """Be Asterisk for one recorded session: send the environment, then for each recorded
    BRIDGE line check the bridge sent exactly that and answer with the recorded ASTERISK
    line(s) that followed. Ends by checking the bridge closed the session and sent nothing
    more. Returns the commands received.

    ``stop_before``: a recorded BRIDGE line the bridge must *not* send; the replay stops
    there and expects the bridge to close instead."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received: list[str] = []
    try:
        writer.write(recording.environment)
        await writer.drain()
        for who, line in recording.exchange:
            if who == BRIDGE:
                if line == stop_before:
                    break
                got = await read_line(reader)
                if got != line:
                    raise ReplayMismatch(
                        f"{recording.name}: after {received[-1:] or ['the environment']} the bridge sent "
                        f"{got!r}, the recording has {line!r}")
                received.append(got)
            else:
                send_quietly(writer, (line + "\n").encode("utf-8"))
                try:
                    await writer.drain()
                except (ConnectionError, OSError):
                    pass
        rest = await expect_closed(reader)
        if rest:
            raise ReplayMismatch(f"{recording.name}: the bridge sent more than the recording: {rest!r}")
        return received
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass

"""Carrying out what the API asks of a call (api/services/call_actions.py): the ``call_commands``
stream, read by the bridges' consumer group, so each command is done by one bridge only.

* ``move_to_wait`` (a blind transfer, queueing/lua/transfer_start.lua): AMI Redirect of the
  caller's channel out of its desk's bridge into ``hotline-wait`` (Asterisk hangs up the desk's
  leg), then ``transfer_step`` puts the caller at the head of the target agency's queue and the
  desk to wrap-up; the dispatcher offers the caller to a desk of that agency as to any caller.
  A Redirect that fails leaves the caller with the desk (``cancelled``), one that finds the
  channel gone ends the transfer with the call (``ended``): never a caller nowhere.
* ``hangup`` (queueing/lua/call_command.lua): AMI Hangup of the caller's channel; its hang-up
  handler then ends the call as for any answered call (telephony/hangups.py).

:func:`plan` (what to send) and :func:`transfer_step_for` (what the outcome does to the
transfer) are pure; :class:`CallControl` reads the stream, sends, steps and acks. An entry is
acked only after it was acted on: a bridge that dies meanwhile finds it in its pending entries
at its next start (the consumer is named by host and AGI port, stable across restarts), and an
entry left pending by a bridge that never came back is claimed by another after
``CLAIM_IDLE_MS``. Doing a command twice is harmless: the second finds the transfer no longer
``moving`` or the call no longer on its desk, and sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError
from structlog.contextvars import bound_contextvars

from queueing.errors import RoutingRefused
from queueing.routing import AsyncRouting, wall_clock_ms
from queueing.states import FINAL_CALL_STATES, CallState, TransferKind, TransferState
from queueing.transfers import RequeueAtHead, Transfer, TransferEvent, WrapUpInitiator, decide
from telephony.ami import AmiError, ChannelGone
from telephony.hangups import Hangups

log = logging.getLogger("hotline.bridge.call_control")

GROUP = "bridges"
WAIT_CONTEXT, WAIT_EXTEN = "hotline-wait", "s"  # asterisk_conf/extensions.conf.tmpl
HANGUP_CAUSE = "16"  # normal clearing: the call-taker ended the call
READ_BLOCK_MS = 1000
READ_COUNT = 10
CLAIM_IDLE_MS = 30_000  # far past an action's deadline: the consumer that read it is gone
CLAIM_EVERY_S = 10.0
#: A hang-up asked for this long ago is not carried out: the call-taker has long since moved on
#: (a group made afresh over an old stream re-reads it from the start).
STALE_HANGUP_MS = 300_000
RETRY_S = 1.0


class Action(StrEnum):
    MOVE_TO_WAIT = "move_to_wait"
    HANGUP = "hangup"


@dataclass(frozen=True)
class Command:
    """One ``call_commands`` entry."""

    id: str
    action: str
    call_id: str
    channel: str = ""
    desk_id: str = ""
    ms: int = 0
    label: str = ""  # move_to_wait: what the target agency's desk phones show (HOTLINE_LABEL)


def parse_command(entry_id: str, fields: Mapping[str, str]) -> Command:
    try:
        ms = int(fields.get("ms") or 0)
    except ValueError:
        ms = 0
    return Command(entry_id, fields.get("action", ""), fields.get("call_id", ""), fields.get("channel", ""),
                   fields.get("desk_id", ""), ms, fields.get("label", ""))


@dataclass(frozen=True)
class Plan:
    """What to do for one command: AMI ``actions`` in order; ``transfer``: their outcome steps
    the call's transfer (:func:`transfer_step_for`); ``event``: with no action, the transfer
    step to apply now; ``skip``: why nothing is done (logged)."""

    actions: tuple[dict[str, str], ...] = ()
    transfer: bool = False
    event: TransferEvent | None = None
    skip: str = ""


def transfer_of(record: Mapping[str, str]) -> Transfer:
    """The state machine's view of a ``transfer:{call_id}`` record (empty: none yet)."""
    if not record.get("transfer_state"):
        return Transfer()
    kind = record.get("kind", "")
    return Transfer(TransferState(record["transfer_state"]), TransferKind(kind) if kind else None,
                    record.get("target_agency", ""), record.get("own_queue", ""))


def _gone(call: Mapping[str, str]) -> bool:
    return call.get("state", "") in FINAL_CALL_STATES


def plan(command: Command, call: Mapping[str, str], transfer: Mapping[str, str], now_ms: int) -> Plan:
    """What the bridge sends for ``command``, given the call's record and its transfer record now."""
    if not command.call_id:
        return Plan(skip=f"command {command.id} names no call")
    channel = call.get("channel") or command.channel
    if command.action == Action.MOVE_TO_WAIT:
        state = transfer.get("transfer_state", "")
        if state != TransferState.MOVING:
            return Plan(skip=f"the transfer of call {command.call_id} is {state or 'not started'}, not moving")
        if not call:
            return Plan(skip=f"unknown call {command.call_id}")
        if _gone(call):
            return Plan(event=TransferEvent.CALLER_HUNG_UP, skip=f"call {command.call_id} is {call.get('state')}")
        if not channel:
            return Plan(event=TransferEvent.AMI_FAILED, skip=f"call {command.call_id} has no channel to move")
        # The label first: once moved, the caller may be offered to a desk of the target at once.
        label = (set_label(channel, command.label),) if command.label else ()
        return Plan((*label, redirect(channel)), transfer=True)
    if command.action == Action.HANGUP:
        if not call:
            return Plan(skip=f"unknown call {command.call_id}")
        if command.ms and now_ms - command.ms > STALE_HANGUP_MS:
            return Plan(skip=f"hang-up of call {command.call_id} asked {(now_ms - command.ms) // 1000} s ago: stale")
        if call.get("state") != CallState.ON_CALL or (command.desk_id and call.get("desk") != command.desk_id):
            return Plan(skip=f"call {command.call_id} is {call.get('state')} at {call.get('desk') or 'no desk'}, "
                             f"no longer on a call at desk {command.desk_id}")
        if not channel:
            return Plan(skip=f"call {command.call_id} has no channel to hang up")
        return Plan((hangup(channel),))
    return Plan(skip=f"unknown call command {command.action!r}")


def redirect(channel: str) -> dict[str, str]:
    return {"Action": "Redirect", "Channel": channel, "Context": WAIT_CONTEXT, "Exten": WAIT_EXTEN, "Priority": "1"}


def set_label(channel: str, label: str) -> dict[str, str]:
    """What the desk phone shows as the caller's name (hotline-deliver: CALLERID(name))."""
    return {"Action": "Setvar", "Channel": channel, "Variable": "HOTLINE_LABEL", "Value": label}


def hangup(channel: str) -> dict[str, str]:
    return {"Action": "Hangup", "Channel": channel, "Cause": HANGUP_CAUSE}


def outcome_event(error: AmiError | None) -> TransferEvent:
    """The transfer event an AMI outcome is: landed, the caller gone, or a failure."""
    if error is None:
        return TransferEvent.CALLER_MOVED
    if isinstance(error, ChannelGone):
        return TransferEvent.CALLER_HUNG_UP
    return TransferEvent.AMI_FAILED


@dataclass(frozen=True)
class StepArgs:
    """The arguments of ``routing.transfer_step`` for a decided step."""

    expected: str
    state: str
    requeue_queue: str = ""
    wrap_up: bool = False
    reason: str = ""


def transfer_step_for(record: Mapping[str, str], event: TransferEvent, reason: str = "") -> StepArgs | None:
    """The transfer_step that carries out ``event`` (queueing/transfers.py decides); None when
    the state machine refuses it in the transfer's current state."""
    transfer = transfer_of(record)
    step = decide(transfer, event)
    if step.refused:
        return None
    requeue = next((a.queue for a in step.actions if isinstance(a, RequeueAtHead)), "")
    wrap_up = any(isinstance(a, WrapUpInitiator) for a in step.actions)
    return StepArgs(transfer.state.value, step.transfer.state.value, requeue, wrap_up, reason)


# --- the consumer --------------------------------------------------------------------------


class Ami(Protocol):
    ready: asyncio.Event

    async def action(self, fields: dict[str, str], timeout: float = ...) -> Any: ...


def consumer_name(agi_port: int) -> str:
    """Stable across a bridge's restarts (its pending entries are its own again), distinct for
    two bridges on one host (they cannot share an AGI port)."""
    return f"{socket.gethostname()}:{agi_port}"


def _entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """XREADGROUP's reply ``[[stream, [(id, fields), …]]]`` as (id, fields); an entry deleted
    while pending has no fields."""
    return [(str(entry_id), dict(fields or {})) for _, entries in reply or [] for entry_id, fields in entries]


@dataclass
class CallControl:
    redis: aioredis.Redis
    routing: AsyncRouting
    ami: Ami
    hangups: Hangups
    wrap_up_ms: int
    consumer: str
    group: str = GROUP
    done: list[str] = field(default_factory=list)  # ids acted on, newest last (tests, logs)

    @property
    def stream(self) -> str:
        return self.routing.keys.call_commands()

    async def ensure_group(self) -> None:
        try:
            # From the stream's start: a command written before the group existed is not lost.
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self) -> None:
        pending = True  # at start, and after any failure: this consumer's unacked entries first
        last_claim = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if not self.ami.ready.is_set():
                    await asyncio.sleep(RETRY_S / 4)
                    continue
                if pending:
                    await self.ensure_group()
                    while await self.read("0"):
                        pass
                    pending = False
                if loop.time() - last_claim > CLAIM_EVERY_S:
                    last_claim = loop.time()
                    await self.claim_abandoned()
                await self.read(">", block_ms=READ_BLOCK_MS)
            except asyncio.CancelledError:
                raise
            except ResponseError as exc:
                # NOGROUP: the stream or the group was deleted (a flushed Redis): made again.
                log.warning("call commands: %s; reading again", exc)
                pending = True
                await asyncio.sleep(RETRY_S / 4)
            except RedisError as exc:
                log.error("call commands paused: Redis unreachable (%s)", exc)
                pending = True
                await asyncio.sleep(RETRY_S)
            except Exception:
                log.exception("call commands failed; retrying")
                pending = True
                await asyncio.sleep(RETRY_S)

    async def read(self, start: str, block_ms: int | None = None) -> int:
        """Act on the entries read from ``start`` ("0": this consumer's pending ones, ">": new
        ones); returns how many were read."""
        reply = await self.redis.xreadgroup(self.group, self.consumer, {self.stream: start},
                                            count=READ_COUNT, block=block_ms)
        entries = _entries(reply)
        for entry_id, fields in entries:
            await self.handle(entry_id, fields)
        return len(entries)

    async def claim_abandoned(self) -> None:
        """Entries another consumer read and never acked (its bridge died) become ours."""
        reply = await self.redis.xautoclaim(self.stream, self.group, self.consumer, CLAIM_IDLE_MS,
                                            start_id="0-0", count=READ_COUNT)
        claimed = reply[1] if reply and len(reply) > 1 else []
        for entry_id, fields in claimed:
            log.warning("call command %s was left unacked by another bridge: done here", entry_id)
            await self.handle(str(entry_id), dict(fields or {}))

    async def handle(self, entry_id: str, fields: Mapping[str, str]) -> None:
        """Act on one entry, then ack it. A Redis error propagates unacked (read again later)."""
        command = parse_command(entry_id, fields)
        with bound_contextvars(call_id=command.call_id):
            if fields:
                call = await self.routing.call(command.call_id) if command.call_id else {}
                transfer = await self.routing.transfer(command.call_id) if command.call_id else {}
                try:
                    await self.act(command, plan(command, call, transfer, wall_clock_ms()))
                except RedisError:
                    raise
                except RoutingRefused as exc:  # the transfer moved on meanwhile (another step won)
                    log.warning("call %s: %s %s: %s", command.call_id, command.action, command.id, exc)
                except Exception:
                    # Not retried: the same entry would fail the same way, for ever.
                    log.exception("call command %s %s failed; dropped", command.action, command.id)
            await self.redis.xack(self.stream, self.group, entry_id)
            self.done.append(entry_id)

    async def act(self, command: Command, todo: Plan) -> None:
        if todo.skip:
            log.info("call command %s %s: %s", command.action, command.id, todo.skip)
        error: AmiError | None = None
        for fields in todo.actions:
            log.info("call %s: %s %s", command.call_id, fields["Action"], fields.get("Channel"))
            try:
                await self.ami.action(fields)
            except AmiError as exc:
                error = exc
                break
        if isinstance(error, ChannelGone):
            log.info("call %s: the caller had left (%s)", command.call_id, error)
            await self.hangups.record(command.call_id)
        elif error is not None:
            log.error("call %s: %s failed: %s", command.call_id, command.action, error)
        event = outcome_event(error) if todo.transfer else todo.event
        if event is not None:
            reason = str(error) if error is not None else todo.skip
            await self.step(command.call_id, event, reason)

    async def step(self, call_id: str, event: TransferEvent, reason: str) -> None:
        record = await self.routing.transfer(call_id)
        args = transfer_step_for(record, event, reason)
        if args is None:
            log.warning("call %s: the transfer is %s; %s changes nothing", call_id,
                        record.get("transfer_state") or "gone", event.value)
            return
        after = await self.routing.transfer_step(call_id, args.expected, args.state, requeue_queue=args.requeue_queue,
                                                 wrap_up_ms=self.wrap_up_ms if args.wrap_up else None,
                                                 reason=args.reason)
        log.info("call %s: transfer %s → %s (%s)", call_id, args.expected, after.get("transfer_state"),
                 args.requeue_queue or args.reason or event.value)

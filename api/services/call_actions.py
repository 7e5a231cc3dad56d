"""Actions on a call from the desk on it: a blind or consultative transfer to another agency, hold / resume, hanging up.

The API never speaks to Asterisk: a Lua script records the change and writes a command on the
``call_commands`` stream, which one bridge carries out over AMI (telephony/call_control.py).
A transfer's steps are decided by the pure state machine of queueing/transfers.py.
"""

from __future__ import annotations

from api.errors import InvalidInput
from config.settings import CitySettings
from queueing.errors import RoutingRefused
from queueing.routing import Routing
from queueing.states import TransferKind, TransferState
from queueing.transfers import Transfer, TransferEvent, decide


def transfer_of(record: dict[str, str]) -> Transfer:
    """The state machine's view of a ``transfer:{call_id}`` record (empty: none yet)."""
    if not record:
        return Transfer()
    kind = record.get("kind", "")
    return Transfer(TransferState(record["transfer_state"]), TransferKind(kind) if kind else None,
                    record.get("target_agency", ""), record.get("own_queue", ""))


class CallActionService:
    def __init__(self, city: CitySettings, routing: Routing) -> None:
        self.city = city
        self.routing = routing
        self.agencies = {a.id: a for a in city.agencies}

    def transfer(self, call_id: str, desk_id: str, agency: str, mode: str) -> dict[str, str]:
        """Starts a transfer; refused (409) when the call is not on a call at ``desk_id``, a transfer
        of it is already under way, or no desk of ``agency`` is logged in."""
        if agency not in self.agencies:
            raise InvalidInput(f"agency {agency!r} does not exist: transfer to one of {', '.join(self.agencies)}")
        kind = TransferKind.CONSULT if mode == TransferKind.CONSULT else TransferKind.BLIND
        return self.routing.transfer_start(call_id, desk_id, agency, kind, label=self.agencies[agency].label)

    def state(self, call_id: str) -> dict[str, str]:
        """The call's latest transfer; ``transfer_state`` ready when it never had one."""
        return self.routing.transfer(call_id) or {"call_id": call_id, "transfer_state": TransferState.READY}

    def consult_step(self, call_id: str, event: TransferEvent, desk_id: str = "", by: str = "") -> dict[str, str]:
        """complete, conference or cancel a consultative transfer (the bridge carries it out:
        transfer_consult.lua); refused unless the state machine allows it."""
        step = decide(transfer_of(self.routing.transfer(call_id)), event)
        if step.refused:
            raise RoutingRefused(f"call {call_id}: {step.refused}")
        return self.routing.transfer_consult(call_id, desk_id, event.value, by=by)

    def hang_up(self, call_id: str, desk_id: str, by: str) -> dict[str, str]:
        return self.routing.call_command(call_id, desk_id, "hangup", by=by)

    def hold(self, call_id: str, desk_id: str, by: str) -> dict[str, str]:
        """The caller to hold music, the desk waits (queueing/lua/call_hold.lua); 409 unless on a call
        at ``desk_id``, not held, with no transfer under way."""
        return self.routing.call_hold(call_id, desk_id, "hold", by=by)

    def resume(self, call_id: str, desk_id: str, by: str) -> dict[str, str]:
        """The held caller and the desk together again; 409 unless held at ``desk_id``."""
        return self.routing.call_hold(call_id, desk_id, "resume", by=by)

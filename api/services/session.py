"""The console's session: sign in (and bind a call-taker's desk), who is signed in, sign out."""

from __future__ import annotations

from api.errors import SignInRefused
from api.schemas import SessionView, SignIn
from api.services.desks import DeskService
from config.settings import CitySettings
from queueing.accounts import Accounts, ConsoleSession
from queueing.errors import RoutingRefused
from queueing.states import DeskState, UserRole

WRONG_CREDENTIALS = "wrong user name or password"  # one message: it never tells which names exist


class SessionService:
    def __init__(self, city: CitySettings, accounts: Accounts, desks: DeskService) -> None:
        self.city = city
        self.accounts = accounts
        self.desks = desks
        self.idle_s = city.console.session_idle_min * 60

    def view(self, session: ConsoleSession) -> SessionView:
        return SessionView(user=session.user, role=session.role.value, agency=session.agency, desk=session.desk,
                           csrf=session.csrf, idle_expiry_s=self.idle_s,
                           pause_reasons=list(self.city.console.pause_reasons), languages=list(self.city.languages))

    def sign_in(self, body: SignIn) -> tuple[str, SessionView]:
        """The cookie's token and the session; SignInRefused (400, 401, 403, 404) or RoutingRefused
        (409: another user's session holds the desk)."""
        user = self.accounts.authenticate(body.user, body.password)
        if user is None:
            raise SignInRefused(401, WRONG_CREDENTIALS)
        desk = body.desk or (user.desk if user.role == UserRole.CALL_TAKER else None)
        if desk is not None:
            if user.role != UserRole.CALL_TAKER:
                raise SignInRefused(400, f"only a call_taker signs in at a desk; {user.name} is a {user.role}")
            if not self.desks.known(desk):
                raise SignInRefused(404, f"unknown desk {desk!r}")
            agency = self.desks.agency_of[desk]
            if agency != user.agency:
                raise SignInRefused(403, f"{desk} is a {agency} desk: a {user.agency} call-taker signs in at "
                                         f"{user.agency} desks only")
            if user.desk is not None and desk != user.desk:
                raise SignInRefused(403, f"{user.name} works at desk {user.desk}, not {desk}")
        token, session = self.accounts.open_session(user.name, desk, self.idle_s)
        if desk is not None:
            self._log_in(desk)
        return token, self.view(session)

    def _log_in(self, desk_id: str) -> None:
        # A desk already logged in (its phone's *73, the CLI) keeps its state: the person is there.
        if self.desks.routing.desk(desk_id).get("state", DeskState.OFFLINE) != DeskState.OFFLINE:
            return
        try:
            self.desks.change(desk_id, "login")
        except RoutingRefused:
            pass  # logged in from the phone meanwhile: what signing in wanted

    def sign_out(self, session: ConsoleSession) -> None:
        """Logs the bound desk out (RoutingRefused, 409, while it rings or is on a call: the session
        stays), then ends the session."""
        if session.desk is not None and self.accounts.desk_holder(session.desk).get("session_id") == session.session_id:
            self.desks.change(session.desk, DeskState.OFFLINE)
        self.accounts.close_session(session.session_id, "signed out")

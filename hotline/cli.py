"""The ``hotline`` command: run the bridge, set desks ready, look at calls, run the lab."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import redis
import typer

from config.settings import CitySettings, RuntimeSettings, SettingsError, load_settings
from ivr.paths import CallerPaths, caller_paths, check_built_prompts, measure_prompts, target_s
from queueing.accounts import AccountError, Accounts, check_password, check_user
from queueing.desks import register_and_set_state
from queueing.errors import RoutingRefused
from queueing.redis_connect import redis_client
from queueing.routing import Routing

app = typer.Typer(help="hotline: one emergency number, every agency's desk.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
desk_app = typer.Typer(help="A call-taker's desk: ready, paused, offline.", no_args_is_help=True)
call_app = typer.Typer(help="Call records.", no_args_is_help=True)
lab_app = typer.Typer(help="The lab: real Asterisk, Redis, bridge and SIP phones on this machine.", no_args_is_help=True)
app.add_typer(desk_app, name="desk")
app.add_typer(call_app, name="call")
app.add_typer(lab_app, name="lab")
api_token_app = typer.Typer(help="The API's bearer tokens (the tokens file keeps only their hashes).",
                            no_args_is_help=True)
app.add_typer(api_token_app, name="api-token")
user_app = typer.Typer(help="Console users: who signs in to the browser console, their role, agency and desk.",
                       no_args_is_help=True)
app.add_typer(user_app, name="user")
ivr_app = typer.Typer(help="The caller's menu: how long each path takes before a person.", no_args_is_help=True)
app.add_typer(ivr_app, name="ivr")


def _fail(message: str) -> NoReturn:
    typer.echo(f"hotline: {message}", err=True)
    raise typer.Exit(2)


def _runtime() -> RuntimeSettings:
    try:
        return RuntimeSettings.from_env()
    except SettingsError as exc:
        _fail(str(exc))


def _city(runtime: RuntimeSettings) -> CitySettings:
    try:
        return load_settings(runtime.city_file)
    except SettingsError as exc:
        _fail(str(exc))


@contextmanager
def _redis_work(runtime: RuntimeSettings) -> Iterator[None]:
    """A refusal or an unreachable Redis ends the command with a message naming it (exit 2)."""
    try:
        yield
    except RoutingRefused as exc:
        _fail(str(exc))
    except redis.RedisError as exc:
        _fail(f"Redis at {runtime.redis_url} unreachable: {exc}")


def _routing(runtime: RuntimeSettings) -> Routing:
    return Routing(redis_client(runtime.redis_url, decode_responses=True, socket_timeout=5))


def _logging() -> None:
    from config.logging import setup_logging

    setup_logging(os.environ.get("HOTLINE_LOG_LEVEL", "INFO"))


@app.command()
def bridge() -> None:
    """Run the bridge: FastAGI (IVR), AMI (delivery, events) and the dispatcher."""
    from telephony.bridge import Bridge

    _logging()
    runtime = _runtime()
    city = _city(runtime)
    try:
        runtime.require_ami_secret()
    except SettingsError as exc:
        _fail(str(exc))
    asyncio.run(Bridge(city, runtime).run_forever())


@app.command()
def worker(burst: bool = typer.Option(False, help="exit when the queue is empty (tests)")) -> None:
    """Run an rq worker for the background jobs (callback tasks, auto-dial, recording checks and retention), with its scheduler."""
    from rq import Worker

    from api.cad_push import missing_secrets, sweep_cad_pushes
    from hotline.worker import HotlineJob
    from queueing.jobs import QUEUE_NAME, job_queue, sweep_callbacks
    from queueing.recordings import expire_recordings

    _logging()
    runtime = _runtime()
    city = _city(runtime)  # a broken city file is reported now, not in the first job
    for problem in missing_secrets(city):  # CAD pushes would fail; every other job still runs
        typer.echo(f"hotline worker: {problem}", err=True)
    connection = redis_client(runtime.redis_url)
    with _redis_work(runtime):
        # CAD pushes still waiting whose job is gone get one again; their documents are in Redis.
        job_queue(connection).enqueue(sweep_cad_pushes, description="sweep CAD pushes without a job")
        # Abandoned calls whose job never ran (rq was down) get their task now.
        job_queue(connection).enqueue(sweep_callbacks, description="sweep abandoned calls without a callback task")
        # Retention: recordings past [recording] retention_days go now, then every hour.
        job_queue(connection).enqueue(expire_recordings, description="delete recordings past retention")
    # HotlineJob: jobs queued under a function's old path still run.
    Worker([QUEUE_NAME], connection=connection, job_class=HotlineJob).work(burst=burst, with_scheduler=True)


def _set_desk(desk_id: str, state: str, reason: str = "") -> None:
    runtime = _runtime()
    city = _city(runtime)
    if desk_id not in {d.id for d in city.desks}:
        _fail(f"unknown desk {desk_id!r}; desks in {runtime.city_file}: {', '.join(d.id for d in city.desks)}")
    desk = next(d for d in city.desks if d.id == desk_id)
    with _redis_work(runtime):
        change = register_and_set_state(_routing(runtime), desk, state, reason=reason)
    typer.echo(f"{change.desk_id} ({change.agency}): {change.previous or 'new'} → {change.state}")


@desk_app.command("ready")
def desk_ready(desk_id: str) -> None:
    """The call-taker is ready for the next caller."""
    _set_desk(desk_id, "ready")


@desk_app.command("pause")
def desk_pause(desk_id: str, reason: str = typer.Option("break", help="why, shown to supervisors")) -> None:
    """Not ready: no caller is offered to this desk."""
    _set_desk(desk_id, "paused", reason)


@desk_app.command("login")
def desk_login(desk_id: str) -> None:
    """Start of a shift: logged in, not ready yet."""
    _set_desk(desk_id, "login")


@desk_app.command("logout")
def desk_logout(desk_id: str) -> None:
    """End of a shift: no caller is offered to this desk."""
    _set_desk(desk_id, "offline")


@desk_app.command("offline")
def desk_offline(desk_id: str) -> None:
    """Same as logout."""
    _set_desk(desk_id, "offline")


@desk_app.command("show")
def desk_show() -> None:
    """Every desk and its state."""
    runtime = _runtime()
    routing = _routing(runtime)
    for d in _city(runtime).desks:
        rec = routing.desk(d.id)
        typer.echo(f"{d.id:12} {d.agency:10} {rec.get('state', 'unregistered'):9} {rec.get('call_id', '')} {rec.get('reason', '')}")


@call_app.command("show")
def call_show(call_id: str) -> None:
    """One call's record, as JSON."""
    rec = _routing(_runtime()).call(call_id)
    if not rec:
        _fail(f"no call {call_id!r}")
    typer.echo(json.dumps(rec, indent=2, ensure_ascii=False))


@call_app.command("priority")
def call_priority(call_id: str, priority: int = typer.Argument(..., help="0 is the highest"),
                  set_by: str = typer.Option("", help="who decides, for the audit trail")) -> None:
    """A supervisor changes a waiting caller's priority; it keeps its arrival time."""
    try:
        result = _routing(_runtime()).reprioritize(call_id, priority, set_by=set_by)
    except RoutingRefused as exc:
        _fail(str(exc))
    except redis.RedisError as exc:
        _fail(f"Redis unreachable: {exc}")
    where = f", position {result['position']}" if result["position"] != "0" else ""
    typer.echo(f"{call_id} ({result['queue']}): priority {result['previous_priority']} → {result['priority']}{where}")


@call_app.command("events")
def call_events(call_id: str) -> None:
    """A call's lifecycle from the audit trail (the events stream), one JSON line each."""
    routing = _routing(_runtime())
    found = False
    for event in _all_events(routing):
        if event.get("call_id") == call_id:
            found = True
            typer.echo(json.dumps(event, ensure_ascii=False))
    if not found:
        _fail(f"no events for call {call_id!r}")


events_app = typer.Typer(help="The audit trail: every state change, kept in a Redis stream.", no_args_is_help=True)
app.add_typer(events_app, name="events")


@events_app.command("export")
def events_export(out: Path = typer.Option(..., help="JSON-lines file to write"),
                  after: str = typer.Option("-", help="only events after this stream id (resume an export)")) -> None:
    """Export the audit trail as JSON lines, oldest first."""
    routing = _routing(_runtime())
    written = 0
    with out.open("w") as f:
        for event in _all_events(routing, after):
            f.write(json.dumps(event, ensure_ascii=False) + "\n")
            written += 1
    typer.echo(f"{written} events written to {out}")


def _all_events(routing: Routing, after: str = "-") -> Iterator[dict[str, str]]:
    try:
        while page := routing.events_since(after, 1000):
            yield from page
            after = page[-1]["id"]
    except redis.RedisError as exc:
        _fail(f"Redis unreachable: {exc}")


@lab_app.command("demo")
def lab_demo(city_file: Path = typer.Option(Path("hotline.toml"), help="the city's data file"),
             workdir: Path = typer.Option(Path("var/lab"), help="logs, recordings and sipp files")) -> None:
    """Bring up the lab, register demo desks, place demo calls, print where each went."""
    from hotline.lab.demo import run_demo

    sys.exit(run_demo(city_file, workdir))


@lab_app.command("up")
def lab_up(city_file: Path = typer.Option(Path("hotline.toml"), help="the city's data file"),
           workdir: Path = typer.Option(Path("var/lab"), help="logs and sipp files"),
           info_file: Path = typer.Option(Path("var/lab/lab.json"), help="where to write addresses and credentials")) -> None:
    """Bring up the lab and keep it running, printing what a tester needs."""
    from hotline.lab.demo import run_lab

    sys.exit(run_lab(city_file, workdir, info_file))


@app.command("asterisk-conf")
def asterisk_conf(out: Path = typer.Option(..., help="folder to write the rendered files into"),
                  desk_passwords: Path = typer.Option(..., help="JSON file: {desk id: SIP password}"),
                  sip_port: int = 5060, ami_port: int = 5038, agi_host: str = "127.0.0.1", agi_port: int = 4573,
                  citizens_match: str = typer.Option("127.0.0.1", help="address(es) of the carrier sending citizens' calls"),
                  moh_dir: str = "/var/lib/asterisk/moh-hotline") -> None:
    """Render asterisk_conf/ for an existing Asterisk 20+ (AMI secret from HOTLINE_AMI_SECRET)."""
    from telephony.asterisk_config import AsteriskConfigError, AsteriskSite, render, write

    runtime = _runtime()
    city = _city(runtime)
    try:
        passwords = json.loads(desk_passwords.read_text())
        site = AsteriskSite(sip_port=sip_port, ami_port=ami_port, agi_host=agi_host, agi_port=agi_port,
                            citizens_match=citizens_match, moh_dir=moh_dir,
                            ami_secret=runtime.require_ami_secret(), desk_passwords=passwords)
        files = write(render(city, site, full_instance=False), out)
    except (OSError, ValueError, AsteriskConfigError, SettingsError) as exc:
        _fail(str(exc))
    for f in files:
        typer.echo(f"wrote {f}")


@app.command("city-example")
def city_example(out: Path = typer.Option(..., help="where to write the example city file (refuses to overwrite)")) -> None:
    """Write the shipped example city file (Hà Nội: menu, prompts' texts, agencies, desks) to edit."""
    from importlib.resources import files

    if out.exists():
        _fail(f"{out} exists: not overwriting a city's data file")
    try:
        out.write_bytes(files("config").joinpath("example_city.toml").read_bytes())
    except OSError as exc:
        _fail(f"cannot write {out}: {exc.strerror}")
    typer.echo(f"wrote {out}")


@app.command()
def prompts(out: Path = typer.Option(..., help="sounds folder the dialplan plays from, e.g. /usr/share/asterisk/sounds/hotline")) -> None:
    """Speak the city file's prompts into Asterisk .wav files (espeak-ng + sox), only those changed."""
    from ivr.prompts import PromptBuildError, build_prompts

    city = _city(_runtime())
    try:
        rebuilt = build_prompts(city, out)
    except (OSError, PromptBuildError) as exc:
        _fail(str(exc))
    typer.echo(f"{len(rebuilt)} prompt(s) made in {out}")
    _warn_slow_silent_caller(city, out, str(_runtime().city_file))


def _warn_slow_silent_caller(city: CitySettings, prompts_dir: Path, source: str) -> None:
    from ivr.prompts import PromptBuildError

    try:
        warning = check_built_prompts(city, prompts_dir, source)
    except PromptBuildError as exc:
        _fail(str(exc))
    if warning:
        typer.echo(f"warning: {warning}", err=True)


@ivr_app.command("paths")
def ivr_paths(city_file: Path = typer.Option(Path("hotline.toml"), "--city", help="the city's data file"),
              prompts_dir: Path = typer.Option(Path("var/prompts"), "--prompts",
                                               help="where the prompts are built (only changed ones are spoken again)")) -> None:
    """How long each caller's path takes from the answer until queued for a person, from the
    prompts' real durations (built with espeak-ng, measured with sox)."""
    from ivr.prompts import PromptBuildError, build_prompts

    try:
        city = load_settings(city_file)
    except SettingsError as exc:
        _fail(str(exc))
    try:
        build_prompts(city, prompts_dir)
        paths = caller_paths(city, measure_prompts(city, prompts_dir))
    except (OSError, PromptBuildError) as exc:
        _fail(str(exc))
    for line in _paths_table(city, paths):
        typer.echo(line)
    _warn_slow_silent_caller(city, prompts_dir, str(city_file))


def _paths_table(city: CitySettings, paths: CallerPaths) -> list[str]:
    """The paths as a caller lives them: the summary by desk availability, then the menu moment by moment."""
    def s(seconds: float) -> str:
        return f"{seconds:.1f} s"

    options = ", ".join(f"{digit} {agency}" for digit, agency in sorted(paths.options.items()))
    free, busy = paths.no_input_when(desk_free=True), paths.no_input_when(desk_free=False)
    skipped = paths.menu_skipped_when_desk_free
    key_free = "at the answer (no menu)" if skipped else "when pressed"
    speech_busy = (f"{s(paths.speech_after_s)} after speech starts" if paths.speech_after_s > 0
                   else f"{s(busy)} (detector off: as silence)")
    speech_free = "at the answer (no menu)" if skipped else speech_busy
    lines = [
        f"{city.ivr.mode.value}, {city.ivr.attempts} attempt(s), languages {', '.join(city.languages)}, "
        f"wait for a key {city.ivr.no_input_timeout_s:g} s; target {target_s(city)} s",
        "",
        f"{'caller':40} {'a desk free':28} {'no desk free'}",
        f"{'silent (no key)':40} {s(free):28} {s(busy)} (general queue, no input)",
        f"{'presses a menu key by ' + s(paths.latest_key_s):40} {key_free:28} when pressed (the key's agency)",
        f"{'speaks, no key':40} {speech_free:28} {speech_busy} (general queue, top priority)",
        "",
        f"The menu{' when no desk is free' if skipped else ''}, from the answer (menu keys: {options}):",
        f"{'attempt':8} {'from':>7} {'to':>7}  {'the caller hears':22} {'a menu key':18} {'a wrong key'}",
    ]
    wrong = {w.attempt: w for w in paths.wrong_keys}
    for step in paths.steps:
        hears = f"{step.language} {step.prompt}" if step.prompt else "waiting for a key"
        w = wrong[step.attempt]
        after = (f"'invalid', the menu again; silent: queued {s(w.queued_after_s)} later" if w.menu_again
                 else "general queue at once (invalid)")
        lines.append(f"{step.attempt:<8} {s(step.start_s):>7} {s(step.end_s):>7}  {hears:22} {'its agency at once':18} {after}")
    lines.append(f"{'':8} {s(paths.no_input_s):>7} {'':>7}  queued: general queue (no input); a later key finds the "
                 "caller already there")
    if paths.latest_speech_start_s is not None:
        lines.append(f"Speech starting after {s(paths.latest_speech_start_s)}: the silent path ends first.")
    return lines


@app.command()
def drift(repair: bool = typer.Option(False, "--repair", help="repair what differs (as the bridge does)")) -> None:
    """Report where Redis and Asterisk disagree (calls, desks), and repair it with --repair.
    Exit code 1 when drift was found and not repaired."""
    from telephony.bridge import Bridge

    runtime = _runtime()
    city = _city(runtime)
    try:
        runtime.require_ami_secret()
    except SettingsError as exc:
        _fail(str(exc))

    async def run() -> int:
        bridge = Bridge(city, runtime, reconcile_on_login=False)
        await bridge.ami.start()
        try:
            await asyncio.wait_for(bridge.ami.ready.wait(), 10)
        except TimeoutError:
            _fail(f"no AMI login at {runtime.ami_host}:{runtime.ami_port} within 10 s")
        try:
            found = await bridge.find_drift()
            for d in found:
                typer.echo(f"{d.kind:18} {d.call_id or '-':32} {d.desk_id or '-':10} {d.state or '-':9} {d.detail}")
            if not found:
                typer.echo("no drift: Redis and Asterisk agree")
            elif repair:
                await bridge.repair(found)
                left = await bridge.find_drift()
                typer.echo(f"repaired {len(found)}; left: {len(left)}")
                return 1 if left else 0
            return 1 if found else 0
        except redis.RedisError as exc:
            _fail(f"Redis at {runtime.redis_url} unreachable: {exc}")
        finally:
            bridge.ami.close()
            await bridge.redis.aclose()

    raise typer.Exit(asyncio.run(run()))


@app.command()
def api() -> None:
    """Serve the HTTP API (desk states, calls, queues); needs HOTLINE_API_TOKENS_FILE."""
    import uvicorn

    from api.app import ALERTS_EVERY_S, create_app

    _logging()
    runtime = _runtime()
    city = _city(runtime)
    try:
        server = create_app(runtime, city=city, alerts_every_s=ALERTS_EVERY_S)
    except SettingsError as exc:
        _fail(str(exc))
    uvicorn.run(server, host=runtime.api_host, port=runtime.api_port)


@api_token_app.command("add")
def api_token_add(name: str = typer.Option(..., help="who holds it, e.g. 'desk-101 day shift'; shown in the logs"),
                  role: str = typer.Option(..., help="call_taker, supervisor, viewer or metrics (a Prometheus scraper)"),
                  agency: str | None = typer.Option(None, help="call_taker: its agency (default: the desk's)"),
                  desk: str | None = typer.Option(None, help="call_taker: the one desk it may change"),
                  file: Path = typer.Option(..., help="the tokens file (.json or .toml), created if missing")) -> None:
    """Make a random token, print it once, append only its SHA-256 to the tokens file."""
    from api.tokens import ROLES, add_token

    if role not in ROLES:
        _fail(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
    city = _city(_runtime())
    try:
        token = add_token(file, city, name=name, role=role, agency=agency, desk=desk)
    except SettingsError as exc:
        _fail(str(exc))
    typer.echo(f"token {name!r} ({role}) added to {file}; it is shown only now, store it safely:", err=True)
    typer.echo(token)


def _accounts(runtime: RuntimeSettings) -> Accounts:
    return Accounts(redis_client(runtime.redis_url, decode_responses=True, socket_timeout=5))


def _new_password(from_stdin: bool) -> str:
    """From one line of standard input (scripts), or typed twice without being shown."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password)
    except AccountError as exc:
        _fail(str(exc))
    return password


PASSWORD_STDIN = typer.Option(False, "--password-stdin", help="read the password from the first line of standard input")


@user_app.command("add")
def user_add(name: str = typer.Option(..., help="the sign-in name: lowercase letters, digits, '.', '_', '-'"),
             role: str = typer.Option(..., help="call_taker, supervisor or viewer"),
             agency: str | None = typer.Option(None, help="call_taker: the agency whose desks and calls it sees"),
             desk: str | None = typer.Option(None, help="call_taker: the one desk they sign in at"),
             password_stdin: bool = PASSWORD_STDIN) -> None:
    """Add a user; the password is asked for (twice, hidden) and kept only as an argon2 hash."""
    runtime = _runtime()
    try:
        user = check_user(_city(runtime), name, role, agency, desk)
    except AccountError as exc:
        _fail(str(exc))
    password = _new_password(password_stdin)
    with _redis_work(runtime):
        _accounts(runtime).add_user(user, password)
    scope = f", {user.agency}" if user.agency else ""
    typer.echo(f"user {user.name} ({user.role}{scope}{f', desk {user.desk}' if user.desk else ''}) added")


@user_app.command("list")
def user_list() -> None:
    """Every user: name, role, agency, desk (never a password)."""
    runtime = _runtime()
    with _redis_work(runtime):
        users = _accounts(runtime).users()
    for user in users:
        typer.echo(f"{user.name:20} {user.role:10} {user.agency or '-':10} {user.desk or '-'}")


@user_app.command("passwd")
def user_passwd(name: str = typer.Option(..., help="the user"), password_stdin: bool = PASSWORD_STDIN) -> None:
    """Set a user's password; the user's sessions end."""
    runtime = _runtime()
    accounts = _accounts(runtime)
    with _redis_work(runtime):
        if accounts.user(name) is None:
            _fail(f"no user {name!r} (hotline user list shows them)")
        ended = accounts.set_password(name, _new_password(password_stdin))
    typer.echo(f"password of {name} changed; {ended} session(s) ended")


@user_app.command("remove")
def user_remove(name: str = typer.Option(..., help="the user")) -> None:
    """Remove a user; their sessions end (a desk they were signed in at keeps its state)."""
    runtime = _runtime()
    with _redis_work(runtime):
        try:
            ended = _accounts(runtime).remove_user(name)
        except RoutingRefused as exc:
            _fail(f"{exc} (hotline user list shows them)")
    typer.echo(f"user {name} removed; {ended} session(s) ended")


if __name__ == "__main__":
    app()

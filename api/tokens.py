"""The API's bearer tokens: issued by an operator, kept only as SHA-256 hashes.

``hotline api-token add`` makes a random token, prints it once and appends its hash to the
tokens file (``HOTLINE_API_TOKENS_FILE``, JSON or TOML by its extension)::

    [[tokens]]
    sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    name = "desk-101 day shift"        # who holds it; the only thing about a token ever logged
    role = "call_taker"                # call_taker, supervisor, viewer or metrics (GET /metrics only)
    agency = "police"                  # call_taker only: the agency whose desks and calls it sees
    desk = "desk-101"                  # optional, call_taker only: the one desk it may change

(JSON: ``{"tokens": [{"sha256": …, "name": …, …}]}``.) The API validates the whole file
against the city file when it starts; every mistake names its entry and key. A token is
revoked by deleting its entry and restarting the API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from config.settings import CitySettings, SettingsError, format_loc, validation_issues
from queueing.scopes import scope_problems
from queueing.states import UserRole

# The roles are the console users' (queueing.states.UserRole); the tokens file names them by value.
Role = Annotated[UserRole, Field(strict=False)]
ROLES: tuple[str, ...] = tuple(r.value for r in UserRole)
FORMATS = (".json", ".toml")


def token_hash(token: str) -> str:
    """The hex SHA-256 the tokens file keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def _sha256(value: Any) -> Any:
    # Never echo the value: someone may have pasted the token itself here.
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError("must be the token's SHA-256 as 64 lowercase hex digits, as `hotline api-token add` "
                         "writes it (the value is not shown)")
    return value


def _name(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[^\x00-\x1f\x7f]{1,80}", value):
        raise ValueError("must be 1-80 printable characters (who holds the token, e.g. 'desk-101 day shift')")
    return value


class TokenEntry(BaseModel):
    """One ``[[tokens]]`` entry."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    sha256: Annotated[str, BeforeValidator(_sha256)]
    name: Annotated[str, AfterValidator(_name)]
    role: Role
    agency: str | None = None
    desk: str | None = None


class TokensFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    tokens: list[TokenEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a token's name, role and (call-takers) agency and desk."""

    name: str
    role: Role
    agency: str | None = None
    desk: str | None = None

    def __str__(self) -> str:
        scope = f", {self.agency}" if self.agency else ""
        scope += f", desk {self.desk}" if self.desk else ""
        return f"{self.name!r} ({self.role}{scope})"


class TokenTable:
    """The valid tokens' hashes, and who each one is."""

    def __init__(self, entries: Sequence[TokenEntry]) -> None:
        self._entries = [(e.sha256, Principal(e.name, e.role, e.agency, e.desk)) for e in entries]

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, token: str) -> Principal | None:
        """The principal whose hash matches, or None. Compares every hash, in constant time."""
        digest = token_hash(token)
        found = None
        for expected, principal in self._entries:
            if hmac.compare_digest(expected, digest):
                found = principal
        return found


# --- the file ---------------------------------------------------------------------------


def _format(path: Path) -> str:
    if path.suffix.lower() not in FORMATS:
        raise SettingsError(f"{path}: a tokens file must end in .json or .toml, to say how it is written")
    return path.suffix.lower()


def _parse(path: Path, text: str) -> Any:
    if not text.strip():
        return {}
    try:
        if _format(path) == ".toml":
            return tomllib.loads(text)
        return json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise SettingsError(f"{path}: not valid {_format(path)[1:].upper()}: {error}") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SettingsError(f"{path}: no such file (the API's tokens file; create it with "
                            "`hotline api-token add --file …`)") from None
    except IsADirectoryError:
        raise SettingsError(f"{path}: is a directory, expected the API's tokens file") from None
    except UnicodeDecodeError as error:
        raise SettingsError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise SettingsError(f"{path}: cannot read: {error.strerror}") from None


def _entry_name(data: Any, index: Any) -> str:
    try:
        name = data["tokens"][index]["name"]
    except (KeyError, IndexError, TypeError):
        return ""
    return f" (token {name!r})" if isinstance(name, str) else ""


def _check(file: TokensFile, city: CitySettings) -> list[tuple[tuple[str | int, ...], str]]:
    """What one entry's types can't say: roles and scopes, the city's agencies and desks, repeats."""
    issues: list[tuple[tuple[str | int, ...], str]] = []
    hashes: dict[str, int] = {}
    names: dict[str, int] = {}
    for i, entry in enumerate(file.tokens):
        issues += [(("tokens", i, p.field), p.message) for p in scope_problems(city, entry.role, entry.agency, entry.desk)]
        if entry.sha256 in hashes:
            first = hashes[entry.sha256]
            issues.append((("tokens", i, "sha256"), f"the same token as tokens[{first}] ({file.tokens[first].name!r})"))
        hashes.setdefault(entry.sha256, i)
        if entry.name in names:
            issues.append((("tokens", i, "name"), f"{entry.name!r} is already the name of tokens[{names[entry.name]}]: "
                                                  "names tell tokens apart in the logs"))
        names.setdefault(entry.name, i)
    return issues


def parse_tokens(data: Any, city: CitySettings, source: str, *, require_any: bool = True) -> TokensFile:
    """Validate parsed tokens-file data against the city; SettingsError names each bad entry and key."""
    try:
        file = TokensFile.model_validate(data)
    except ValidationError as error:
        lines = []
        for err, line in zip(error.errors(), validation_issues(error), strict=True):
            loc = tuple(err["loc"])
            lines.append(line if len(loc) < 2 else line.replace(": ", f"{_entry_name(data, loc[1])}: ", 1))
        raise SettingsError("\n".join(f"{source}: {line}" for line in lines), lines) from None
    issues = [f"{format_loc(loc)}{_entry_name(data, loc[1])}: {msg}" for loc, msg in _check(file, city)]
    if require_any and not file.tokens:
        issues.append("tokens: no token listed: nobody could use the API; create one with "
                      "`hotline api-token add --name NAME --role supervisor --file …`")
    if issues:
        raise SettingsError("\n".join(f"{source}: {line}" for line in issues), issues)
    return file


def load_tokens(path: str | Path, city: CitySettings) -> TokenTable:
    """Read and validate the tokens file, or raise SettingsError saying what is wrong where."""
    path = Path(path)
    _format(path)
    return TokenTable(parse_tokens(_parse(path, _read_text(path)), city, str(path)).tokens)


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML's basic-string escapes


def add_token(path: str | Path, city: CitySettings, *, name: str, role: str, agency: str | None = None,
              desk: str | None = None) -> str:
    """Make a token, append its hash (never the token) to the file, and return the token.

    The file is created (mode 0600) when missing; the result is validated as a whole before
    anything is written, so a file that the API would refuse is never produced."""
    path = Path(path)
    kind = _format(path)
    if role == "call_taker" and agency is None and desk is not None and desk in {d.id for d in city.desks}:
        agency = next(d.agency for d in city.desks if d.id == desk)  # the desk says which agency
    exists = path.exists()
    text = _read_text(path) if exists else ""
    token = new_token()
    entry: dict[str, str] = {"sha256": token_hash(token), "name": name, "role": role}
    entry |= {k: v for k, v in (("agency", agency), ("desk", desk)) if v is not None}
    if kind == ".toml":
        addition = "[[tokens]]\n" + "".join(f"{k} = {_toml_string(v)}\n" for k, v in entry.items())
        new_text = text + ("\n" if text and not text.endswith("\n") else "") + ("\n" if text.strip() else "") + addition
        data = _parse(path, new_text)
    else:
        data = _parse(path, text)
        if not isinstance(data, dict) or not isinstance(data.get("tokens", []), list):
            raise SettingsError(f'{path}: expected {{"tokens": [...]}} at the top level')
        data.setdefault("tokens", []).append(entry)
        new_text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    parse_tokens(data, city, str(path))
    _write(path, new_text, exists)
    return token


def _write(path: Path, text: str, exists: bool) -> None:
    mode = (path.stat().st_mode & 0o777) if exists else 0o600
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

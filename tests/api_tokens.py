"""Bearer tokens for the API tests: one per kind of holder, and the table the API is given."""

from __future__ import annotations

from api.tokens import TokenEntry, TokenTable, token_hash

# name → (token, role, agency, desk). Test-only tokens: the real ones come from `hotline api-token add`.
HOLDERS: dict[str, tuple[str, str, str | None, str | None]] = {
    "supervisor": ("test-token-supervisor-7f3a9c", "supervisor", None, None),
    "viewer": ("test-token-viewer-1b8e42", "viewer", None, None),
    "police": ("test-token-police-c4d1e0", "call_taker", "police", None),
    "police@desk-101": ("test-token-police-desk-101-9a2f6b", "call_taker", "police", "desk-101"),
    "fire": ("test-token-fire-5e7c13", "call_taker", "fire", None),
    "metrics": ("test-token-metrics-3d6b08", "metrics", None, None),  # a Prometheus scraper: GET /metrics only
}
TOKENS = TokenTable([TokenEntry(sha256=token_hash(token), name=name, role=role, agency=agency, desk=desk)
                     for name, (token, role, agency, desk) in HOLDERS.items()])


def bearer(holder: str) -> dict[str, str]:
    """The Authorization header of a holder's token."""
    return {"Authorization": f"Bearer {HOLDERS[holder][0]}"}


SUPERVISOR = bearer("supervisor")

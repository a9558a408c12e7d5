"""Resumption tokens: stateless, URL-safe and tamper-evident.

A token carries everything needed to continue a list -- the verb, its arguments, where the
previous page ended (a datestamp and an identifier, for an index seek), how many were sent
before (cursor), the list's size and the token's expiry -- as compact JSON in base64url,
signed with an HMAC under the repository's secret. The server keeps no state: re-issuing a
token gives the same page while the collection is unchanged (OAI-PMH §3.5.1), and any token
altered, forged, expired or presented with another verb is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass


class TokenError(ValueError):
    """The token is not one we issued, or no longer valid, or not for this verb."""


@dataclass(frozen=True)
class Position:
    verb: str
    prefix: str  # metadataPrefix ("" for ListSets)
    start: str  # inclusive bounds, as full UTC datestamps
    end: str
    spec: str | None
    after_date: str  # the last item sent: datestamp and id ("" for ListSets' set order)
    after_id: str
    cursor: int  # items sent before the next page
    size: int  # completeListSize
    expires: int  # UTC epoch seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(position: Position, secret: bytes) -> str:
    payload = json.dumps(asdict(position), separators=(",", ":"), sort_keys=True).encode()
    signature = hmac.new(secret, payload, hashlib.sha256).digest()[:18]
    return f"{_b64(payload)}.{_b64(signature)}"


def read(token: str, secret: bytes, verb: str, now: int) -> Position:
    """The position a token stands for; TokenError when it cannot be honoured."""
    body, dot, signature = token.partition(".")
    if not dot or not body or not signature or len(token) > 4096:
        raise TokenError("not a resumption token of this repository")
    try:
        payload = _unb64(body)
        given = _unb64(signature)
    except (ValueError, UnicodeError) as exc:
        raise TokenError("not a resumption token of this repository") from exc
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:18]
    if not hmac.compare_digest(given, expected):
        raise TokenError("not a resumption token of this repository (or it was altered)")
    try:
        position = Position(**json.loads(payload))
    except (ValueError, TypeError) as exc:
        raise TokenError("not a resumption token of this repository") from exc
    if position.verb != verb:
        raise TokenError(f"this token continues a {position.verb} list, not {verb}")
    if position.expires < now:
        raise TokenError("this resumption token has expired; start the list again")
    return position

"""One-time codes that link a panel user to a Telegram account through the notifier bot.

The panel (or ``coolthing users link-telegram``) issues a code; the user sends ``/start CODE`` to
the bot, which checks it and records the link. A code is signed, not stored: it carries the user,
its expiry and a nonce, with an HMAC under a key derived from the secret key, so the admin side
writes nothing and the notifier (which owns the links) refuses a forged, expired or reused code
(the nonce is unique among links). It fits Telegram's deep-link ``start`` parameter (64 of
``A-Za-z0-9_-``), so ``https://t.me/<bot>?start=CODE`` works too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.security import SecretBox

CODE_TTL = timedelta(minutes=15)
_PURPOSE = "telegram-link-code"
_BODY = struct.Struct(">IQ6s")  # user id, expiry (unix seconds), nonce
_MAC_BYTES = 12


class LinkCodeInvalid(ValueError):
    """The code is not one we issued, or it expired; the message says which, for the person."""


@dataclass(frozen=True)
class LinkCode:
    user_id: int
    nonce: str
    expires_at: datetime


def _mac(box: SecretBox, body: bytes) -> bytes:
    key = box.derive(_PURPOSE).encode()
    return hmac.new(key, body, hashlib.sha256).digest()[:_MAC_BYTES]


def new_code(box: SecretBox, user_id: int, *, now: datetime | None = None) -> tuple[str, datetime]:
    """A fresh code for ``user_id`` and when it stops working."""
    expires = (now or datetime.now(UTC)) + CODE_TTL
    body = _BODY.pack(user_id, int(expires.timestamp()), secrets.token_bytes(6))
    code = base64.urlsafe_b64encode(body + _mac(box, body)).decode().rstrip("=")
    return code, expires


def read_code(box: SecretBox, code: str, *, now: datetime | None = None) -> LinkCode:
    """The code's user and nonce; ``LinkCodeInvalid`` for anything we did not issue or that
    expired (the caller still checks that the nonce was not used before)."""
    raw = code.strip()
    try:
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (ValueError, TypeError):
        raise LinkCodeInvalid("this is not a link code") from None
    if len(data) != _BODY.size + _MAC_BYTES:
        raise LinkCodeInvalid("this is not a link code")
    body, mac = data[: _BODY.size], data[_BODY.size :]
    if not hmac.compare_digest(mac, _mac(box, body)):
        raise LinkCodeInvalid("this is not a link code")
    user_id, expires_ts, nonce = _BODY.unpack(body)
    expires = datetime.fromtimestamp(expires_ts, UTC)
    if expires <= (now or datetime.now(UTC)):
        raise LinkCodeInvalid("this link code has expired: get a new one")
    return LinkCode(user_id, nonce.hex(), expires)

"""Secrets at rest: session strings, bot tokens, proxy credentials, API keys, Fernet-encrypted.

The key comes from ``COOLTHING_SECRET_KEY``; the demo generates one into a local file (mode 0600).
Outside the demo a missing key stops the service at start-up with a message saying what to set.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from core.settings import Settings


class SecretKeyMissing(RuntimeError):
    """Raised at start-up when no encryption key is configured outside the demo."""


class InsecureSettings(RuntimeError):
    """The settings would serve sign-in cookies in a way production must not."""


def check_cookie_settings(settings: Settings) -> None:
    """Production serves sign-in cookies only over HTTPS unless told explicitly otherwise."""
    if settings.env == "production" and not settings.cookie_secure:
        if not settings.allow_insecure_cookies:
            raise InsecureSettings(
                "production needs COOLTHING_COOKIE_SECURE=true (the panel behind HTTPS); set "
                "COOLTHING_ALLOW_INSECURE_COOKIES=true only if sign-in never crosses a network"
            )


class SecretUnreadable(RuntimeError):
    """A stored secret does not decrypt with the configured key (wrong or rotated key)."""


class SecretBox:
    """Encrypts and decrypts short secrets. Never logs or returns plaintext in its repr."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._key = key

    def derive(self, purpose: str) -> str:
        """A secret for one purpose (signing CSRF tokens, …) derived from the key, never the key."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).hexdigest()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable(
                "a stored secret cannot be decrypted: COOLTHING_SECRET_KEY differs from the key "
                "it was saved with"
            ) from exc

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"


def load_secret_box(settings: Settings) -> SecretBox:
    """The process's SecretBox: from the environment, or (demo only) from a generated key file."""
    if settings.secret_key is not None:
        return SecretBox(_checked_key(settings.secret_key.get_secret_value()))
    if settings.env != "demo":
        raise SecretKeyMissing(
            "COOLTHING_SECRET_KEY is not set. Generate one with `coolthing secret-key` and put it "
            "in the service's environment; secrets are encrypted with it at rest."
        )
    return SecretBox(_demo_key(settings.secret_key_file))


def _checked_key(raw: str) -> bytes:
    key = raw.strip().encode()
    try:
        Fernet(key)
    except ValueError as exc:
        raise SecretKeyMissing(
            "COOLTHING_SECRET_KEY is not a valid key (32 url-safe base64-encoded bytes); "
            "generate one with `coolthing secret-key`"
        ) from exc
    return key


def _demo_key(path: Path) -> bytes:
    if path.exists():
        return _checked_key(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key

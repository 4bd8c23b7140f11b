"""The two error families the sandbox answers with: Bot API errors and user-account API errors."""

from __future__ import annotations


class BotApiError(Exception):
    """A Bot API failure: ``{"ok": false, "error_code", "description", "parameters"}``.

    The HTTP status is what aiogram uses to pick its exception class, so it always equals
    ``error_code``; ``retry_after`` becomes ``parameters.retry_after`` (TelegramRetryAfter).
    """

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    @classmethod
    def bad_request(cls, detail: str) -> BotApiError:
        return cls(400, f"Bad Request: {detail}")

    @classmethod
    def forbidden(cls, detail: str) -> BotApiError:
        return cls(403, f"Forbidden: {detail}")

    @classmethod
    def too_many(cls, seconds: int) -> BotApiError:
        return cls(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


# MTProto-style codes of the user-account API and the HTTP status each travels with.
STATUS = {
    "BAD_REQUEST": 400,
    "FLOOD_WAIT": 420,
    "PEER_FLOOD": 400,
    "USER_DEACTIVATED_BAN": 401,
    "AUTH_KEY_UNREGISTERED": 401,
    "SESSION_REVOKED": 401,
    "CHAT_WRITE_FORBIDDEN": 403,
    "CHAT_ADMIN_REQUIRED": 403,
    "USER_PRIVACY_RESTRICTED": 403,
    "CHANNELS_TOO_MUCH": 400,
    "CHAT_NOT_FOUND": 400,
    "PEER_ID_INVALID": 400,
    "USERNAME_OCCUPIED": 400,
    "REPLY_MESSAGE_ID_INVALID": 400,
    "MESSAGE_EMPTY": 400,
    "MEDIA_CAPTION_TOO_LONG": 400,
    "NOT_FOUND": 404,
}


class SandboxError(Exception):
    """A user-account / admin API failure with a machine code (``FLOOD_WAIT``, ``PEER_FLOOD`` …)."""

    def __init__(self, code: str, description: str, *, seconds: int | None = None) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.seconds = seconds
        self.status = STATUS.get(code, 400)

    @classmethod
    def flood_wait(cls, seconds: int) -> SandboxError:
        return cls("FLOOD_WAIT", f"A wait of {seconds} seconds is required", seconds=seconds)

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {
            "ok": False,
            "error_code": self.status,
            "error": self.code,
            "description": self.description,
        }
        if self.seconds is not None:
            body["seconds"] = self.seconds
        return body

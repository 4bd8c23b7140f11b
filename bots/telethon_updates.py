"""Where a restarted Telethon worker picks up Telegram's update sequence, so that DMs sent while
it was down (a lead's reply, an opt-out) still arrive.

Telegram numbers the updates of an account's private chats and basic groups in one sequence
(``pts``); a client that knows its last ``pts`` asks for the difference when it connects. A
``StringSession`` keeps no update state, so the worker keeps it: every incoming message carries
the state after it as its cursor, the worker saves the cursor of the last message it published
(``accounts.updates_cursor``), and the next start loads that state into the session and lets
Telethon catch up from it. Messages seen again are deduplicated downstream, as after any restart.

Supergroups and channels have a sequence each; they are not resumed here (a missed chat message
costs a lead, not an answer someone is waiting for).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from telethon import types

PREFIX = "tg1"


@dataclass(frozen=True)
class UpdatesState:
    pts: int
    qts: int
    date: int  # unix seconds
    seq: int

    @classmethod
    def of(cls, state: Any) -> UpdatesState:
        """From Telegram's ``updates.State`` (``updates.getState``)."""
        return cls(int(state.pts), int(state.qts), int(state.date.timestamp()), int(state.seq))

    @classmethod
    def decode(cls, cursor: str | None) -> UpdatesState | None:
        """A saved cursor; None for none, or for another backend's (the sandbox counts)."""
        parts = (cursor or "").split(":")
        if len(parts) != 5 or parts[0] != PREFIX:
            return None
        try:
            pts, qts, date, seq = (int(part) for part in parts[1:])
        except ValueError:
            return None
        return cls(pts, qts, date, seq)

    def encode(self) -> str:
        return f"{PREFIX}:{self.pts}:{self.qts}:{self.date}:{self.seq}"

    def after(self, update: Any, message_date: datetime | None) -> UpdatesState:
        """The state once ``update`` is handled: new messages of the common sequence move it."""
        if not isinstance(update, types.UpdateNewMessage) or not update.pts:
            return self
        date = int(message_date.timestamp()) if message_date is not None else self.date
        return replace(self, pts=max(self.pts, update.pts), date=max(self.date, date))

    def as_telethon(self) -> Any:
        """The session's form of it (``session.set_update_state(0, …)``)."""
        moment = datetime.fromtimestamp(self.date, UTC)
        return types.updates.State(
            pts=self.pts, qts=self.qts, date=moment, seq=self.seq, unread_count=0
        )

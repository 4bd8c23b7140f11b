"""Who may do what: roles, their order, and the authenticated actor every action is recorded under.

Shared by the admin API, the manager (which records the actor of an operator command) and, later,
the notifier bot (a linked Telegram account acts with its panel user's role).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    """Each role can do everything the ones before it can."""

    viewer = "viewer"  # reads everything, changes nothing
    operator = "operator"  # leads, conversations, approvals, do-not-contact list
    admin = "admin"  # configuration and campaigns
    owner = "owner"  # everything, including users

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_ORDER = (Role.viewer, Role.operator, Role.admin, Role.owner)

# How the actor reached us; recorded beside the actor in the audit log.
Channel = Literal["panel", "api", "telegram", "cli", "system"]


class Actor(BaseModel):
    """An authenticated person (or the system itself) acting through one channel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: int | None = Field(None, description="the user's id; none for the system")
    login: str = Field(min_length=1, max_length=64)
    role: Role
    channel: Channel

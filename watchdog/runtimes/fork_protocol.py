"""The messages between the forked runtime (in the watchdog) and its fork server.

One message per datagram on an AF_UNIX SOCK_SEQPACKET pair: the boundaries are the kernel's, so
no framing, and a spawn request carries its worker's output pipe as an attached descriptor
(``socket.send_fds``) that arrives with that message and no other.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

MAX_MESSAGE = 1 << 16


class Spawn(BaseModel):
    """Fork a worker for ``account``; its stdout and stderr are the attached descriptor."""

    op: Literal["spawn"] = "spawn"
    account: int
    instance: str
    env: dict[str, str] = {}  # set in the child's environment over the server's own


class Ready(BaseModel):
    """The server imported the worker's modules and waits for requests."""

    op: Literal["ready"] = "ready"
    pid: int


class Spawned(BaseModel):
    op: Literal["spawned"] = "spawned"
    instance: str
    pid: int


class Failed(BaseModel):
    """The fork itself failed (no memory, too many processes)."""

    op: Literal["failed"] = "failed"
    instance: str
    error: str


class Exited(BaseModel):
    """A child the server reaped; ``code`` as a shell tells it (128+N for signal N)."""

    op: Literal["exited"] = "exited"
    instance: str
    pid: int
    code: int


Reply = Annotated[Ready | Spawned | Failed | Exited, Field(discriminator="op")]
REPLY: TypeAdapter[Reply] = TypeAdapter(Reply)


def exit_code(status: int) -> int:
    """A wait status as the watchdog judges it: the exit code, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code

"""Whether a handler failed because a server it needs is unreachable — PostgreSQL down or
restarting, a connection cut under it — rather than because of its message.

Such a failure says nothing about the message: retrying it at once, five times within a second
and a half, and then dead-lettering it (what a failing message deserves) loses healthy work to
every database restart. The chaos run (issue 14) lost a lead's DM command exactly so.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError

# asyncpg's errors for a server that is going away, starting or unreachable (SQLSTATE classes 08
# and 57P0x), by name: importing asyncpg here would load it into the demo, which runs on SQLite.
ASYNCPG_OUTAGES = frozenset(
    {
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "AdminShutdownError",
        "CrashShutdownError",
        "PostgresConnectionError",
        "ConnectionFailureError",
        "ConnectionRejectionError",
        "ClientCannotConnectError",
        "TooManyConnectionsError",
    }
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_outage(exc: BaseException) -> bool:
    """The error, or one it came from, says a connection to a server failed or was cut."""
    for link in _chain(exc):
        if isinstance(link, DBAPIError) and link.connection_invalidated:
            return True
        if isinstance(link, ConnectionError):  # refused, reset, aborted; a closed AMQP link
            return True
        kind = type(link)
        if kind.__module__.startswith("asyncpg") and kind.__name__ in ASYNCPG_OUTAGES:
            return True
    return False

"""Where a scene line's drift goes, from what the parts record anyway (PostgreSQL only).

A line's way from its ``due_at`` to its ``sent_at``, in three stages that add up to its drift:

- ``coordinator``: due → the ``command.send`` event made in the scripts service's transaction
  (the event's ``occurred_at``): waiting for the loop or a confirmation's handler, and the
  transaction's statements up to this run's line;
- ``delivery``: → the worker's idempotency key recorded (``sent_keys.recorded_at``, the start of
  its transaction): the rest of the scripts service's transaction and its commit, the outbox
  relay's wake-up and pass, RabbitMQ, the worker's consumer (``outbox.published_at`` cannot split
  it: the relay stamps a whole pass at its end, after the workers may have the first rows);
- ``worker``: → ``sent_at`` less the typing time: the key's commit, "typing…" and the send.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from sqlalchemy import text

from core.db import Database

# The line's command is the outbox row whose payload carries the line's idempotency key.
STAGES_SQL = text(
    """
    select extract(epoch from (o.body::jsonb ->> 'occurred_at')::timestamptz - l.due_at),
           extract(epoch from k.recorded_at - (o.body::jsonb ->> 'occurred_at')::timestamptz),
           extract(epoch from l.sent_at - k.recorded_at) - l.typing_seconds
    from scene_run_lines l
    join sent_keys k on k.idempotency_key = l.idempotency_key
    join outbox o on o.routing_key like 'account.%.command.send'
        and o.body::jsonb #>> '{payload,idempotency_key}' = l.idempotency_key
    where l.run_id = any(:runs) and l.status = 'sent'
    """
)
STAGES = ("coordinator", "delivery", "worker")


def _p(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def stages(db: Database, run_ids: Sequence[int]) -> dict[str, dict[str, float]]:
    """p50 and p99 of each stage in ms over the runs' sent lines ({} when none could be traced:
    the outbox keeps published rows for days, so normally every line can)."""
    async with db.session() as session:
        rows = (await session.execute(STAGES_SQL, {"runs": list(run_ids)})).all()
    if not rows:
        return {}
    columns = [[float(row[i]) * 1000 for row in rows] for i in range(len(STAGES))]
    return {
        name: {"p50": round(_p(values, 50), 1), "p99": round(_p(values, 99), 1)}
        for name, values in zip(STAGES, columns, strict=True)
    }

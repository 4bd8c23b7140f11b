"""Group commit: items that arrive together are handled in one transaction, each caller awaiting
its own outcome.

A bus handler submits its item and awaits the result, so its message is still acked only after
the transaction that handled it committed. Batches run one at a time: while one is in the
database, the next fills up, so a burst shares a few transactions (a round trip costs about as
much as handling a whole item here) and a lone item goes through at once, without waiting.

A batch that raises is run again item by item, so one item that can never succeed (or a deadlock
that hit the batch) fails only itself; the batch function can also fail single items by returning
an exception in that item's place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from prometheus_client import Counter, Histogram

log = logging.getLogger(__name__)
BATCH_SIZE = Histogram(
    "coolthing_batch_items",
    "Items handled per group-commit batch",
    ["batch"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200),
)
BATCH_SPLITS = Counter(
    "coolthing_batch_splits_total", "Batches that failed and were run again item by item", ["batch"]
)

T = TypeVar("T")
R = TypeVar("R")

# The outcome of each item, in the order given; an exception fails that item only.
BatchFunction = Callable[[Sequence[T]], Awaitable[Sequence[R | Exception]]]


class Batcher(Generic[T, R]):
    def __init__(self, run: BatchFunction[T, R], *, name: str, max_size: int = 200) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}")
        self._run = run
        self._name = name
        self._max_size = max_size
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Handle ``item`` in the next batch; its result, or the exception it failed with."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain(), name=f"batch-{self._name}")
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(0)  # deliveries read in the same pass join this batch
                batch = self._pending[: self._max_size]
                del self._pending[: self._max_size]
                await self._run_batch(batch)
        finally:
            self._draining = None
            for _, future in self._pending:  # only when cancelled: the process is stopping
                future.cancel()
            self._pending.clear()

    async def _run_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        BATCH_SIZE.labels(self._name).observe(len(batch))
        try:
            try:
                outcomes = await self._run([item for item, _ in batch])
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                    return
                size = len(batch)
                BATCH_SPLITS.labels(self._name).inc()
                log.warning("%s: a batch of %d failed (%r); each alone", self._name, size, exc)
                for entry in batch:
                    await self._run_batch([entry])
                return
            if len(outcomes) != len(batch):
                error = RuntimeError(f"{self._name} gave {len(outcomes)} outcomes for {len(batch)}")
                outcomes = [error] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                _settle(future, outcome)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise


def _settle(future: asyncio.Future[R], outcome: R | Exception) -> None:
    if future.done():  # its caller was cancelled meanwhile
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)

"""Group commit: what arrives together shares a batch, a lone item does not wait, and one bad item
fails only its own caller."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from core.batching import Batcher


class Recorder:
    """A batch function that doubles numbers, refuses negatives alone and breaks on 13."""

    def __init__(self, pause: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.pause = pause

    async def run(self, items: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        await asyncio.sleep(self.pause)
        if 13 in items:
            raise RuntimeError("unlucky batch")
        return [ValueError(f"{n} is negative") if n < 0 else n * 2 for n in items]


async def test_items_submitted_together_share_one_batch_and_each_gets_its_own_result() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.run, name="test")

    results = await asyncio.gather(*(batcher.submit(n) for n in range(5)))

    assert results == [0, 2, 4, 6, 8]
    assert recorder.batches == [[0, 1, 2, 3, 4]]


async def test_a_lone_item_runs_at_once() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.run, name="test")

    assert await asyncio.wait_for(batcher.submit(21), timeout=1) == 42
    assert recorder.batches == [[21]]


async def test_items_arriving_while_a_batch_runs_form_the_next_batch() -> None:
    recorder = Recorder(pause=0.05)
    batcher = Batcher(recorder.run, name="test")

    first = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0.01)  # the first batch is in its "transaction" now
    later = await asyncio.gather(*(batcher.submit(n) for n in (2, 3, 4)))

    assert await first == 2 and later == [4, 6, 8]
    assert recorder.batches == [[1], [2, 3, 4]]


async def test_a_batch_never_exceeds_its_size() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.run, name="test", max_size=2)

    await asyncio.gather(*(batcher.submit(n) for n in range(5)))

    assert recorder.batches == [[0, 1], [2, 3], [4]]


async def test_an_item_the_batch_refuses_fails_only_its_own_caller() -> None:
    batcher = Batcher(Recorder().run, name="test")

    results = await asyncio.gather(*(batcher.submit(n) for n in (1, -1, 2)), return_exceptions=True)

    assert results[0] == 2 and results[2] == 4
    assert isinstance(results[1], ValueError) and "-1 is negative" in str(results[1])


async def test_a_batch_that_raises_is_retried_item_by_item_so_the_others_still_succeed() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.run, name="test")

    results = await asyncio.gather(*(batcher.submit(n) for n in (1, 13, 2)), return_exceptions=True)

    assert results[0] == 2 and results[2] == 4
    assert isinstance(results[1], RuntimeError)
    assert recorder.batches == [[1, 13, 2], [1], [13], [2]]


async def test_a_wrong_number_of_outcomes_fails_every_caller_instead_of_mixing_them_up() -> None:
    async def short(items: Sequence[int]) -> list[int | Exception]:
        return [0]

    batcher = Batcher(short, name="short")

    results = await asyncio.gather(*(batcher.submit(n) for n in (1, 2)), return_exceptions=True)

    assert all(isinstance(r, RuntimeError) and "1 outcomes for 2" in str(r) for r in results)


async def test_a_cancelled_caller_does_not_stop_the_others() -> None:
    recorder = Recorder(pause=0.05)
    batcher = Batcher(recorder.run, name="test")

    gone = asyncio.ensure_future(batcher.submit(1))
    stays = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0.01)
    gone.cancel()

    assert await stays == 4
    with pytest.raises(asyncio.CancelledError):
        await gone


def test_a_batch_size_below_one_is_refused() -> None:
    async def run(items: Sequence[int]) -> list[int | Exception]:
        return list(items)

    with pytest.raises(ValueError, match="at least 1"):
        Batcher(run, name="bad", max_size=0)

"""One phase of a chaos run: leads posted at a steady pace while a fault plan is carried out,
then every lead's DMs counted at the sandbox (shared by ``bench.chaos`` and the e2e test)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.chaos_faults import Fault, Happened, inflict, track_recovery
from bench.chaos_world import World


@dataclass
class Phase:
    leads: list[int]
    began: float  # the first post, time.monotonic()
    counts: dict[int, int] = field(default_factory=dict)  # lead → DMs received
    every_dm_at: float | None = None  # when the last lead got its first DM
    faults: list[Happened] = field(default_factory=list)
    cpu_s: float = 0.0  # our processes' CPU over the phase

    @property
    def duplicates(self) -> int:
        """Leads that got more than one DM."""
        return sum(1 for c in self.counts.values() if c > 1)

    @property
    def lost(self) -> int:
        """Leads that got none."""
        return sum(1 for c in self.counts.values() if c == 0)

    @property
    def dms(self) -> int:
        return sum(self.counts.values())

    @property
    def seconds(self) -> float | None:
        """From the first post until every lead had its DM."""
        return None if self.every_dm_at is None else self.every_dm_at - self.began

    def recovery(self) -> dict[str, dict[str, object]]:
        """kind → every recovery (s, in order; None: not seen), p50 and max."""
        kinds: dict[str, list[float | None]] = {}
        for happened in self.faults:
            got = happened.recovery_s
            kinds.setdefault(happened.fault.kind, []).append(None if got is None else round(got, 2))
        report: dict[str, dict[str, object]] = {}
        for kind, times in kinds.items():
            seen = [t for t in times if t is not None]
            report[kind] = {
                "s": times,
                "p50": round(statistics.median(seen), 2) if seen else None,
                "max": max(seen) if seen else None,
            }
        return report


async def _post_all(world: World, leads: list[int], rate: float, began: float) -> None:
    for n, lead in enumerate(leads):
        if (wait := began + n / rate - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        await world.post_lead(lead)


async def _carry_out(world: World, plan: list[Fault], began: float, phase: Phase) -> None:
    trackers = []
    for fault in plan:
        if (wait := began + fault.at - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        happened = await inflict(world, fault)
        phase.faults.append(happened)
        trackers.append(asyncio.create_task(track_recovery(world, happened)))
    await asyncio.gather(*trackers)


async def run_phase(
    world: World,
    leads: list[int],
    *,
    rate: float,
    plan: list[Fault],
    drain_s: float,
    settle_s: float,
    say: Callable[[str], None] = lambda _: None,
) -> Phase:
    """Post ``leads`` at ``rate`` a second while ``plan`` happens; wait up to ``drain_s`` after
    the last post for every lead's DM, then ``settle_s`` more for any second DM; count."""
    cpu_before = world.cpu.total()
    began = time.monotonic()
    phase = Phase(leads, began)
    posting = asyncio.create_task(_post_all(world, leads, rate, began))
    faults = asyncio.create_task(_carry_out(world, plan, began, phase))
    await posting
    say(f"{len(leads)} leads posted in {time.monotonic() - began:.1f} s")
    deadline = time.monotonic() + drain_s
    while time.monotonic() < deadline:
        if all(world.dms.received.get(lead) for lead in leads):
            phase.every_dm_at = max(world.dms.received[lead][0] for lead in leads)
            break
        await asyncio.sleep(0.2)
    await faults
    await asyncio.sleep(settle_s)
    phase.counts = {lead: len(world.dms.received.get(lead, [])) for lead in leads}
    phase.cpu_s = world.cpu.total() - cpu_before
    return phase

"""System → Workers: every account's worker with its state, uptime, heartbeat, restarts and last
exit; its last log on demand; Release, Restart and Pause, confirmed, carried out by the watchdog's
real command side (or the accounts' pause) and audited under the signed-in admin; viewers and
operators look but cannot press; a refusal says why."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from core.access import Role
from core.db.models import Account, User
from core.db.watchdog_models import WorkerHeartbeat
from tests.integration.conftest import Panel
from tests.integration.worker_rows import (
    audit,
    quarantined,
    running,
    serve_watchdog_commands,
    state_of,
)

PARSER, MANAGER, OTHER = 1, 2, 3  # the workspace's accounts: parser-1, manager-1, manager-2


def row_of(html: str, account_id: int) -> str:
    found = re.search(rf'<tr data-account="{account_id}".*?</tr>', html, re.S)
    assert found is not None, f"no row for account {account_id}"
    return found.group(0)


async def test_the_page_shows_a_quarantined_worker_with_its_exit_reason_and_a_stale_one(
    panel: Panel,
) -> None:
    await quarantined(panel.db, PARSER, exit_code=137)
    await running(panel.db, MANAGER, beat_age=1, up=2 * 3600)
    await running(panel.db, OTHER, beat_age=300)
    viewer = await panel.browser(Role.viewer)

    page = await viewer.get("/system")

    assert page.status_code == 200
    assert 'hx-get="/system/workers" hx-trigger="every 3s"' in page.text  # live enough
    parser = row_of(page.text, PARSER)
    assert 'data-state="quarantined"' in parser and "parser-1" in parser
    assert "exit 137" in parser and "crashed" in parser
    assert "5 crashes lately" in parser
    manager = row_of(page.text, MANAGER)
    assert 'data-state="running"' in manager and "2 hours" in manager
    assert 'data-testid="stale"' not in manager and "worker-host" in manager
    assert 'data-testid="stale"' in row_of(page.text, OTHER)  # an old heartbeat is a problem
    assert 'data-testid="release"' not in page.text  # a viewer sees no buttons
    assert 'href="/system"' in page.text  # in the navigation

    log = await viewer.get(f"/system/workers/{PARSER}/log")
    assert log.status_code == 200
    assert "RuntimeError: &lt;boom&gt; &amp; bust" in log.text  # shown, never run as markup
    assert (await viewer.get("/system/workers/999/log")).status_code == 404


async def test_release_clears_the_quarantine_and_the_audit_names_the_signed_in_admin(
    panel: Panel,
) -> None:
    await quarantined(panel.db, PARSER)
    await serve_watchdog_commands(panel.bus, panel.db)
    admin = await panel.browser(Role.admin)
    page = await admin.get("/system")
    parser = row_of(page.text, PARSER)
    assert 'data-testid="release"' in parser and "hx-confirm=" in parser
    assert 'data-testid="restart"' not in parser  # a quarantined worker is released, not restarted

    released = await admin.post(f"/system/workers/{PARSER}/release")

    assert released.status_code == 200, released.text
    assert "out of quarantine" in released.text
    assert 'data-state="stopped"' in row_of(released.text, PARSER)
    state = await state_of(panel.db, PARSER)
    assert state is not None
    assert (state.quarantined, state.crash_times, state.restarts) == (False, [], 0)
    entries = await audit(panel.db, "worker_released")
    assert [(e.actor, e.channel, e.detail["target"]) for e in entries] == [
        ("admin", "panel", "parser-1")
    ]

    again = await admin.post(f"/system/workers/{PARSER}/release")
    assert again.status_code == 409
    assert "not quarantined" in again.text
    assert len(await audit(panel.db, "worker_released")) == 1


async def test_viewers_and_operators_cannot_press_and_nothing_changes(panel: Panel) -> None:
    await quarantined(panel.db, PARSER)
    await serve_watchdog_commands(panel.bus, panel.db)
    for role in (Role.viewer, Role.operator):
        http = await panel.browser(role)
        for action in ("release", "restart", "pause"):
            pressed = await http.post(f"/system/workers/{PARSER}/{action}")
            assert pressed.status_code == 403, (role, action)
    state = await state_of(panel.db, PARSER)
    assert state is not None and state.quarantined
    assert await audit(panel.db, "worker_released") == []


async def test_pause_pauses_the_account_as_its_own_page_does(panel: Panel) -> None:
    await running(panel.db, MANAGER)
    admin = await panel.browser(Role.admin)

    paused = await admin.post(f"/system/workers/{MANAGER}/pause")

    assert paused.status_code == 200, paused.text
    assert "manager-1 is paused" in paused.text
    async with panel.db.session() as session:
        account = await session.get(Account, MANAGER)
    assert account is not None and account.status == "paused"
    assert [e.actor for e in await audit(panel.db, "account_paused")] == ["admin"]
    assert 'data-testid="pause"' not in row_of(paused.text, MANAGER)


async def test_a_restart_with_no_watchdog_running_says_nothing_was_done(panel: Panel) -> None:
    await running(panel.db, MANAGER)
    admin = await panel.browser(Role.admin)

    pressed = await admin.post(f"/system/workers/{MANAGER}/restart")

    assert pressed.status_code == 503
    assert "The watchdog did not answer, so nothing was done" in pressed.text
    assert await audit(panel.db, "worker_restarted") == []


async def test_a_russian_speaking_viewer_reads_the_page_in_russian(panel: Panel) -> None:
    await quarantined(panel.db, PARSER)
    async with panel.db.transaction() as session:
        await session.execute(update(User).where(User.login == "viewer").values(language="ru"))
    viewer = await panel.browser(Role.viewer)

    page = await viewer.get("/system")

    assert "Воркеры" in page.text and "на карантине" in page.text
    assert "5 падений за последнее время" in row_of(page.text, PARSER)


async def test_with_no_watchdog_yet_the_page_says_so_and_a_beating_worker_is_running(
    panel: Panel,
) -> None:
    async with panel.db.transaction() as session:
        session.add(
            WorkerHeartbeat(
                account_id=MANAGER,
                instance="demo",
                host="demo-host",
                pid=1,
                started_at=datetime.now(UTC) - timedelta(minutes=5),
                beat_at=datetime.now(UTC),
            )
        )
    viewer = await panel.browser(Role.viewer)

    page = await viewer.get("/system")

    assert 'data-testid="no-watchdog"' in page.text
    assert 'data-state="running"' in row_of(page.text, MANAGER)  # it beats: it runs
    assert 'data-state="stopped"' in row_of(page.text, PARSER)
    await quarantined(panel.db, PARSER)
    assert 'data-testid="no-watchdog"' not in (await viewer.get("/system")).text

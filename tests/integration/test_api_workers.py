"""/api/v1/workers: every account's worker as JSON (state, uptime, heartbeat, restarts, last
exit), its last log lines, and Restart / Release carried out by the watchdog's real command side
under the token's user; errors as JSON with the panel's access rules."""

from __future__ import annotations

from core.access import Role
from tests.integration.conftest import Panel
from tests.integration.worker_rows import (
    audit,
    quarantined,
    running,
    serve_watchdog_commands,
    state_of,
)

PARSER, MANAGER, OTHER = 1, 2, 3  # the workspace's accounts: parser-1, manager-1, manager-2


async def test_the_list_shows_each_account_with_its_worker(panel: Panel) -> None:
    await quarantined(panel.db, PARSER, exit_code=137)
    await running(panel.db, MANAGER, beat_age=2, up=600)
    api = panel.api(Role.viewer)

    listed = await api.get("/workers")

    assert listed.status_code == 200, listed.text
    rows = {row["account_id"]: row for row in listed.json()}
    assert set(rows) == {PARSER, MANAGER, OTHER}
    parser = rows[PARSER]
    assert (parser["account"], parser["state"]) == ("parser-1", "quarantined")
    assert (parser["last_exit_code"], parser["last_reason"], parser["crashes"]) == (137, "crash", 5)
    assert parser["uptime_seconds"] is None
    manager = rows[MANAGER]
    assert manager["state"] == "running" and not manager["heartbeat_stale"]
    assert 590 < manager["uptime_seconds"] < 700 and manager["pid"] == 4242
    assert manager["heartbeat_at"].endswith(("Z", "+00:00"))
    assert rows[OTHER]["state"] == "stopped"  # active, and the watchdog has not started it yet

    log = (await api.get(f"/workers/{PARSER}/log")).json()
    assert log["lines"][-1] == "RuntimeError: <boom> & bust"
    assert (await api.get(f"/workers/{MANAGER}")).json()["state"] == "running"
    missing = await api.get("/workers/999")
    assert missing.status_code == 404 and missing.json() == {"detail": "account 999 does not exist"}


async def test_release_and_restart_are_done_by_the_watchdog_under_the_token_user(
    panel: Panel,
) -> None:
    await quarantined(panel.db, PARSER)
    await running(panel.db, MANAGER)
    await serve_watchdog_commands(panel.bus, panel.db)
    api = panel.api(Role.admin)

    released = await api.post(f"/workers/{PARSER}/release")
    assert released.status_code == 200, released.text
    assert released.json()["outcome"] == "done" and released.json()["state"] == "stopped"
    restarted = await api.post(f"/workers/{MANAGER}/restart")
    assert restarted.status_code == 200 and restarted.json()["outcome"] == "done"

    state = await state_of(panel.db, PARSER)
    assert state is not None and not state.quarantined
    released_by = [(e.actor, e.channel) for e in await audit(panel.db, "worker_released")]
    assert released_by == [("admin", "api")]
    assert [e.actor for e in await audit(panel.db, "worker_restarted")] == ["admin"]

    again = await api.post(f"/workers/{PARSER}/release")
    assert again.status_code == 409
    assert "not quarantined" in again.json()["detail"]
    gone = await api.post("/workers/999/restart")
    assert gone.status_code == 404 and gone.json() == {"detail": "account 999 does not exist"}


async def test_viewers_and_operators_may_read_but_not_act(panel: Panel) -> None:
    await quarantined(panel.db, PARSER)
    await serve_watchdog_commands(panel.bus, panel.db)
    for role in (Role.viewer, Role.operator):
        api = panel.api(role)
        assert (await api.get("/workers")).status_code == 200
        refused = await api.post(f"/workers/{PARSER}/release")
        assert refused.status_code == 403 and "admin role" in refused.json()["detail"]
    state = await state_of(panel.db, PARSER)
    assert state is not None and state.quarantined


async def test_no_watchdog_running_is_a_503_and_nothing_is_done(panel: Panel) -> None:
    await quarantined(panel.db, PARSER)

    answer = await panel.api(Role.admin).post(f"/workers/{PARSER}/release")

    assert answer.status_code == 503
    assert answer.json() == {"detail": "the watchdog is not running; nothing was done"}
    state = await state_of(panel.db, PARSER)
    assert state is not None and state.quarantined

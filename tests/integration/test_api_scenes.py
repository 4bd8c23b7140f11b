"""Scenarios and runs over the API: a malformed scene gets every error with its line and column
and nothing is saved; every save is a version; the cast takes only scripts accounts, one role
each; simulating uses the chat's variables; runs start, pause and are refused through the
scripts service's answer (served on the test bus), and read back with their lines and history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from core.access import Role
from core.db import Database
from core.db.models import AuditEntry
from core.db.scene_models import Scenario, ScenarioVersion, SceneRun, SceneRunEvent, SceneRunLine
from core.scene_commands import SceneCommand, SceneResult
from tests.integration.conftest import Panel
from tests.integration.scenes_world import (
    SCENE,
    ScriptsService,
    add_scripts_accounts,
    own_chat,
    played_run,
)

BROKEN = """\
roles: host, guest
hots: Hello {everyone
wait 5x
listen 1m
  when anything
    guest: ok
"""


async def _count(db: Database, *where: object) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).where(*where)) or 0)  # type: ignore[arg-type]


async def test_a_malformed_scene_gets_every_error_with_line_and_column_and_nothing_is_saved(
    panel: Panel,
) -> None:
    api = panel.api()
    refused = await api.post("/scenarios", json={"name": "welcome", "source": BROKEN})
    assert refused.status_code == 422
    errors = refused.json()["detail"]
    places = [(e["line"], e["column"]) for e in errors]
    assert places == sorted(places) and len(errors) >= 3
    assert any(e["line"] == 2 and e["column"] == 1 and "hots" in e["message"] for e in errors)
    assert any(e["line"] == 3 for e in errors)  # the bad duration
    assert any(e["line"] == 4 and "no end" in e["message"] for e in errors)
    assert all(e["field"] == "source" and e["reason"].startswith("line ") for e in errors)
    assert await _count(panel.db, Scenario.id > 0) == 0
    assert await _count(panel.db, ScenarioVersion.id > 0) == 0

    checked = await panel.api(Role.viewer).post("/scenarios/check", json={"source": BROKEN})
    assert checked.status_code == 200
    assert not checked.json()["ok"] and len(checked.json()["errors"]) == len(errors)


async def test_unknown_keyword_sets_and_campaigns_are_errors_at_their_names(panel: Panel) -> None:
    api = panel.api()
    source = (
        "roles: host\nhost: Hi\nlisten 1m\n  when keywords nosuch\n    host: yes\n"
        "    lead Nowhere\nend\n"
    )
    refused = await api.post("/scenarios", json={"name": "q", "source": source})
    assert refused.status_code == 422
    by_line = {e["line"]: e for e in refused.json()["detail"]}
    assert by_line[4]["column"] == 17 and "unknown keyword set 'nosuch'" in by_line[4]["message"]
    assert "web-dev" in by_line[4]["message"]  # the known ones are listed
    assert by_line[6]["column"] == 10 and "unknown campaign 'Nowhere'" in by_line[6]["message"]
    fine = source.replace("nosuch", "web-dev").replace("Nowhere", "web")
    checked = (await api.post("/scenarios/check", json={"source": fine})).json()
    assert (
        checked["ok"] and checked["keyword_sets"] == ["web-dev"] and checked["campaigns"] == ["web"]
    )


async def test_every_save_is_a_new_version_and_earlier_ones_read_back(panel: Panel) -> None:
    api = panel.api()
    made = await api.post("/scenarios", json={"name": "welcome", "source": SCENE})
    assert made.status_code == 201, made.text
    scenario = made.json()
    assert scenario["version"] == 1 and scenario["roles"] == ["host", "guest"]
    assert scenario["title"] == "Welcome" and scenario["roles_without_account"] == ["host", "guest"]
    changed = SCENE.replace("Thanks!", "Thank you!")
    again = await api.put(f"/scenarios/{scenario['id']}", json={"source": changed})
    assert again.status_code == 200 and again.json()["version"] == 2
    assert again.json()["source"] == changed
    listed = (await api.get(f"/scenarios/{scenario['id']}/versions")).json()
    assert [v["version"] for v in listed] == [2, 1]
    first = (await api.get(f"/scenarios/{scenario['id']}/versions/1")).json()
    assert first["source"] == SCENE and first["created_by"] == "admin"
    assert (await api.get(f"/scenarios/{scenario['id']}/versions/9")).status_code == 404
    broken = await api.put(f"/scenarios/{scenario['id']}", json={"source": BROKEN})
    assert broken.status_code == 422
    assert (await api.get(f"/scenarios/{scenario['id']}")).json()["version"] == 2
    assert await _count(panel.db, AuditEntry.action == "scenario_created") == 1
    assert await _count(panel.db, AuditEntry.action == "scenario_changed") == 1
    taken = await api.post("/scenarios", json={"name": "welcome", "source": SCENE})
    assert taken.status_code == 409
    viewer = await panel.api(Role.viewer).post("/scenarios", json={"name": "x", "source": SCENE})
    assert viewer.status_code == 403


async def test_the_cast_takes_scripts_accounts_only_and_one_role_each(panel: Panel) -> None:
    api = panel.api()
    anna, boris = await add_scripts_accounts(panel.db, "anna", "boris")
    [parser] = await add_scripts_accounts(panel.db, "parser-9", role="parser")
    scenario = (await api.post("/scenarios", json={"name": "w", "source": SCENE})).json()
    cast = f"/scenarios/{scenario['id']}/cast"
    twice = await api.put(cast, json={"host": anna, "guest": anna})
    assert twice.status_code == 422
    assert twice.json()["detail"][0]["field"] == "cast.guest"
    assert "one account, one role" in twice.json()["detail"][0]["reason"]
    wrong = await api.put(cast, json={"host": parser})
    assert wrong.status_code == 422 and "parser account" in wrong.json()["detail"][0]["reason"]
    missing = await api.put(cast, json={"host": 999_999})
    assert missing.status_code == 422 and "does not exist" in missing.json()["detail"][0]["reason"]
    no_role = await api.put(cast, json={"judge": anna})
    assert no_role.status_code == 422 and "no role 'judge'" in no_role.json()["detail"][0]["reason"]
    fine = await api.put(cast, json={"host": anna, "guest": None})
    assert fine.status_code == 200
    assert fine.json()["cast"] == {"host": {"account_id": anna, "account": "anna"}}
    assert fine.json()["roles_without_account"] == ["guest"]
    listed = (await api.get("/scenarios")).json()
    assert listed[0]["roles_without_account"] == ["guest"] and listed[0]["runs"] == 0
    made = await api.post(
        "/scenarios", json={"name": "w2", "source": SCENE, "cast": {"host": boris, "guest": boris}}
    )
    assert made.status_code == 422 and await _count(panel.db, Scenario.name == "w2") == 0


async def test_simulating_uses_the_chat_variables_and_names_the_accounts(panel: Panel) -> None:
    api = panel.api()
    anna, boris = await add_scripts_accounts(panel.db, "anna", "boris")
    chat = await own_chat(panel.db, link="https://cool.example")
    scenario = (
        await api.post(
            "/scenarios",
            json={"name": "w", "source": SCENE, "cast": {"host": anna, "guest": boris}},
        )
    ).json()
    simulate = f"/scenarios/{scenario['id']}/simulate"
    once = await panel.api(Role.viewer).post(simulate, json={"seed": 3, "chat_id": chat})
    assert once.status_code == 200, once.text
    timeline = once.json()
    says = [e for e in timeline["entries"] if e["kind"] == "say"]
    assert says[0]["account"] == "anna" and says[1]["account"] == "boris"
    assert says[0]["text"] in (
        "Hi everyone, welcome to CoolThing!",
        "Hello everyone, welcome to CoolThing!",
    )
    assert not any("{link}" in (e["text"] or "") for e in timeline["entries"])
    assert timeline["problems"] == []
    again = (await api.post(simulate, json={"seed": 3, "chat_id": chat})).json()
    assert again == timeline  # the same seed, the same timeline
    bare = (await api.post(simulate, json={"seed": 3})).json()
    assert "variable {link} has no value and no default" in bare["problems"]


async def test_a_run_refused_by_the_scripts_service_gives_its_reasons(panel: Panel) -> None:
    def refuse(command: SceneCommand) -> SceneResult:
        return SceneResult(
            outcome="refused",
            detail="the run was not started",
            problems=["@jobs is not one of your own chats: scenes play only there"],
        )

    service = ScriptsService(refuse)
    await service.serve(panel.bus)
    api = panel.api(Role.operator)
    refused = await api.post("/runs", json={"scenario_id": 1, "chat_id": 1, "runs": 2})
    assert refused.status_code == 422
    reason = "@jobs is not one of your own chats: scenes play only there"
    assert refused.json()["problems"] == [reason]
    assert refused.json()["detail"] == [{"field": "run", "reason": reason}]
    assert refused.json()["summary"] == "the run was not started"
    assert service.heard[0].action == "start" and service.heard[0].runs == 2
    assert service.heard[0].actor.login == "operator"  # the signed-in user, never the body


async def test_a_started_run_answers_with_its_ids_and_reads_back_with_lines_and_history(
    panel: Panel,
) -> None:
    api = panel.api()
    anna, boris = await add_scripts_accounts(panel.db, "anna", "boris")
    chat = await own_chat(panel.db)
    scenario = (
        await api.post(
            "/scenarios",
            json={"name": "w", "source": SCENE, "cast": {"host": anna, "guest": boris}},
        )
    ).json()
    run_id = await played_run(panel.db, scenario["id"], chat, {"host": anna, "guest": boris})
    due = datetime.now(UTC) + timedelta(minutes=5)

    def start(command: SceneCommand) -> SceneResult:
        if command.action == "start":
            return SceneResult(outcome="done", run_ids=[run_id], starts=[due])
        return SceneResult(outcome="conflict", detail=f"run {command.run_id} is not paused")

    service = ScriptsService(start)
    await service.serve(panel.bus)
    operator = panel.api(Role.operator)
    body = {"scenario_id": scenario["id"], "chat_id": chat, "start_at": due.isoformat(), "seed": 5}
    started = await operator.post("/runs", json=body)
    assert started.status_code == 201, started.text
    assert started.json()["run_ids"] == [run_id]
    assert service.heard[0].start_at == due and service.heard[0].seed == 5
    resumed = await operator.post(f"/runs/{run_id}/resume")
    assert resumed.status_code == 409 and "not paused" in resumed.json()["detail"]
    assert (await panel.api(Role.viewer).post(f"/runs/{run_id}/pause")).status_code == 403

    run = (await api.get(f"/runs/{run_id}")).json()
    assert run["scenario"] == "w" and run["status"] == "playing"
    assert run["state"]["kind"] == "typing"  # the guest's line is queued
    assert {c["role"]: c["account"] for c in run["cast"]} == {"host": "anna", "guest": "boris"}
    sent, typing = run["lines_played"]
    assert (
        sent["status"] == "sent"
        and sent["telegram_message_id"] == 501
        and sent["account"] == "anna"
    )
    assert typing["status"] == "queued" and typing["sent_at"] is None
    assert run["lines_sent"] == 1 and run["lines"] == 2 and run["member_messages"] == 1
    page = (await api.get("/runs", params={"chat_id": chat, "status": "playing"})).json()
    assert page["total"] == 1 and page["items"][0]["id"] == run_id
    assert (await api.get("/runs", params={"status": "finished"})).json()["total"] == 0
    history = (await api.get(f"/runs/{run_id}/history")).json()
    assert [h["event"] or h["sender"] for h in history] == ["started", "line_sent", "Maria"]
    assert (await api.get("/runs/999999")).status_code == 404


async def test_without_a_scripts_service_a_start_is_unavailable_and_nothing_breaks(
    panel: Panel,
) -> None:
    answer = await panel.api(Role.operator).post("/runs", json={"scenario_id": 1, "chat_id": 1})
    assert answer.status_code == 503 and "not running" in answer.json()["detail"]


async def test_a_scenario_with_a_run_not_over_cannot_be_archived(panel: Panel) -> None:
    api = panel.api()
    anna, boris = await add_scripts_accounts(panel.db, "anna", "boris")
    chat = await own_chat(panel.db)
    scenario = (await api.post("/scenarios", json={"name": "w", "source": SCENE})).json()
    run_id = await played_run(panel.db, scenario["id"], chat, {"host": anna, "guest": boris})
    refused = await api.delete(f"/scenarios/{scenario['id']}")
    assert refused.status_code == 409 and str(run_id) in refused.json()["detail"]
    other = (await api.post("/scenarios", json={"name": "w2", "source": SCENE})).json()
    assert (await api.delete(f"/scenarios/{other['id']}")).status_code == 204
    assert [s["name"] for s in (await api.get("/scenarios")).json()] == ["w"]
    archived = (await api.get("/scenarios", params={"archived": "true"})).json()
    assert {s["name"]: s["status"] for s in archived} == {"w": "active", "w2": "archived"}


async def test_a_run_says_what_it_is_doing_from_its_place_in_the_scene(panel: Panel) -> None:
    api = panel.api(Role.viewer)
    anna, boris = await add_scripts_accounts(panel.db, "anna", "boris")
    chat = await own_chat(panel.db)
    scenario = (await panel.api().post("/scenarios", json={"name": "w", "source": SCENE})).json()
    run_id = await played_run(panel.db, scenario["id"], chat, {"host": anna, "guest": boris})
    soon = datetime.now(UTC) + timedelta(seconds=30)
    async with panel.db.transaction() as session:
        await session.execute(
            update(SceneRunLine).where(SceneRunLine.run_id == run_id).values(status="sent")
        )

    async def state(**values: object) -> dict[str, object]:
        async with panel.db.transaction() as session:
            await session.execute(update(SceneRun).where(SceneRun.id == run_id).values(**values))
        shown: dict[str, object] = (await api.get(f"/runs/{run_id}")).json()["state"]
        return shown

    waiting = await state(pc=1, next_at=soon)  # the pause after the first line
    assert waiting["kind"] == "waiting" and waiting["text"] in ("waiting 29 s", "waiting 30 s")
    listening = await state(pc=3, next_at=soon)  # the listen
    assert listening["kind"] == "listening" and "listening until" in str(listening["text"])
    async with panel.db.transaction() as session:
        session.add(
            SceneRunEvent(run_id=run_id, kind="flood_wait", detail={}, at=datetime.now(UTC))
        )
    flooded = await state(pc=4)
    assert flooded["kind"] == "flood_wait" and "FloodWait" in str(flooded["text"])
    assert (await state(status="paused"))["text"] == "paused"
    failed = await state(status="failed", reason="account boris banned")
    assert failed["text"] == "failed: account boris banned"

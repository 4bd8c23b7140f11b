"""Scenes in the panel: the editor shows every error at its line as the admin types and saves
nothing while there are any; saving makes versions; simulating shows a timeline; the cast page
refuses one account for two roles next to the role; starting a run offers only own chats and
shows the scripts service's reasons; the live run page shows lines and members' messages in
time order and stops polling once the run is over."""

from __future__ import annotations

import re

from sqlalchemy import func, select, update

from core.access import Role
from core.db import Database
from core.db.models import Chat
from core.db.scene_models import Scenario, SceneRun
from core.scene_commands import SceneCommand, SceneResult
from tests.integration.conftest import Panel
from tests.integration.scenes_world import (
    SCENE,
    ScriptsService,
    add_scripts_accounts,
    own_chat,
    played_run,
)

TYPO = SCENE.replace("guest [reply hello]:", "gust [reply hello]:")


async def _scenarios(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Scenario)) or 0)


async def test_a_russian_speaking_admin_reads_the_scene_pages_in_russian(panel: Panel) -> None:
    browser = await panel.browser()
    assert (await browser.post("/me/preferences", data={"language": "ru"})).status_code < 400
    listed = await browser.get("/scenes")
    assert "Сцен пока нет." in listed.text and "Новая сцена" in listed.text
    checked = await browser.post("/scenes/check", data={"source": TYPO})
    assert "строка 7, столбец 1" in checked.text
    assert "ничего не сохранится" in checked.text


async def test_the_editor_shows_each_error_at_its_line_and_a_fixed_scene_shows_none(
    panel: Panel,
) -> None:
    browser = await panel.browser()
    broken = await browser.post("/scenes/check", data={"source": TYPO})
    assert broken.status_code == 200
    assert 'data-count="1"' in broken.text and 'data-lines="7"' in broken.text
    assert 'data-line="7" data-column="1"' in broken.text
    assert "line 7, col 1: unknown role" in broken.text and "host, guest" in broken.text
    fixed = await browser.post("/scenes/check", data={"source": SCENE})
    assert 'data-count="0"' in fixed.text and 'data-testid="scene-ok"' in fixed.text
    assert "host, guest" in fixed.text  # the roles it declares
    viewer = await panel.browser(Role.viewer)
    assert (await viewer.post("/scenes/check", data={"source": TYPO})).status_code == 200


async def test_saving_a_scene_with_errors_keeps_the_text_marks_the_line_and_saves_nothing(
    panel: Panel,
) -> None:
    browser = await panel.browser()
    refused = await browser.post("/scenes", data={"name": "welcome", "source": TYPO})
    assert refused.status_code == 422
    assert "gust [reply hello]:" in refused.text  # what was typed stays in the form
    assert re.search(r'data-gutter-line="7" class="has-error" title="unknown role', refused.text)
    assert await _scenarios(panel.db) == 0

    made = await browser.post("/scenes", data={"name": "welcome", "source": SCENE})
    assert made.status_code == 303
    page = await browser.get(made.headers["location"])
    assert page.status_code == 200 and 'data-version="1"' in page.text
    changed = SCENE.replace("Thanks!", "Thank you!")
    saved = await browser.post(made.headers["location"], data={"source": changed})
    assert saved.status_code == 303
    page = await browser.get(made.headers["location"])
    assert 'data-version="2"' in page.text and "Thank you!" in page.text
    old = await browser.get(made.headers["location"], params={"version": "1"})
    assert 'data-testid="old-version"' in old.text and "Thanks! Where" in old.text
    again = await browser.post(made.headers["location"], data={"source": TYPO})
    assert again.status_code == 422 and "gust [reply hello]" in again.text
    taken = await browser.post("/scenes", data={"name": "welcome", "source": SCENE})
    assert taken.status_code == 409 and "already exists" in taken.text


async def test_simulating_shows_the_timeline_with_accounts_and_problems(panel: Panel) -> None:
    browser = await panel.browser()
    anna, boris = await add_scripts_accounts(panel.db, "anna", "boris")
    chat = await own_chat(panel.db, link="https://cool.example")
    made = await browser.post("/scenes", data={"name": "welcome", "source": SCENE})
    base = made.headers["location"]
    assert (
        await browser.post(f"{base}/cast", data={"role.host": str(anna), "role.guest": ""})
    ).status_code == 303
    shown = await browser.get(base, params={"seed": "4", "chat": str(chat)})
    assert 'data-testid="timeline"' in shown.text
    assert shown.text.count('data-kind="say"') >= 3
    assert "anna" in shown.text and "https://cool.example" in shown.text
    assert "role guest has no account" in shown.text  # the problems follow the table
    bad = await browser.get(base, params={"seed": "x"})
    assert bad.status_code == 200 and "is not a seed" in bad.text
    assert boris  # the second account exists but plays nothing yet


async def test_the_cast_page_refuses_one_account_for_two_roles_next_to_the_role(
    panel: Panel,
) -> None:
    browser = await panel.browser()
    anna, boris = await add_scripts_accounts(panel.db, "anna", "boris")
    base = (await browser.post("/scenes", data={"name": "w", "source": SCENE})).headers["location"]
    page = await browser.get(f"{base}/cast")
    assert page.status_code == 200 and 'data-testid="uncast"' in page.text
    twice = await browser.post(
        f"{base}/cast", data={"role.host": str(anna), "role.guest": str(anna)}
    )
    assert twice.status_code == 422
    assert (
        "one account, one role" in twice.text
        and 'id="cast-guest" name="role.guest" class="form-select is-invalid"' in twice.text
    )
    fine = await browser.post(
        f"{base}/cast", data={"role.host": str(anna), "role.guest": str(boris)}
    )
    assert fine.status_code == 303
    listed = await browser.get("/scenes")
    assert "host · anna" in listed.text and "guest · boris" in listed.text
    viewer = await panel.browser(Role.viewer)
    assert (await viewer.post(f"{base}/cast", data={"role.host": ""})).status_code == 403


async def test_starting_a_run_offers_only_own_chats_and_shows_the_refusal_reasons(
    panel: Panel,
) -> None:
    browser = await panel.browser(Role.operator)
    admin = await panel.browser()
    base = (await admin.post("/scenes", data={"name": "w", "source": SCENE})).headers["location"]
    nothing = await browser.get(f"{base}/start")
    assert 'data-testid="no-own-chats"' in nothing.text and 'data-testid="own-note"' in nothing.text
    chat = await own_chat(panel.db, link="https://cool.example")
    async with panel.db.transaction() as session:
        session.add(Chat(ref="@someone_elses"))
    form = await browser.get(f"{base}/start")
    assert f'<option value="{chat}" selected>' in form.text and "@someone_elses" not in form.text
    assert 'value="https://cool.example"' in form.text  # the chat's variable, prefilled

    def refuse(command: SceneCommand) -> SceneResult:
        return SceneResult(
            outcome="refused",
            detail="the run was not started",
            problems=["every account of the cast is busy in another run of this chat"],
        )

    service = ScriptsService(refuse)
    await service.serve(panel.bus)
    typed = {
        "chat": str(chat),
        "when": "spread",
        "runs": "3",
        "window": "90",
        "seed": "12",
        "var.product": "Cool",
        "var.link": "",
    }
    refused = await browser.post(f"{base}/start", data=typed)
    assert refused.status_code == 422
    assert "every account of the cast is busy" in refused.text
    assert 'value="Cool"' in refused.text  # typed values stay
    heard = service.heard[0]
    assert (heard.chat_id, heard.runs, heard.window_minutes, heard.seed) == (chat, 3, 90, 12)
    assert heard.variables == {"product": "Cool"}  # an empty field leaves the chat's value
    bad = await browser.post(f"{base}/start", data={**typed, "runs": "0"})
    assert bad.status_code == 422 and len(service.heard) == 1  # refused before sending
    viewer = await panel.browser(Role.viewer)
    assert (await viewer.get(f"{base}/start")).status_code == 403


async def test_a_started_run_leads_to_its_live_page_with_lines_and_members_in_time_order(
    panel: Panel,
) -> None:
    admin = await panel.browser()
    anna, boris = await add_scripts_accounts(panel.db, "anna", "boris")
    chat = await own_chat(panel.db)
    base = (await admin.post("/scenes", data={"name": "w", "source": SCENE})).headers["location"]
    scenario_id = int(base.rsplit("/", 1)[1])
    run_id = await played_run(panel.db, scenario_id, chat, {"host": anna, "guest": boris})
    service = ScriptsService(lambda c: SceneResult(outcome="done", run_ids=[run_id]))
    await service.serve(panel.bus)
    operator = await panel.browser(Role.operator)
    started = await operator.post(f"{base}/start", data={"chat": str(chat), "when": "now"})
    assert started.status_code == 303 and started.headers["location"] == f"/runs/{run_id}"

    page = await operator.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert f'hx-get="/runs/{run_id}/live" hx-trigger="every 2s"' in page.text
    assert 'data-state="typing"' in page.text
    order = [
        m.group(0) for m in re.finditer(r'data-line-status="\w+"|data-member-message', page.text)
    ]
    assert order == ['data-line-status="sent"', "data-member-message", 'data-line-status="queued"']
    assert "#501" in page.text and "Hello from a real member" in page.text
    history = re.findall(r'data-event="(\w+)"', page.text)
    assert history == ["line_sent", "started"]  # the newest first
    paused = await operator.post(f"/runs/{run_id}/pause")
    assert paused.status_code == 200 and 'id="run-live"' in paused.text
    assert service.heard[-1].action == "pause" and service.heard[-1].run_id == run_id

    async with panel.db.transaction() as session:
        await session.execute(
            update(SceneRun)
            .where(SceneRun.id == run_id)
            .values(status="failed", reason="account boris banned")
        )
    over = await operator.get(f"/runs/{run_id}/live")
    assert "hx-trigger" not in over.text  # no more polling
    assert "failed: account boris banned" in over.text
    listed = await operator.get("/runs", params={"status": "failed"})
    assert f'data-run="{run_id}"' in listed.text and "1 / 2" in listed.text
    assert f'data-run="{run_id}"' not in (await operator.get("/runs?status=playing")).text

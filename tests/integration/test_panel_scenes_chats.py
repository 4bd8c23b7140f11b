"""Own communities from the chats page and API: the switch and the scene variables are saved
with the workspace file's rules, shown as badges in the list, kept by an API change that leaves
them out, and a chat marked own is then offered for a run."""

from __future__ import annotations

from sqlalchemy import select

from core.access import Role
from core.db.models import Chat
from tests.integration.conftest import Panel


async def _chat(panel: Panel, ref: str) -> Chat:
    async with panel.db.session() as session:
        found = await session.scalar(select(Chat).where(Chat.ref == ref))
    assert found is not None
    return found


async def test_marking_a_chat_as_own_with_variables_shows_badges_and_offers_it_for_runs(
    panel: Panel,
) -> None:
    browser = await panel.browser()
    chat = await _chat(panel, "@jobs")
    typed = {
        "ref": "@jobs",
        "title": "Jobs",
        "own": "1",
        "vars": "product = CoolThing\n\nlink = https://c.example",
    }
    saved = await browser.post(f"/chats/{chat.id}", data=typed)
    assert saved.status_code == 303
    after = await _chat(panel, "@jobs")
    assert after.own and after.scene_vars == {"product": "CoolThing", "link": "https://c.example"}
    listed = await browser.get("/chats")
    assert 'data-testid="own-chat"' in listed.text and "2 scene variables" in listed.text
    form = await browser.get(f"/chats/{chat.id}")
    assert 'id="chat-own" checked' in form.text and "link = https://c.example" in form.text
    made = await browser.post(
        "/scenes", data={"name": "w", "source": "roles: host\nvars: link\nhost: see {link}\n"}
    )
    start = await (await panel.browser(Role.operator)).get(f"{made.headers['location']}/start")
    assert f'<option value="{chat.id}" selected>Jobs (@jobs)</option>' in start.text
    assert 'value="https://c.example"' in start.text  # prefilled from the chat


async def test_a_malformed_variable_is_refused_next_to_the_field_and_nothing_changes(
    panel: Panel,
) -> None:
    browser = await panel.browser()
    chat = await _chat(panel, "@jobs")
    no_equals = await browser.post(
        f"/chats/{chat.id}", data={"ref": "@jobs", "own": "1", "vars": "product CoolThing"}
    )
    assert no_equals.status_code == 422
    assert "line 1: write name = value" in no_equals.text and "product CoolThing" in no_equals.text
    bad_name = await browser.post(
        f"/chats/{chat.id}", data={"ref": "@jobs", "own": "1", "vars": "2fast = x"}
    )
    assert bad_name.status_code == 422 and "2fast" in bad_name.text
    unchanged = await _chat(panel, "@jobs")
    assert not unchanged.own and unchanged.scene_vars == {}


async def test_an_api_change_that_leaves_own_and_vars_out_keeps_them(panel: Panel) -> None:
    api = panel.api()
    chat = await _chat(panel, "@jobs")
    marked = await api.put(
        f"/chats/{chat.id}", json={"ref": "@jobs", "own": True, "vars": {"product": "Cool"}}
    )
    assert marked.status_code == 200
    assert marked.json()["own"] is True and marked.json()["vars"] == {"product": "Cool"}
    renamed = await api.put(f"/chats/{chat.id}", json={"ref": "@jobs", "title": "Jobs"})
    assert renamed.json()["own"] is True and renamed.json()["vars"] == {"product": "Cool"}
    cleared = await api.put(f"/chats/{chat.id}", json={"ref": "@jobs", "own": False, "vars": {}})
    assert cleared.json()["own"] is False and cleared.json()["vars"] == {}
    bad = await api.put(f"/chats/{chat.id}", json={"ref": "@jobs", "vars": {"bad name": "x"}})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "vars"

"""A campaign's prompt from the panel and the API: saving records the version (as the manager
would) and tells the services; a template error names its line next to the field and writes
nothing; versions list newest first with their results; a diff shows the changed lines; an
earlier version comes back; the preview is rendered for a real lead of the campaign."""

from __future__ import annotations

from sqlalchemy import func, select

from core.access import Role
from core.db import Database
from core.db.models import (
    AuditEntry,
    Campaign,
    Conversation,
    ConversationMessage,
    OutboxMessage,
    PromptTemplate,
)
from core.outreach import DEFAULT_PROMPT
from manager.prompts import template_version
from tests.integration.conftest import Panel, World

GREET = "{% if profile.name %}Greet {{ profile.name }}.{% endif %}"
NEW = f"You write for a web studio.\nOffer: {{{{ offer }}}}\nBe brief.\n{GREET}"
NEWER = (
    f"You write for a web studio.\nOffer: {{{{ offer }}}}\nBe very brief, two sentences.\n{GREET}"
    "\nAsk one question."
)


async def _campaign(db: Database, name: str = "web") -> Campaign:
    async with db.session() as session:
        found = await session.scalar(select(Campaign).where(Campaign.name == name))
    assert found is not None
    return found


async def _count(db: Database, *where: object) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).where(*where)) or 0)  # type: ignore[arg-type]


async def test_saving_a_prompt_records_its_version_and_it_is_listed_newest_first_as_current(
    panel: Panel,
) -> None:
    browser, api = await panel.browser(), panel.api()
    campaign = await _campaign(panel.db)
    before = (await api.get(f"/campaigns/{campaign.id}/prompt")).json()
    assert [v["version"] for v in before["versions"]] == [template_version(DEFAULT_PROMPT)]
    assert before["versions"][0]["current"] and before["versions"][0]["created_at"] is None

    saved = await browser.post(f"/campaigns/{campaign.id}/prompt", data={"prompt": NEW})
    assert saved.status_code == 303
    page = await browser.get(saved.headers["location"])
    version = template_version(NEW)
    assert f'data-testid="current-version">{version}' in page.text
    listed = (await api.get(f"/campaigns/{campaign.id}/prompt")).json()
    assert [v["version"] for v in listed["versions"]] == [version, template_version(DEFAULT_PROMPT)]
    assert listed["versions"][0]["current"] and not listed["versions"][1]["current"]
    assert (await _campaign(panel.db)).outreach["prompt"] == NEW
    assert await _count(panel.db, PromptTemplate.version == version) == 1
    assert await _count(panel.db, AuditEntry.action == "prompt_changed") == 1
    assert await _count(panel.db, OutboxMessage.routing_key == "config.changed") >= 1
    again = await api.put(f"/campaigns/{campaign.id}/prompt", json={"prompt": NEW})
    assert again.status_code == 200  # the same text is the same version: one row
    assert await _count(panel.db, PromptTemplate.version == version) == 1


async def test_a_template_error_names_its_line_next_to_the_field_and_nothing_is_written(
    panel: Panel,
) -> None:
    browser, api = await panel.browser(), panel.api()
    campaign = await _campaign(panel.db)
    typed = "Hello\nOffer: {{ offer }}\nAge: {{ age }}"
    refused = await browser.post(f"/campaigns/{campaign.id}/prompt", data={"prompt": typed})
    assert refused.status_code == 422
    assert "line 3" in refused.text and "unknown variable age" in refused.text
    assert "is-invalid" in refused.text and "Age: {{ age }}" in refused.text  # typed text stays
    spintax = {"prompt": NEW, "templates": "Hi {name}!\n{Hello|Hi there"}
    bad = await browser.post(f"/campaigns/{campaign.id}/prompt", data=spintax)
    assert bad.status_code == 422 and "template 2" in bad.text
    assert 'data-testid="templates-error"' in bad.text
    over_api = await api.put(f"/campaigns/{campaign.id}/prompt", json={"prompt": "{% if %}"})
    assert over_api.status_code == 422
    assert over_api.json()["detail"][0]["field"] == "prompt"
    assert "line 1" in over_api.json()["detail"][0]["reason"]
    blank = await api.put(f"/campaigns/{campaign.id}/prompt", json={"prompt": "  \n"})
    assert blank.status_code == 422 and "write the prompt" in blank.json()["detail"][0]["reason"]
    nul = await api.put(f"/campaigns/{campaign.id}/prompt", json={"prompt": "Be brief.\x00"})
    assert nul.status_code == 422, nul.text  # PostgreSQL refuses a NUL: it answered 500
    assert nul.json()["detail"][0]["field"] == "prompt"
    assert "control character" in nul.json()["detail"][0]["reason"]
    typed_nul = await browser.post(f"/campaigns/{campaign.id}/prompt", data={"prompt": "Hi\x00"})
    assert typed_nul.status_code == 422 and "control character" in typed_nul.text
    assert await _count(panel.db, PromptTemplate.campaign_id == campaign.id) == 0
    assert await _count(panel.db, AuditEntry.action == "prompt_changed") == 0
    assert "prompt" not in ((await _campaign(panel.db)).outreach or {})


async def test_a_diff_shows_the_changed_lines_and_an_earlier_version_can_be_used_again(
    panel: Panel,
) -> None:
    browser, api = await panel.browser(), panel.api()
    campaign = await _campaign(panel.db)
    base = f"/campaigns/{campaign.id}/prompt"
    assert (await api.put(base, json={"prompt": NEW})).status_code == 200
    assert (await api.put(base, json={"prompt": NEWER})).status_code == 200
    old, new = template_version(NEW), template_version(NEWER)
    page = await browser.get(base, params={"a": old, "b": new})
    assert page.status_code == 200
    assert 'data-kind="changed"' in page.text and 'data-kind="added"' in page.text
    assert "Be very brief, two sentences." in page.text and "Ask one question." in page.text
    lines = (await api.get(f"{base}/diff", params={"a": old, "b": new})).json()
    changed = [line for line in lines if line["kind"] != "same"]
    assert changed[0] == {
        "kind": "changed",
        "left_no": 3,
        "left": "Be brief.",
        "right_no": 3,
        "right": "Be very brief, two sentences.",
    }
    assert changed[-1]["kind"] == "added" and changed[-1]["right"] == "Ask one question."

    used = await browser.post(f"{base}/versions/{old}/use")
    assert used.status_code == 303
    listed = (await api.get(base)).json()
    assert listed["current_version"] == old and listed["prompt"] == NEW
    assert [v["version"] for v in listed["versions"] if v["current"]] == [old]
    assert await _count(panel.db, AuditEntry.action == "prompt_restored") == 1
    missing = await browser.post(f"{base}/versions/{'0' * 12}/use")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert (await browser.get(base, params={"a": "0" * 12, "b": new})).status_code == 404


async def test_the_preview_is_rendered_for_a_real_lead_of_the_campaign_with_their_name(
    panel: Panel,
) -> None:
    browser, api = await panel.browser(), panel.api()
    campaign = await _campaign(panel.db)
    other = await _campaign(panel.db, "other")
    base = f"/campaigns/{campaign.id}/prompt"
    templates = ["{Здравствуйте|Добрый день}, {name}! {offer}"]
    assert (await api.put(base, json={"prompt": NEW, "templates": templates})).status_code == 200
    world = World(panel.db)
    lead = await world.lead(4242, campaign=campaign.id, text="Ищу разработчика для лендинга")
    stranger = await world.lead(4343, campaign=other.id)

    page = await browser.get(base, params={"lead": lead.lead_id})
    assert f'data-lead="{lead.lead_id}"' in page.text
    assert "Анна" in page.text and "Ищу разработчика для лендинга" in page.text
    assert "Здравствуйте, Анна!" in page.text or "Добрый день, Анна!" in page.text
    shown = (await api.get(f"{base}/preview", params={"lead_id": lead.lead_id})).json()
    system, data = shown["messages"][0]["content"], shown["messages"][-1]["content"]
    assert "Greet [the lead's profile name, see the data block]." in system
    assert "Анна" in data and "Сайты за месяц." in system
    assert all("Анна" in text for text in shown["variants"][0]["texts"])
    foreign = await api.get(f"{base}/preview", params={"lead_id": stranger.lead_id})
    assert foreign.status_code == 404
    refused = await browser.get(base, params={"lead": stranger.lead_id})
    assert 'data-testid="lead-error"' in refused.text


async def test_reply_rate_per_version_counts_conversations_answered_after_it(
    panel: Panel,
) -> None:
    api = panel.api()
    campaign = await _campaign(panel.db)
    world = World(panel.db)
    version = template_version(DEFAULT_PROMPT)
    found = {user: await world.lead(user, campaign=campaign.id) for user in (501, 502)}
    async with panel.db.transaction() as session:
        for user, answered in ((501, True), (502, False)):
            talk = Conversation(
                campaign_id=campaign.id,
                lead_id=found[user].lead_id,
                telegram_user_id=user,
                status="active",
            )
            session.add(talk)
            await session.flush()
            session.add(_message(talk.id, "out", 0, version))
            await session.flush()
            if answered:
                session.add(_message(talk.id, "in", 77, None))
    listed = (await api.get(f"/campaigns/{campaign.id}/prompt")).json()
    current = listed["versions"][0]
    assert (current["sent"], current["conversations"], current["replied"]) == (2, 2, 1)
    assert current["reply_rate"] == 0.5


def _message(
    conversation: int, direction: str, slot: int, version: str | None
) -> ConversationMessage:
    return ConversationMessage(
        conversation_id=conversation,
        direction=direction,
        slot=slot,
        text="Здравствуйте!" if direction == "out" else "Да, интересно",
        status="sent" if direction == "out" else "received",
        template_version=version,
    )


async def test_only_admins_change_a_prompt_and_unknown_campaigns_are_404(panel: Panel) -> None:
    campaign = await _campaign(panel.db)
    base = f"/campaigns/{campaign.id}/prompt"
    viewer, operator = await panel.browser(Role.viewer), panel.api(Role.operator)
    assert (await viewer.get(base)).status_code == 200
    assert (await viewer.get("/prompts")).status_code == 200
    assert (await viewer.post(base, data={"prompt": NEW})).status_code == 403
    assert (await operator.put(base, json={"prompt": NEW})).status_code == 403
    use = await operator.post(f"{base}/versions/{template_version(DEFAULT_PROMPT)}/use")
    assert use.status_code == 403
    assert (await viewer.get("/campaigns/99999/prompt")).status_code == 404
    assert (await panel.api().get("/campaigns/99999/prompt")).status_code == 404
    assert (
        await panel.api().put("/campaigns/99999/prompt", json={"prompt": NEW})
    ).status_code == 404
    assert await _count(panel.db, PromptTemplate.campaign_id == campaign.id) == 0


async def test_a_campaign_with_broken_stored_settings_says_so_instead_of_failing(
    panel: Panel,
) -> None:
    campaign = await _campaign(panel.db)
    async with panel.db.transaction() as session:
        stored = await session.get(Campaign, campaign.id)
        assert stored is not None
        stored.outreach = {"timezone": "Mars/Olympus"}  # written before the rule existed
    browser = await panel.browser()
    page = await browser.get(f"/campaigns/{campaign.id}/prompt")
    assert page.status_code == 409 and "Mars/Olympus" in page.text
    listed = await browser.get("/prompts")
    assert listed.status_code == 200 and "invalid settings" in listed.text
    over_api = await panel.api().get(f"/campaigns/{campaign.id}/prompt")
    assert over_api.status_code == 409 and "timezone" in over_api.json()["detail"]
    refused = await browser.post(f"/campaigns/{campaign.id}/prompt", data={"prompt": NEW})
    assert refused.status_code == 409 and "Mars/Olympus" in refused.text

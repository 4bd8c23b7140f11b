"""The panel's pages through the real app: signing in and out, the inbox for each role, a draft
approved or refused from the page, errors in the panel's look (never JSON or a traceback), and the
interface switched to Russian."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, admin_app
from tests.integration.conftest import World, first_id, sign_in


async def test_a_page_needs_a_signed_in_user_and_the_sign_in_leads_back_to_it(
    browser: httpx.AsyncClient,
) -> None:
    away = await browser.get("/inbox")
    assert away.status_code == 303 and away.headers["location"] == "/login?next=/inbox"
    form = await browser.get(away.headers["location"])
    assert form.status_code == 200 and 'name="password"' in form.text
    wrong = await browser.post("/login", data={"login": "operator", "password": "nope"})
    assert wrong.status_code == 400 and "Wrong login or password." in wrong.text
    assert "coolthing_session" not in browser.cookies
    right = await browser.post(
        "/login", data={"login": "operator", "password": PASSWORD, "next": "/inbox"}
    )
    assert right.status_code == 303 and right.headers["location"] == "/inbox"
    page = await browser.get("/inbox")
    assert page.status_code == 200 and 'data-testid="current-user">operator<' in page.text


async def test_a_foreign_next_address_never_leaves_the_site(browser: httpx.AsyncClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        data = {"login": "operator", "password": PASSWORD, "next": target}
        answer = await browser.post("/login", data=data)
        assert answer.headers["location"] == "/inbox", target


async def test_a_held_draft_is_approved_from_the_inbox_and_a_second_press_says_who_did(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    await panel_world.conversations.on_lead(await panel_world.lead(user=801))
    await sign_in(browser, "operator")
    inbox = await browser.get("/inbox?need=needs_approval")
    assert inbox.status_code == 200 and 'data-testid="draft"' not in inbox.text
    conversation_id = first_id(inbox.text, "data-conversation")
    page = await browser.get(f"/inbox/{conversation_id}")
    assert 'data-testid="draft"' in page.text and "the campaign requires approval" in page.text
    assert "New DMs left today for manager-" in page.text  # what would stop the next message
    draft_id = first_id(page.text, "data-message")
    headers = {"HX-Request": "true", "HX-Target": "dialogue"}
    approved = await browser.post(f"/inbox/drafts/{draft_id}/approve", headers=headers)
    assert approved.status_code == 200 and 'data-testid="draft"' not in approved.text
    assert await panel_world.dispatcher.dispatch_due() == 1
    again = await browser.post(f"/inbox/drafts/{draft_id}/approve", headers=headers)
    assert again.status_code == 409 and "already approved by operator" in again.text


async def test_an_edit_that_fails_the_checks_is_refused_next_to_the_text_and_kept(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    await panel_world.conversations.on_lead(await panel_world.lead(user=802))
    await sign_in(browser, "operator")
    inbox = await browser.get("/inbox")
    conversation_id = first_id(inbox.text, "data-conversation")
    page = await browser.get(f"/inbox/{conversation_id}")
    draft_id = first_id(page.text, "data-message")
    edit = "Pay here: https://pay.evil.click/x"
    refused = await browser.post(f"/inbox/drafts/{draft_id}/approve", data={"text": edit})
    assert refused.status_code == 422
    assert "pay.evil.click" in refused.text and edit in refused.text  # what they typed stays
    assert await panel_world.dispatcher.dispatch_due() == 0


async def test_a_viewer_reads_the_inbox_but_gets_no_buttons_and_may_not_decide(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    await panel_world.conversations.on_lead(await panel_world.lead(user=803))
    await sign_in(browser, "viewer")
    inbox = await browser.get("/inbox")
    conversation_id = first_id(inbox.text, "data-conversation")
    page = await browser.get(f"/inbox/{conversation_id}")
    assert page.status_code == 200 and "/approve" not in page.text
    draft_id = first_id(page.text, "data-message")
    refused = await browser.post(f"/inbox/drafts/{draft_id}/approve")
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]


@pytest.mark.parametrize("address", ["/inbox/999999", "/inbox/abc", "/inbox/-1", "/nowhere"])
async def test_a_missing_or_malformed_address_is_a_page_not_json(
    browser: httpx.AsyncClient, address: str
) -> None:
    await sign_in(browser, "operator")
    answer = await browser.get(address)
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "Traceback" not in answer.text and 'data-testid="error-reason"' in answer.text


async def test_the_interface_switches_to_russian_for_that_user(browser: httpx.AsyncClient) -> None:
    await sign_in(browser, "operator")
    switched = await browser.post("/me/preferences", data={"language": "ru"})
    assert switched.status_code == 204
    page = await browser.get("/inbox")
    assert page.headers["content-language"] == "ru" and "Входящие" in page.text
    bad = await browser.post("/me/preferences", data={"language": "xx"})
    assert bad.status_code == 400


async def test_the_app_refuses_to_start_without_the_built_assets(
    monkeypatch: pytest.MonkeyPatch, panel_world: World, tmp_path: Path
) -> None:
    from admin.pages import assets

    monkeypatch.setattr(assets, "STATIC", tmp_path)
    with pytest.raises(assets.AssetsMissing, match="make assets"):
        admin_app(panel_world.db, panel_world.bus)


async def test_leads_are_listed_filtered_opened_and_exported_as_csv(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    await panel_world.lead(user=811, text="Ищу разработчика для магазина")
    await panel_world.lead(user=812, text='=HYPERLINK("http://evil.example") нужен разработчик')
    await sign_in(browser, "viewer")
    listed = await browser.get("/leads")
    assert listed.status_code == 200 and 'data-testid="lead-total">2 leads' in listed.text
    none = await browser.get("/leads?keyword=designer")
    assert 'data-testid="lead-total">0 leads' in none.text and "No leads yet." in none.text
    found = await browser.get("/leads?keyword=разработчик&chat=jobs")
    assert 'data-testid="lead-total">2 leads' in found.text
    lead_id = first_id(listed.text, "data-lead")
    page = await browser.get(f"/leads/{lead_id}")
    assert page.status_code == 200 and "Source messages" in page.text
    exported = await browser.get("/leads.csv?keyword=разработчик")
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.strip().splitlines()
    assert lines[0].startswith("id,campaign,status") and len(lines) == 3
    assert "'=HYPERLINK" in exported.text  # a spreadsheet will not run it
    assert (await browser.get("/leads/999999")).status_code == 404
    bad_day = await browser.get("/leads?since=yesterday")
    assert bad_day.status_code == 400 and "since" in bad_day.text


async def test_only_an_owner_opens_the_users_page_and_adds_a_user_there(
    browser: httpx.AsyncClient,
) -> None:
    await sign_in(browser, "operator")
    refused = await browser.get("/users")
    assert refused.status_code == 403 and "Your role may not open this page." in refused.text
    assert 'href="/users"' not in (await browser.get("/inbox")).text  # not even offered
    await sign_in(browser, "owner")
    page = await browser.get("/users")
    assert page.status_code == 200 and 'data-user="operator"' in page.text
    weak = {"login": "nina", "password": "short", "role": "viewer"}
    refused = await browser.post("/users", data=weak)
    assert refused.status_code == 422 and 'value="nina"' in refused.text
    assert "invalid-feedback" in refused.text
    added = await browser.post(
        "/users", data={"login": "nina", "password": "a long enough secret", "role": "viewer"}
    )
    assert added.status_code == 200 and 'data-user="nina"' in added.text
    demoted = await browser.post("/users/owner", data={"role": "viewer"})
    assert demoted.status_code == 409 and "owner" in demoted.text  # the last owner stays


async def test_an_operator_opening_a_conversation_sees_a_colleague_who_has_it_open(
    panel_world: World,
) -> None:
    await panel_world.conversations.on_lead(await panel_world.lead(user=805))
    app = admin_app(panel_world.db, panel_world.bus)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as first,
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as second,
    ):
        await sign_in(first, "operator")
        await sign_in(second, "admin")
        conversation_id = first_id((await first.get("/inbox")).text, "data-conversation")
        page = await first.get(f"/inbox/{conversation_id}")
        assert f'hx-get="/inbox/{conversation_id}/presence"' in page.text
        alone = await first.get(f"/inbox/{conversation_id}/presence")
        assert alone.status_code == 200 and 'data-testid="presence"' not in alone.text
        together = await second.get(f"/inbox/{conversation_id}/presence")
        assert "<strong>operator</strong>" in together.text
        assert "also has this conversation open" in together.text
        elsewhere = await second.get(f"/inbox/{conversation_id + 1000}/presence")
        assert elsewhere.status_code == 404
        back = await first.get(f"/inbox/{conversation_id}/presence")
        assert "<strong>admin</strong>" in back.text
        assert "<strong>operator</strong>" not in back.text


@pytest.mark.parametrize("page", ["/accounts", "/alerts", "/chats", "/inbox", "/leads"])
async def test_a_control_character_in_a_search_is_a_page_naming_it_not_a_500(
    browser: httpx.AsyncClient, page: str
) -> None:
    await sign_in(browser, "admin")
    for name in ("q", "chat", "keyword", "fingerprint"):
        answer = await browser.get(page, params={name: "web\x00dev"})
        assert answer.status_code == 400, (name, answer.text[:300])
        assert f"The address&#39;s {name} holds a control character" in answer.text
    assert (await browser.get(page, params={"q": "web\tdev"})).status_code == 200

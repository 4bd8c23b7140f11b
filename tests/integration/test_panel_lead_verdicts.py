"""The leads list shows the second stage's verdict (badge, score, reason), filters by it, and lets
operators teach it: "Lead" / "Not a lead" on a row reaches the parser as a ``LeadCommand`` with
the signed-in user as the actor; a viewer gets no buttons and is refused."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select, update

from core.db.intent_models import IntentExample
from core.db.models import Lead
from core.platform import Platform
from core.security import SecretBox
from core.settings import Settings
from parser.bootstrap import start_parser
from tests.integration.conftest import World, first_id, sign_in

HTMX = {"HX-Request": "true"}
REASON = "«ищу» +2.3, «магазина» +1.4, «разработчика» +1.1"


async def judged(world: World, user: int, intent: str | None, score: float, reason: str) -> int:
    """A lead as the parser's second stage leaves it."""
    found = await world.lead(user=user, text=f"Ищу разработчика для магазина, {user}")
    async with world.db.transaction() as session:
        await session.execute(
            update(Lead)
            .where(Lead.id == found.lead_id)
            .values(intent=intent, intent_score=score, intent_reason=reason)
        )
    return found.lead_id


def row_of(html: str, lead_id: int) -> str:
    start = html.index(f'data-lead="{lead_id}"')
    return html[start : html.index("</tr>", start)]


async def test_the_list_shows_each_leads_verdict_score_and_reason_and_filters_by_verdict(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    buyer = await judged(panel_world, 821, "lead", 0.91, REASON)
    seller = await judged(panel_world, 822, "maybe", 0.18, "«делаю» −2.0, «под ключ» −1.6")
    await sign_in(browser, "viewer")

    listed = await browser.get("/leads")

    row = row_of(listed.text, buyer)
    assert 'data-verdict="lead">Lead<' in row and "0.91" in row
    assert f'title="{REASON}"' in row  # the whole reason on hover
    assert 'data-verdict="maybe">Maybe<' in row_of(listed.text, seller)
    assert "Maybe — not written to" in listed.text
    maybes = await browser.get("/leads?intent=maybe")
    assert 'data-testid="lead-total">1 leads' in maybes.text
    assert first_id(maybes.text, "data-lead") == seller
    detail = await browser.get(f"/leads/{seller}")
    assert "«делаю» −2.0, «под ключ» −1.6" in detail.text and "0.18" in detail.text
    exported = await browser.get("/leads.csv?intent=lead")
    lines = exported.text.strip().splitlines()
    assert lines[0].endswith("intent,intent_score,intent_reason") and len(lines) == 2
    assert lines[1].endswith(f'lead,0.91,"{REASON}"')
    bad = await browser.get("/leads?intent=perhaps")
    assert bad.status_code == 400 and "intent" in bad.text


async def test_a_viewer_sees_no_mark_buttons_and_the_server_refuses_their_mark(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    lead_id = await judged(panel_world, 823, "maybe", 0.3, REASON)
    await sign_in(browser, "viewer")

    listed = await browser.get("/leads")
    refused = await browser.post(f"/leads/{lead_id}/mark", data={"mark": "lead"}, headers=HTMX)

    assert "data-mark=" not in row_of(listed.text, lead_id)
    assert refused.status_code == 403


async def test_an_operators_mark_reaches_the_parser_as_them_and_the_row_shows_the_new_verdict(
    panel_world: World, browser: httpx.AsyncClient, secret_box: SecretBox
) -> None:
    lead_id = await judged(panel_world, 824, "maybe", 0.3, REASON)
    platform = Platform(Settings(), panel_world.db, panel_world.bus, secret_box, panel_world.relay)
    parser = await start_parser(platform)  # the parser's own bootstrap serves the marks
    try:
        await sign_in(browser, "operator")
        listed = await browser.get("/leads")
        assert 'data-mark="lead"' in row_of(listed.text, lead_id)

        marked = await browser.post(
            f"/leads/{lead_id}/mark", data={"mark": "lead", "actor": "owner"}, headers=HTMX
        )

        assert marked.status_code == 200, marked.text
        row = f'<tr id="lead-{lead_id}" data-lead="{lead_id}"'
        assert marked.text.strip().startswith(row)  # the row, drawn again in place
        assert 'data-verdict="lead">Lead<' in marked.text
        assert "Marked a lead. The manager will write to them." in marked.text
        assert 'data-mark="lead"' not in marked.text and 'data-mark="not_lead"' in marked.text
        async with panel_world.db.session() as session:
            example = await session.scalar(
                select(IntentExample).where(IntentExample.lead_id == lead_id)
            )
        assert example is not None and example.label is True
        assert example.actor == "operator"  # the signed-in user, never the form's "actor"

        detail = await browser.get(f"/leads/{lead_id}")  # the lead's page has the same buttons
        assert 'hx-target="#lead-verdict"' in detail.text and REASON in detail.text
        there = await browser.post(
            f"/leads/{lead_id}/mark",
            data={"mark": "not_lead"},
            headers=HTMX | {"HX-Target": "lead-verdict"},
        )
        assert there.text.strip().startswith('<dd id="lead-verdict"')
        assert 'data-verdict="not_lead">Not a lead<' in there.text
        assert "Marked not a lead." in there.text
    finally:
        await parser.stop()


async def test_a_mark_while_the_parser_is_away_says_so_in_the_row_and_changes_nothing(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    lead_id = await judged(panel_world, 825, "maybe", 0.3, REASON)
    await sign_in(browser, "operator")

    marked = await asyncio.wait_for(
        browser.post(f"/leads/{lead_id}/mark", data={"mark": "not_lead"}, headers=HTMX), 30
    )

    assert marked.status_code == 503
    assert "Not saved: the parser is not answering" in marked.text
    assert 'data-verdict="maybe"' in marked.text

"""The panel's system pages through the real app: the audit log (admins and owners; filters,
pages, links, escaped details) and the do-not-contact list (everyone reads, operators add, remove
and import a CSV through the same operator commands as the JSON API)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from core.db import Database
from core.db.models import AuditEntry, Contact
from tests.integration.conftest import World, sign_in

HTMX = {"HX-Request": "true", "HX-Target": "dnc"}


async def listed(db: Database) -> dict[int, str | None]:
    async with db.session() as session:
        rows = await session.scalars(select(Contact).where(Contact.do_not_contact.is_(True)))
        return {row.telegram_user_id: row.dnc_reason for row in rows}


async def api_listed(http: httpx.AsyncClient) -> set[int]:
    answer = await http.get("/api/v1/do-not-contact?limit=500")
    assert answer.status_code == 200, answer.text
    return {item["telegram_user_id"] for item in answer.json()["items"]}


# ---- the audit log ------------------------------------------------------------------------------


@pytest.mark.parametrize(("login", "status"), [("viewer", 403), ("operator", 403), ("admin", 200)])
async def test_the_audit_log_opens_for_admins_and_above_only(
    browser: httpx.AsyncClient, login: str, status: int
) -> None:
    await sign_in(browser, login)
    answer = await browser.get("/audit")
    assert answer.status_code == status and answer.headers["content-type"].startswith("text/html")
    nav = (await browser.get("/do-not-contact")).text
    assert ('href="/audit"' in nav) is (status == 200)  # offered only to who may open it
    if status == 403:
        assert "Your role may not open this page." in answer.text
    else:
        assert 'data-testid="audit"' in answer.text and "<code>login</code>" in answer.text


async def test_an_owner_opens_the_audit_log_too(browser: httpx.AsyncClient) -> None:
    await sign_in(browser, "owner")
    answer = await browser.get("/audit")
    assert answer.status_code == 200 and 'data-testid="audit-total">1 entries' in answer.text


async def test_the_audit_log_filters_pages_links_and_escapes(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    long_ago = datetime(2020, 3, 1, 12, tzinfo=UTC)
    async with panel_world.db.transaction() as session:
        session.add(
            AuditEntry(
                at=long_ago,
                actor="alina",
                channel="api",
                action="rejected",
                conversation_id=77,
                message_id=78,
                lead_id=79,
                tokens=0,
                detail={"reason": "<script>alert(1)</script>", "problems": ["a", "b"]},
            )
        )
        for n in range(55):
            session.add(
                AuditEntry(
                    at=long_ago + timedelta(days=1, minutes=n),
                    actor="bot",
                    channel="system",
                    action="expired",
                    tokens=0,
                    detail={"n": n},
                )
            )
    await sign_in(browser, "admin")
    everything = await browser.get("/audit")
    assert 'data-testid="audit-total">57 entries' in everything.text  # and the sign-in
    assert everything.text.count("data-audit=") == 50 and "offset=50" in everything.text
    older = await browser.get("/audit?offset=50")
    assert older.text.count("data-audit=") == 7 and "offset=0" in older.text
    by_user = await browser.get("/audit?user=ALINA")
    assert 'data-testid="audit-total">1 entries' in by_user.text
    assert 'href="/inbox/77"' in by_user.text and 'href="/leads/79"' in by_user.text
    assert "<script>alert" not in by_user.text and "&lt;script&gt;alert(1)" in by_user.text
    assert '["a","b"]' in by_user.text.replace("&#34;", '"')
    by_action = await browser.get("/audit?action=expired&until=2020-03-02")
    assert 'data-testid="audit-total">55 entries' in by_action.text
    assert '<option value="expired" selected>' in by_action.text
    this_day = await browser.get("/audit?since=2020-03-01&until=2020-03-01")
    assert 'data-testid="audit-total">1 entries' in this_day.text
    nothing = await browser.get("/audit?user=nobody")
    assert "Nothing recorded matches these filters." in nothing.text
    bad_day = await browser.get("/audit?since=yesterday")
    assert bad_day.status_code == 400 and "since" in bad_day.text


# ---- the do-not-contact list --------------------------------------------------------------------


@pytest.mark.parametrize("login", ["viewer", "operator", "admin", "owner"])
async def test_everyone_reads_the_do_not_contact_list_and_only_operators_get_the_forms(
    browser: httpx.AsyncClient, login: str
) -> None:
    await sign_in(browser, login)
    page = await browser.get("/do-not-contact")
    assert page.status_code == 200 and "Nobody is on the do-not-contact list." in page.text
    assert ('data-testid="dnc-add"' in page.text) is (login != "viewer")


async def test_a_viewer_may_not_add_remove_or_import(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, "viewer")
    for path, kwargs in [
        ("/do-not-contact", {"data": {"telegram_user_id": "5"}}),
        ("/do-not-contact/5/remove", {}),
        ("/do-not-contact/import", {"files": {"file": ("a.csv", b"5\n", "text/csv")}}),
    ]:
        refused = await browser.post(path, **kwargs)  # type: ignore[arg-type] # the kwargs vary
        assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert await listed(panel_world.db) == {}


async def test_a_person_is_added_and_removed_from_the_page_and_the_api_agrees(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, "operator")
    data = {"telegram_user_id": " 4242 ", "reason": "asked by phone"}
    added = await browser.post("/do-not-contact", data=data, headers=HTMX)
    assert added.status_code == 200 and 'data-contact="4242"' in added.text
    assert "4242 is on the do-not-contact list." in added.text
    assert await listed(panel_world.db) == {4242: "asked by phone"}
    assert await api_listed(browser) == {4242}
    found = await browser.get("/do-not-contact?q=424")
    assert 'data-contact="4242"' in found.text and 'data-testid="dnc-total">1 people' in found.text
    missed = await browser.get("/do-not-contact?q=5")
    assert "Nobody on the list has an id starting with 5." in missed.text
    removed = await browser.post("/do-not-contact/4242/remove", headers=HTMX)
    assert removed.status_code == 200 and "4242 may be contacted again." in removed.text
    assert await listed(panel_world.db) == {} and await api_listed(browser) == set()
    again = await browser.post("/do-not-contact/4242/remove", headers=HTMX)
    assert again.status_code == 404 and "not on the do-not-contact list" in again.text
    await sign_in(browser, "admin")
    audit = await browser.get("/audit?user=operator&action=do_not_contact")
    assert "telegram_user_id:</span> 4242" in audit.text and ">panel<" in audit.text


async def test_a_bad_entry_is_refused_next_to_its_field_with_what_was_typed(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, "operator")
    bad_id = await browser.post(
        "/do-not-contact", data={"telegram_user_id": "12ab", "reason": "spam"}, headers=HTMX
    )
    assert bad_id.status_code == 422 and 'value="12ab"' in bad_id.text
    assert 'value="spam"' in bad_id.text and "digits only" in bad_id.text
    assert "is-invalid" in bad_id.text
    bad_reason = await browser.post(
        "/do-not-contact", data={"telegram_user_id": "7", "reason": "a\x1bb"}, headers=HTMX
    )
    assert bad_reason.status_code == 422 and "U+001B" in bad_reason.text
    too_big = await browser.post("/do-not-contact", data={"telegram_user_id": "9" * 17})
    assert too_big.status_code == 422 and "user id" in too_big.text
    bad_search = await browser.get("/do-not-contact?q=abc")
    assert bad_search.status_code == 200 and "digits only" in bad_search.text
    assert await listed(panel_world.db) == {}


@pytest.mark.parametrize(
    "address",
    ["/do-not-contact/abc/remove", "/do-not-contact/0/remove", "/do-not-contact/-4/remove"],
)
async def test_a_malformed_id_in_the_address_is_a_404_page(
    browser: httpx.AsyncClient, address: str
) -> None:
    await sign_in(browser, "operator")
    answer = await browser.post(address, headers=HTMX)
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
    assert 'data-testid="error-reason"' in answer.text


async def test_a_csv_is_imported_with_its_header_reasons_and_repeats(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, "operator")
    rows = 'user_id,reason\n1001,spam\n\n1002\n1003,"said stop, twice"\n1001,again\n'
    upload = {"file": ("list.csv", rows.encode(), "text/csv")}
    answer = await browser.post("/do-not-contact/import", files=upload, headers=HTMX)
    assert answer.status_code == 200, answer.text
    assert "3 people are on the do-not-contact list." in answer.text
    assert "1 repeated rows were counted once." in answer.text
    expected = {1001: "spam", 1002: "added by operator", 1003: "said stop, twice"}
    assert await listed(panel_world.db) == expected
    assert await api_listed(browser) == {1001, 1002, 1003}


async def test_a_csv_with_a_bad_row_names_the_line_and_imports_nothing(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, "operator")
    rows = "2001\n2002,ok\nabc,nope\n2004,x,y\n" + "".join(f"{3000 + n}\n" for n in range(50))
    upload = {"file": ("list.csv", rows.encode(), "text/csv")}
    answer = await browser.post("/do-not-contact/import", files=upload, headers=HTMX)
    assert answer.status_code == 422 and 'data-testid="import-problems"' in answer.text
    assert "line 3: &#39;abc&#39; is not a Telegram user id" in answer.text
    assert "line 4: 3 columns" in answer.text and "Nothing was imported" in answer.text
    assert await listed(panel_world.db) == {} and await api_listed(browser) == set()
    too_many = "".join(f"{n}\n" for n in range(1, 10_002)).encode()
    refused = await browser.post(
        "/do-not-contact/import", files={"file": ("big.csv", too_many, "text/csv")}, headers=HTMX
    )
    assert refused.status_code == 422 and "line 10001: more than 10,000 rows" in refused.text
    empty = await browser.post(
        "/do-not-contact/import", files={"file": ("e.csv", b"id\n", "text/csv")}, headers=HTMX
    )
    assert empty.status_code == 422 and "no user ids" in empty.text
    async with panel_world.db.session() as session:
        audited = await session.scalar(
            select(func.count()).where(AuditEntry.action == "do_not_contact")
        )
    assert audited == 0


async def test_a_big_csv_goes_in_batches_and_ends_the_live_conversations_of_those_listed(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    await panel_world.conversations.on_lead(await panel_world.lead(user=4100))
    [live] = await panel_world.conversations_of(4100)
    assert live.status == "awaiting_approval"
    await sign_in(browser, "operator")
    rows = "".join(f"{4000 + n},bounced\n" for n in range(1200)).encode()  # two batches
    upload = {"file": ("list.csv", rows, "text/csv")}
    answer = await browser.post("/do-not-contact/import", files=upload, headers=HTMX)
    assert answer.status_code == 200, answer.text
    assert "1200 people are on the do-not-contact list." in answer.text
    listed_now = await listed(panel_world.db)
    assert len(listed_now) == 1200 and set(listed_now.values()) == {"bounced"}
    [ended] = await panel_world.conversations_of(4100)
    assert ended.status == "opted_out" and ended.reason == "do-not-contact list: bounced"
    [draft] = await panel_world.outbound(4100)
    assert draft.status == "cancelled"
    assert len(await panel_world.events("contact.opted_out")) == 1200
    async with panel_world.db.session() as session:
        audited = await session.scalar(
            select(func.count()).where(AuditEntry.action == "do_not_contact")
        )
    assert audited == 1200

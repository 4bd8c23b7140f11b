"""API tokens in the panel: one's own made (shown once), used and revoked; an owner revokes
anyone's; nobody else reaches another person's tokens."""

from __future__ import annotations

import re

import httpx

from tests.integration.conftest import World, sign_in

HTMX = {"HX-Request": "true"}


def _new_token(html: str) -> str:
    found = re.search(r'data-testid="new-token".*?value="([^"]+)"', html, re.S)
    assert found is not None, "no new token on the page"
    return found.group(1)


async def test_a_token_made_on_the_page_is_shown_once_works_and_stops_when_revoked(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, "operator")
    blank = await browser.post("/me/tokens", data={"name": "  "}, headers=HTMX)
    assert blank.status_code == 422 and "is-invalid" in blank.text
    assert "1-64 characters" in blank.text
    assert blank.text.count("data-token=") == 1  # the one every test user has; nothing made
    made = await browser.post("/me/tokens", data={"name": "nightly export"}, headers=HTMX)
    assert made.status_code == 200 and "nightly export" in made.text
    token = _new_token(made.text)
    async with httpx.AsyncClient(
        transport=browser._transport, base_url="http://127.0.0.1"
    ) as script:
        me = await script.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["login"] == "operator"
        again = await browser.get("/me/tokens")
        assert token not in again.text and token[:10] in again.text  # the hint, never the token
        token_id = re.search(r'data-token="(\d+)">\s*<td>nightly export', again.text)
        assert token_id is not None
        revoked = await browser.post(f"/me/tokens/{token_id.group(1)}/revoke", headers=HTMX)
        assert revoked.status_code == 200 and "revoked" in revoked.text
        gone = await script.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 401


async def test_only_an_owner_reads_and_revokes_someone_elses_tokens(
    panel_world: World, browser: httpx.AsyncClient
) -> None:
    await sign_in(browser, "admin")
    made = await browser.post("/me/tokens", data={"name": "admin's script"}, headers=HTMX)
    token_id = re.search(r'data-token="(\d+)">\s*<td>admin&#39;s script', made.text)
    assert token_id is not None
    admins = int(token_id.group(1))
    await sign_in(browser, "operator")
    assert (await browser.get("/users/admin/tokens")).status_code == 403
    foreign = await browser.post(f"/me/tokens/{admins}/revoke", headers=HTMX)
    assert foreign.status_code == 404 and "There is no such token." in foreign.text
    await sign_in(browser, "owner")
    users = await browser.get("/users")
    assert 'href="/users/admin/tokens"' in users.text
    theirs = await browser.get("/users/admin/tokens")
    assert theirs.status_code == 200 and "admin&#39;s script" in theirs.text
    assert "Make a token" not in theirs.text  # nobody makes a token in another's name
    revoked = await browser.post(f"/users/admin/tokens/{admins}/revoke", headers=HTMX)
    assert revoked.status_code == 200 and "revoked" in revoked.text
    assert (await browser.get("/users/nobody/tokens")).status_code == 404

"""The panel: server-rendered pages (Jinja2, HTMX) beside the JSON API, one router module per
page group (``auth``, ``inbox``, ``leads``, ``live``, ``people``), templates under
``admin/templates`` mirroring them.

Pages use the same access dependencies as the API (every route declares its role) and the same
services (operator commands, read models in ``admin.reads``); a page a role may not open answers
403 in the panel's look, and one that needs a signed-in user leads to the sign-in form.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from admin.pages import (
    account_login,
    accounts,
    alerts,
    audit,
    auth,
    campaigns,
    chats,
    dashboard,
    dead_letters,
    do_not_contact,
    errors,
    inbox,
    keyword_sets,
    leads,
    live,
    people,
    presence,
    prompts,
    run_start,
    runs,
    scenarios,
    scene_cast,
    system,
    telegram_link,
    tokens,
    workspace,
)
from admin.pages.assets import STATIC, check_assets


def install(app: FastAPI) -> None:
    """Mount the static files and the page routers; refuses (``AssetsMissing``) without the
    built front-end files."""
    check_assets()
    app.state.live = live.LiveFeed(app.state.bus)  # one bus watch for every open page
    app.state.presence = presence.Presence()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.middleware("http")(errors.refuse_control_characters)
    for module in (
        auth,
        dashboard,
        inbox,
        presence,
        leads,
        live,
        people,
        tokens,
        telegram_link,
        audit,
        do_not_contact,
        keyword_sets,
        account_login,  # before accounts: /accounts/login is not an account id
        accounts,
        prompts,
        dead_letters,
        workspace,
        chats,
        campaigns,
        alerts,
        scenarios,
        scene_cast,
        run_start,
        runs,
        system,
    ):
        app.include_router(module.router)

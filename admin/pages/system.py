"""System → Workers: one row per account with its worker's state (running, backoff until …,
quarantined, stopped, no worker), uptime, last heartbeat (stale shown as a problem),
restarts, last exit code and reason, and its last log lines on demand.

Restart and Release are ``WorkerCommand``s the watchdog carries out and audits; Pause is the
accounts page's own pause (``admin.setup.accounts.set_status``, audited here). Each is confirmed
first and admins only; everyone may look. The table (``system/_workers.html``) asks for itself
again every few seconds; a notice or refusal sits outside it, so the next poll keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from babel.dates import format_timedelta
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy import select

from admin.access.deps import Admin, Viewer
from admin.api.fields import DB_INT_MAX
from admin.api.workers import command
from admin.pages.errors import page_error
from admin.pages.rendering import Viewer as PageViewer
from admin.pages.rendering import render, translations
from admin.pages.viewers import viewer_for
from admin.reads.workers import last_log, stale_after, worker_row, worker_rows
from admin.setup.accounts import set_status
from admin.setup.keyword_sets import SetupError
from core.access import Actor
from core.db import Database
from core.db.models import Account
from core.settings import Settings
from core.worker_commands import WorkerAction

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
POLL_SECONDS = 3
_ERROR_STATUS = {"missing": 404, "refused": 409, "unavailable": 503}


def _span(viewer: PageViewer) -> Callable[[timedelta | None], str]:
    """A duration as people say it ("2 hours"), in the viewer's language."""

    def span(delta: timedelta | None) -> str:
        if delta is None:
            return ""
        return str(format_timedelta(delta, threshold=1.5, locale=viewer.language))

    return span


def _stale(request: Request) -> timedelta:
    settings: Settings = request.app.state.settings
    return stale_after(settings.watchdog_heartbeat_interval)


async def _render(
    request: Request,
    actor: Actor,
    template: str,
    *,
    notice: str = "",
    problem: str = "",
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    now = datetime.now(UTC)
    async with db.session() as session:
        rows = await worker_rows(session, now=now, stale=_stale(request))
    context = {
        "rows": rows,
        "now": now,
        "poll": POLL_SECONDS,
        "span": _span(viewer),
        "notice": notice,
        "problem": problem,
    }
    return render(request, viewer, template, context, status=status)


@router.get("/system")
async def page(actor: Viewer, request: Request) -> Response:
    return await _render(request, actor, "system/page.html")


@router.get("/system/workers")
async def table(actor: Viewer, request: Request) -> Response:
    """The table alone: what the page polls."""
    return await _render(request, actor, "system/_workers.html")


@router.get("/system/workers/{account_id}/log")
async def log(actor: Viewer, request: Request, account_id: Id) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        row = await worker_row(session, account_id, now=datetime.now(UTC), stale=_stale(request))
        if row is None:
            return page_error(request, 404, f"account {account_id} does not exist")
        text = await last_log(session, account_id)
    return render(request, viewer, "system/_log.html", {"row": row, "log": text})


@router.post("/system/workers/{account_id}/restart")
async def restart(actor: Admin, request: Request, account_id: Id) -> Response:
    return await _command(request, actor, account_id, "restart")


@router.post("/system/workers/{account_id}/release")
async def release(actor: Admin, request: Request, account_id: Id) -> Response:
    return await _command(request, actor, account_id, "release")


async def _command(
    request: Request, actor: Actor, account_id: int, action: WorkerAction
) -> Response:
    """Sent to the watchdog; the page part comes back with its answer."""
    db: Database = request.app.state.db
    async with db.session() as session:
        name = await session.scalar(select(Account.name).where(Account.id == account_id))
    if name is None:
        problem = f"account {account_id} does not exist"
        return await _render(request, actor, "system/_panel.html", problem=problem, status=404)
    result = await command(request.app.state.bus, action, actor, account_id)
    _ = translations((await viewer_for(request, actor)).language).gettext
    if result.outcome != "done":
        status = _ERROR_STATUS.get(result.outcome, 409)
        problem = result.detail  # the watchdog's reason, in its words
        if result.outcome == "unavailable":
            problem = _("The watchdog did not answer, so nothing was done: is it running?")
        return await _render(request, actor, "system/_panel.html", problem=problem, status=status)
    said = (
        _("The watchdog restarts the worker of %(name)s now.")
        if action == "restart"
        else _("The worker of %(name)s is out of quarantine and starts again.")
    )
    return await _render(request, actor, "system/_panel.html", notice=said % {"name": name})


@router.post("/system/workers/{account_id}/pause")
async def pause(actor: Admin, request: Request, account_id: Id) -> Response:
    """The account is paused as on its own page; the watchdog then stops its worker."""
    viewer = await viewer_for(request, actor)
    _ = translations(viewer.language).gettext
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            account = await set_status(session, actor, account_id, "paused")
            name = account.name
    except SetupError as refused:
        status = 404 if refused.missing else 409
        return await _render(
            request, actor, "system/_panel.html", problem=str(refused), status=status
        )
    notice = _("%(name)s is paused: the watchdog stops its worker.") % {"name": name}
    return await _render(request, actor, "system/_panel.html", notice=notice)

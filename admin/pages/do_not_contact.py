"""The do-not-contact list: viewers read it, operators add and remove people and import a CSV.

Every change is the operator command the JSON API sends (``do_not_contact`` / ``allow_contact``,
``core.operator_commands``), with the signed-in user as the actor; the manager writes the row, the
audit entry and the opt-out event. A CSV is checked whole before anything is sent."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response

from admin.access.deps import Operator, Viewer
from admin.api.fields import TELEGRAM_ID_MAX
from admin.api.operator_actions import DoNotContact
from admin.pages.do_not_contact_csv import MAX_BYTES, MAX_ROWS, EntryError, parse_entry, read_csv
from admin.pages.rendering import render, translations
from admin.pages.viewers import viewer_for
from admin.reads.do_not_contact import ContactFilter, do_not_contact_page
from admin.reads.paging import PAGE_SIZE
from core.access import Actor
from core.bus import Bus
from core.db import Database
from core.operator_commands import (
    LIST_BATCH,
    ListEntry,
    OperatorCommand,
    OperatorResult,
    send_operator_command,
)

router = APIRouter(include_in_schema=False)
TelegramUserId = Annotated[int, Path(ge=1, le=TELEGRAM_ID_MAX)]
IMPORT_TIMEOUT = 60.0  # seconds for one batch of an import: a thousand people, a busy manager
SHOWN_PROBLEMS = 50
_SEARCH = re.compile(r"[0-9]{0,20}")


async def _page(
    request: Request,
    actor: Actor,
    *,
    search: str = "",
    offset: int = 0,
    errors: dict[str, str] | None = None,
    problems: list[str] | None = None,
    typed: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    errors = dict(errors or {})
    wanted = ContactFilter(search.strip(), offset)
    if not _SEARCH.fullmatch(wanted.search):
        _ = translations(viewer.language).gettext
        errors["q"] = _("A Telegram user id is digits only.")
        wanted = ContactFilter("", offset)
    db: Database = request.app.state.db
    async with db.session() as session:
        page = await do_not_contact_page(session, wanted)
    context = {
        "page": page,
        "search": search,
        "page_size": PAGE_SIZE,
        "errors": errors,
        "problems": problems or [],
        "typed": typed or {},
        "notice": notice,
        "max_rows": MAX_ROWS,
    }
    return render(request, viewer, "do_not_contact/page.html", context, status=status)


@router.get("/do-not-contact")
async def listing(
    actor: Viewer,
    request: Request,
    q: Annotated[str, Query(max_length=40)] = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    return await _page(request, actor, search=q, offset=offset)


async def add_to_list(bus: Bus, actor: Actor, user_id: int, reason: str) -> OperatorResult:
    """The API's ``POST /api/v1/do-not-contact``: one ``do_not_contact`` command."""
    command = OperatorCommand(
        action="do_not_contact", actor=actor, telegram_user_id=user_id, reason=reason or None
    )
    return await send_operator_command(bus, command)


@router.post("/do-not-contact")
async def add(
    actor: Operator,
    request: Request,
    telegram_user_id: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    typed = {"telegram_user_id": telegram_user_id, "reason": reason}
    _ = translations((await viewer_for(request, actor)).language).gettext
    try:
        entry = parse_entry(telegram_user_id, reason)
    except EntryError as exc:
        errors = {exc.field: str(exc)}
        return await _page(request, actor, errors=errors, typed=typed, status=422)
    result = await add_to_list(request.app.state.bus, actor, entry.telegram_user_id, entry.reason)
    if result.outcome != "done":
        errors = {"telegram_user_id": result.detail}
        return await _page(request, actor, errors=errors, typed=typed, status=_status(result))
    notice = _("%(user)s is on the do-not-contact list.") % {"user": entry.telegram_user_id}
    return await _page(request, actor, notice=notice)


@router.post("/do-not-contact/{telegram_user_id}/remove")
async def remove(actor: Operator, request: Request, telegram_user_id: TelegramUserId) -> Response:
    """The API's ``DELETE /api/v1/do-not-contact/{id}``: one ``allow_contact`` command."""
    command = OperatorCommand(
        action="allow_contact", actor=actor, telegram_user_id=telegram_user_id
    )
    result = await send_operator_command(request.app.state.bus, command)
    if result.outcome != "done":
        errors = {"remove": result.detail}
        return await _page(request, actor, errors=errors, status=_status(result))
    _ = translations((await viewer_for(request, actor)).language).gettext
    notice = _("%(user)s may be contacted again.") % {"user": telegram_user_id}
    return await _page(request, actor, notice=notice)


@router.post("/do-not-contact/import")
async def import_csv(
    actor: Operator, request: Request, file: Annotated[UploadFile | None, File()] = None
) -> Response:
    """Every row checked first; one bad row and nothing is imported, each problem named by line.
    Then one ``do_not_contact_many`` command per thousand people."""
    _ = translations((await viewer_for(request, actor)).language).gettext
    data = await file.read(MAX_BYTES + 1) if file is not None else b""
    if not data:
        problems = [_("Choose a CSV file first.")]
        return await _page(request, actor, problems=problems, status=422)
    reading = read_csv(data)
    if reading.problems:
        problems = [
            _("line %(line)s: %(reason)s") % {"line": p.line, "reason": p.reason}
            if p.line
            else p.reason
            for p in reading.problems[:SHOWN_PROBLEMS]
        ]
        if len(reading.problems) > SHOWN_PROBLEMS:
            more = len(reading.problems) - SHOWN_PROBLEMS
            problems.append(_("and %(count)s more") % {"count": more})
        problems.append(_("Nothing was imported: fix these rows and upload the file again."))
        return await _page(request, actor, problems=problems, status=422)
    done, failure = await _send_all(request.app.state.bus, actor, reading.rows, reading.lines)
    if failure is not None:
        line, result = failure
        problems = [
            _("from line %(line)s on: %(reason)s") % {"line": line, "reason": result.detail},
            _("%(done)s of %(total)s people were added before the import stopped.")
            % {"done": done, "total": len(reading.rows)},
        ]
        return await _page(request, actor, problems=problems, status=_status(result))
    notice = _("%(count)s people are on the do-not-contact list.") % {"count": done}
    if reading.duplicates:
        notice += " " + _("%(count)s repeated rows were counted once.") % {
            "count": reading.duplicates
        }
    return await _page(request, actor, notice=notice)


async def _send_all(
    bus: Bus, actor: Actor, rows: list[DoNotContact], lines: list[int]
) -> tuple[int, tuple[int, OperatorResult] | None]:
    """Send the rows ``LIST_BATCH`` at a time, one ``do_not_contact_many`` command each (all or
    nothing per batch); stop at a refused batch (the manager gone, say), naming its first line
    and counting what was added before it."""
    done = 0
    default = f"added by {actor.login}"
    for start in range(0, len(rows), LIST_BATCH):
        batch = rows[start : start + LIST_BATCH]
        entries = [
            ListEntry(telegram_user_id=r.telegram_user_id, reason=r.reason or default)
            for r in batch
        ]
        command = OperatorCommand(action="do_not_contact_many", actor=actor, entries=entries)
        result = await send_operator_command(bus, command, timeout=IMPORT_TIMEOUT)
        if result.outcome != "done":
            return done, (lines[start], result)
        done += len(batch)
    return done, None


def _status(result: OperatorResult) -> int:
    return {"missing": 404, "conflict": 409, "unavailable": 503}.get(result.outcome, 422)

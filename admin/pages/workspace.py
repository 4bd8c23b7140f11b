"""Workspace export and import: download the current workspace as the ``coolthing workspace``
YAML, and upload or paste one to preview (a dry run: what would be created and updated) or apply
(one transaction, audited). Errors are the CLI's — file, line, field, reason — listed and shown
beside the numbered lines of the text; a file with an error writes nothing."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from admin.access.deps import Admin
from admin.pages.rendering import render
from admin.pages.viewers import viewer_for
from admin.setup.workspace import Plan, decode, import_workspace, masked
from core.access import Actor
from core.audit import printable
from core.yamlspec import MAX_BYTES, SpecError, SpecProblem

router = APIRouter(include_in_schema=False)
PASTED = "pasted text"
Text = Annotated[str, Form(max_length=MAX_BYTES)]
Upload = Annotated[UploadFile | None, File()]


async def _page(
    request: Request,
    actor: Actor,
    *,
    typed: str = "",
    shown: str = "",
    problems: list[SpecProblem] | None = None,
    plan: Plan | None = None,
    status: int = 200,
) -> Response:
    """``typed`` goes back into the text box; ``shown`` (pasted or uploaded) is listed with line
    numbers beside its problems, secrets masked."""
    viewer = await viewer_for(request, actor)
    problems = problems or []
    by_line: dict[int, list[SpecProblem]] = {}
    for problem in problems:
        if problem.line:
            by_line.setdefault(problem.line, []).append(problem)
    lines = [(n, masked(text), by_line.get(n, [])) for n, text in enumerate(shown.splitlines(), 1)]
    context = {
        "typed": typed,
        "problems": problems,
        "unplaced": [p for p in problems if not p.line or p.line > len(lines)],
        "lines": lines if problems else [],
        "plan": plan,
        "max_bytes": MAX_BYTES,
    }
    return render(request, viewer, "workspace/page.html", context, status=status)


@router.get("/workspace")
async def workspace(actor: Admin, request: Request) -> Response:
    return await _page(request, actor)


@router.post("/workspace/preview")
async def preview(actor: Admin, request: Request, text: Text = "", file: Upload = None) -> Response:
    return await _import(request, actor, text, file, dry_run=True)


@router.post("/workspace/apply")
async def apply(actor: Admin, request: Request, text: Text = "", file: Upload = None) -> Response:
    return await _import(request, actor, text, file, dry_run=False)


async def _import(
    request: Request, actor: Actor, text: str, file: UploadFile | None, *, dry_run: bool
) -> Response:
    name, source = PASTED, text
    try:
        if file is not None and file.filename:
            name = printable(PurePath(file.filename).name, limit=100) or "uploaded file"
            source = decode(await file.read(MAX_BYTES + 1), name)
        if not source.strip():
            raise SpecError([SpecProblem(name, None, "", "the file is empty: nothing to apply")])
        plan = await import_workspace(
            request.app.state.db, request.app.state.box, actor, source, name, dry_run=dry_run
        )
    except SpecError as refused:
        return await _page(
            request, actor, typed=text, shown=source, problems=refused.problems, status=422
        )
    # A preview keeps the text for the Apply that follows; after applying the box is emptied.
    return await _page(request, actor, typed=text if dry_run else "", plan=plan)

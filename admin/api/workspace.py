"""The workspace file over the API: ``GET`` exports it (the YAML ``coolthing workspace export``
writes), ``POST`` applies one sent as the request body — or, with ``dry_run=true``, says what it
would create and update and writes nothing. Problems are the CLI's: file, line, field, reason."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from admin.access.deps import Admin
from admin.api.deps import SessionDep
from admin.setup.workspace import decode, import_workspace
from admin.workspace.export import export_workspace
from core.yamlspec import MAX_BYTES, SpecError, SpecProblem

router = APIRouter(prefix="/workspace", tags=["configuration"])
BODY_FILE = "request body"
YAML = "application/yaml"


class WorkspaceChange(BaseModel):
    applied: bool = Field(description="false for a dry run: nothing was written")
    created: dict[str, list[str]] = Field(description="names, by kind")
    updated: dict[str, list[str]] = Field(description="names, by kind")


@router.get(
    "",
    response_class=Response,
    responses={200: {"description": "the workspace YAML", "content": {YAML: {}}}},
)
async def export(_: Admin, session: SessionDep) -> Response:
    """Sessions, proxies and LLM keys are never exported."""
    text = await export_workspace(session)
    disposition = 'attachment; filename="coolthing-workspace.yaml"'
    return Response(
        text.encode("utf-8"),
        media_type=f"{YAML}; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


REFUSALS: dict[int | str, dict[str, Any]] = {
    422: {"description": "every problem of the file: [{field, reason, line}] — nothing written"}
}


@router.post(
    "",
    response_model=WorkspaceChange,
    responses=REFUSALS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {YAML: {"schema": {"description": "a workspace file, as YAML text"}}},
        }
    },
)
async def apply(
    actor: Admin,
    request: Request,
    dry_run: Annotated[bool, Query(description="check and report only")] = False,
) -> WorkspaceChange:
    """Apply the YAML in the body in one transaction (all or nothing), audited."""
    raw = bytearray()
    async for chunk in request.stream():  # never more than the limit in memory
        raw += chunk
        if len(raw) > MAX_BYTES:
            break
    try:
        text = decode(bytes(raw), BODY_FILE)
        if not text.strip():
            raise SpecError([SpecProblem(BODY_FILE, None, "", "the body is empty")])
        plan = await import_workspace(
            request.app.state.db, request.app.state.box, actor, text, BODY_FILE, dry_run=dry_run
        )
    except SpecError as refused:
        raise HTTPException(422, [_problem(p) for p in refused.problems]) from None
    return WorkspaceChange(applied=plan.applied, created=plan.created, updated=plan.updated)


def _problem(problem: SpecProblem) -> dict[str, Any]:
    return {"field": problem.field or "body", "reason": str(problem), "line": problem.line}

"""Errors on pages: an HTML page in the panel's look (never a traceback), or, for a page that
needs a signed-in user, the way to the sign-in form."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from admin.api.fields import has_control
from admin.pages.rendering import render
from admin.pages.viewers import anonymous

_NOT_PAGES = ("/api/", "/healthz", "/metrics", "/docs", "/static/")


def is_page(request: Request) -> bool:
    """A request for the panel (HTML), not for the JSON API or the operational endpoints."""
    path = request.url.path
    return not (path.startswith(_NOT_PAGES) or path == "/api")


def page_error(request: Request, status: int, message: str) -> Response:
    if status == 401:
        target = f"/login?next={quote(request.url.path)}"
        if request.headers.get("hx-request"):  # htmx follows this header, not a 303
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    context = {"status": status, "message": message}
    return render(request, anonymous(request), "errors/error.html", context, status=status)


async def refuse_control_characters(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """A page's address with a control character in a parameter (a NUL from a pasted link or a
    scanner) is answered with a page saying which, before any query reaches the database."""
    if is_page(request):
        for name, value in request.query_params.multi_items():
            if has_control(name) or has_control(value):
                shown = name if not has_control(name) else "a parameter"
                message = f"The address's {shown} holds a control character; remove it and retry."
                return page_error(request, 400, message)
    return await call_next(request)

"""Errors on pages: an HTML page in the panel's look (never a traceback), or, for a page that
needs a signed-in user, the way to the sign-in form."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

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

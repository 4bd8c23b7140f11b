"""The OpenAPI document says what the API really answers: our error shapes, who may call each
operation, and every status code an operation can return."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from admin.access.deps import Endpoint, endpoints
from admin.api.schemas import ErrorRead, ValidationErrorRead

_REF = "#/components/schemas/"
_ERRORS = {
    "400": "bad request: a body that is not JSON, or a host name this service does not serve",
    "401": "no valid credential: sign in or send a bearer token",
    "403": "the role is too low, or a cookie request without a valid CSRF token",
    "404": "not found",
    "409": "refused: the state changed (already approved, opted out, …)",
    "429": "too many attempts",
    "503": "a service this needs did not answer",
}


def document_errors(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF + schema}}}


def _build(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for model in (ErrorRead, ValidationErrorRead):
        defs = model.model_json_schema(ref_template=_REF + "{model}")
        schemas.update(defs.pop("$defs", {}))
        schemas[model.__name__] = defs
    document["components"]["securitySchemes"] = {
        "token": {"type": "http", "scheme": "bearer", "description": "a per-user API token"},
        "session": {"type": "apiKey", "in": "cookie", "name": "coolthing_session"},
    }
    for endpoint in endpoints(app):
        if endpoint.in_schema:
            for method in endpoint.methods:
                operation = document["paths"][endpoint.path][method.lower()]
                _describe(operation, endpoint, method)
    return document


def _describe(operation: dict[str, Any], endpoint: Endpoint, method: str) -> None:
    access = endpoint.access
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "422" in responses:
        responses["422"] = {"description": "invalid input", "content": _json("ValidationErrorRead")}
    codes: set[str] = {"400"} | {code for code in responses if code in _ERRORS}
    if access not in ("public", "metrics", None):
        operation["security"] = [{"token": []}, {"session": []}]
        operation["description"] = f"{operation.get('description', '')}\n\nNeeds: {access}."
        codes.add("401")
        if access != "viewer" or method != "GET":
            codes.add("403")
    elif access == "metrics":
        codes |= {"401", "403"}
    if endpoint.has_path_params:  # an id in the path may name nothing
        codes.add("404")
    for code in codes:
        current = responses.get(code, {})
        declared = current.get("content", {}).get("application/json", {}).get("schema", {})
        responses[code] = {
            "description": current.get("description") or _ERRORS[code],
            # a model the route names stays (health's 503); otherwise the error shape
            "content": current["content"] if "$ref" in declared else _json("ErrorRead"),
        }

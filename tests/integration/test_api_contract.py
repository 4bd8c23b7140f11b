"""The whole admin API against its own OpenAPI document, by schemathesis, on both databases.

Every operation gets generated valid and invalid input (schemathesis's examples, coverage and
fuzzing phases) with the owner's API token, over real HTTP to the service as `coolthing run admin`
starts it, a manager answering the operator commands (``live_admin``). Every check schemathesis
has runs on each response: no 5xx; status code, content type, headers and body as documented;
invalid input refused, valid input accepted; unsupported methods refused with a true ``Allow``.

The schema is loaded when the module is collected, from the app as the service builds it, and the
running service must serve exactly that document. (``schemathesis.pytest.from_fixture`` would
load it from the running service instead, but 4.32.5's lazy loader does not run on pytest 9.2:
it sets ``Function._nodeid``, which pytest no longer has.)

Budget: on PostgreSQL, the production database, 25 generated examples per operation plus the
coverage phase's boundary cases, about 1,600 requests; on SQLite (the demo's) 10 generated
examples without the coverage phase, a third of the time (what differs between the databases,
offsets and integer ranges, is pinned by the tests below, on both). An example that takes over
5 s fails (the operator commands wait 10 s for a manager that does not answer).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from core.access import Role
from core.bus.memory import InMemoryBus
from core.db import Database
from tests.conftest import admin_app, bearer
from tests.integration.conftest import threaded_sandbox
from tests.integration.live_admin import LiveAdmin, live_admin

OPENAPI = "/api/v1/openapi.json"
MAX_EXAMPLES = {"postgresql": 25, "sqlite": 10}


def _document() -> dict[str, Any]:
    """The API description as the service builds it (no connection is made)."""
    document: dict[str, Any] = admin_app(Database("sqlite+aiosqlite://"), InMemoryBus()).openapi()
    return document


def _schema(database: str) -> OpenApiSchema:
    config = schemathesis.Config.from_dict(
        {
            "checks": {"enabled": True},
            "phases": {"coverage": {"enabled": database == "postgresql"}},
            "generation": {"max-examples": MAX_EXAMPLES[database], "database": "none"},
        }
    )
    return schemathesis.openapi.from_dict(DOCUMENT, config=config)


DOCUMENT = _document()
schema, schema_on_sqlite = _schema("postgresql"), _schema("sqlite")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def admin(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, postgres_url: str
) -> Iterator[LiveAdmin]:
    directory = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        url, reset = f"sqlite+aiosqlite:///{directory / 'contract.db'}", False
    else:
        url, reset = postgres_url, True
    # The phone login talks to a Telegram: the sandbox's, found through the environment as
    # `coolthing run admin` finds it.
    with threaded_sandbox() as sandbox_url, pytest.MonkeyPatch.context() as env:
        env.setenv("COOLTHING_SANDBOX_URL", sandbox_url)
        with live_admin(url, directory, reset=reset) as running:
            served = httpx.get(running.url + OPENAPI, timeout=10).json()
            assert served == DOCUMENT, "the service describes another API than tested"
            yield running


class OwnerToken:
    """The owner's API token; a new one when the fuzzing revoked it (DELETE /auth/tokens/{id})."""

    def __init__(self, admin: LiveAdmin) -> None:
        self._admin = admin
        self.id, self.value = admin.new_token(Role.owner)

    def after(self, case: Case[Any], status: int) -> None:
        revoked = case.path_parameters or {}
        if case.method == "DELETE" and revoked.get("token_id") == self.id and status == 204:
            self.id, self.value = self._admin.new_token(Role.owner)


@pytest.fixture(scope="module")
def owner(admin: LiveAdmin) -> OwnerToken:
    return OwnerToken(admin)


# The one refusal of valid input a schema cannot foresee: an operator's text that fails the
# campaign's output checks (too short, a link, a mention, …) is a documented 422 that names
# override_checks as the way through. Any other 4xx for valid input still fails.
OUTPUT_CHECKED = {
    "/api/v1/drafts/{message_id}/approve",
    "/api/v1/conversations/{conversation_id}/messages",
}


# And a keyword that could never match: made only of a link or an @mention (messages are matched
# with those taken out), or with no letter left once normalised (a documented 422, by line).
KEYWORD_CHECKED = {"/api/v1/keyword-sets", "/api/v1/keyword-sets/{set_id}"}


# And the workspace file's rules for chats and campaigns, which refer to rows and read text: a
# chat reference that is no t.me link or @username, a name no keyword set or account has (or an
# account of another role), a rule between two outreach settings. Each refusal names its field.
SPEC_CHECKED = {
    "/api/v1/accounts",
    "/api/v1/accounts/{account_id}",
    "/api/v1/accounts/login/start",  # and a phone, a code or a password Telegram refuses
    "/api/v1/accounts/login/code",
    "/api/v1/accounts/login/password",
    "/api/v1/chats",
    "/api/v1/chats/{chat_id}",
    "/api/v1/campaigns",
    "/api/v1/campaigns/{campaign_id}",
    "/api/v1/campaigns/{campaign_id}/prompt",  # a template that cannot render, by line
    "/api/v1/workspace",  # a whole workspace file: every problem by line and field
    "/api/v1/scenarios",  # a scene's errors by line and column; keyword sets, campaigns named
    "/api/v1/scenarios/{scenario_id}",
    "/api/v1/scenarios/{scenario_id}/cast",  # accounts that exist, of the scripts role, once
    "/api/v1/scenarios/{scenario_id}/simulate",
    "/api/v1/runs",  # the scripts service's reasons (a chat that is not the operator's own, …)
}


def valid_input_is_accepted(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    if case.operation.path in SPEC_CHECKED and response.status_code == 422:
        errors = response.json()["detail"]
        if errors and all(e["field"] and e["reason"] for e in errors):
            return None
    if case.operation.path in OUTPUT_CHECKED and response.status_code == 422:
        fields = {error["field"] for error in response.json()["detail"]}
        if "override_checks" in fields and fields <= {"text", "override_checks"}:
            return None
    if case.operation.path in KEYWORD_CHECKED and response.status_code == 422:
        errors = response.json()["detail"]
        never_match = ("no words to match", "has no letters")  # e.g. NFKC turns "²" into "2"
        if all(any(why in e["reason"] for why in never_match) for e in errors):
            return None
    return positive_data_acceptance(ctx, response, case)


def _answers_as_documented(case: Case[Any], admin: LiveAdmin, owner: OwnerToken) -> None:
    response = case.call_and_validate(
        base_url=admin.url,
        headers=bearer(owner.value),
        timeout=15,
        excluded_checks=[positive_data_acceptance],
        additional_checks=[valid_input_is_accepted],
    )
    owner.after(case, response.status_code)


@schema.parametrize()
@settings(deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow])
@pytest.mark.parametrize("admin", ["postgresql"], indirect=True)
def test_every_operation_answers_as_its_document_says(
    case: Case[Any], admin: LiveAdmin, owner: OwnerToken
) -> None:
    _answers_as_documented(case, admin, owner)


@schema_on_sqlite.parametrize()
@settings(deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow])
@pytest.mark.parametrize("admin", ["sqlite"], indirect=True)
def test_every_operation_answers_as_its_document_says_on_sqlite(
    case: Case[Any], admin: LiveAdmin, owner: OwnerToken
) -> None:
    _answers_as_documented(case, admin, owner)


# What the fuzzing found, pinned down.


def _get(admin: LiveAdmin, owner: OwnerToken, path: str, **params: str) -> httpx.Response:
    return httpx.get(admin.url + path, params=params, headers=bearer(owner.value), timeout=15)


@pytest.mark.parametrize(
    "since",
    [
        "0001-01-01T00:00:00+23:59",  # before year 1 in UTC
        "9999-12-31T23:59:59-23:59",  # after year 9999 in UTC
        "2024-05-01T09:30:00",  # no offset
        "2024-05-01T09:30:00+24:00",
        "0.5",  # pydantic alone reads numbers as Unix times
    ],
)
def test_a_since_that_is_no_rfc3339_time_in_range_is_a_422_saying_why(
    admin: LiveAdmin, owner: OwnerToken, since: str
) -> None:
    response = _get(admin, owner, "/api/v1/leads", since=since)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["field"] == "since" and error["reason"]


def test_since_is_compared_in_utc_whatever_its_offset(admin: LiveAdmin, owner: OwnerToken) -> None:
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).astimezone(timezone(timedelta(hours=5)))
    recent = _get(admin, owner, "/api/v1/leads", since=an_hour_ago.isoformat()).json()
    assert recent["total"] == 3, "on SQLite the offset was once dropped"
    assert _get(admin, owner, "/api/v1/leads", since="0001-01-01T00:00:00Z").json()["total"] == 3
    assert _get(admin, owner, "/api/v1/leads", since="9999-12-31T23:59:59Z").json()["total"] == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/leads/2147483648", {}),
        ("/api/v1/leads", {"offset": "2147483648"}),
        ("/api/v1/leads", {"campaign_id": "2147483648"}),
        ("/api/v1/drafts", {"limit": "0"}),
    ],
)
def test_numbers_past_the_database_range_are_a_422(
    admin: LiveAdmin, owner: OwnerToken, path: str, params: dict[str, str]
) -> None:
    response = _get(admin, owner, path, **params)
    assert response.status_code == 422, response.text


def test_a_405_names_every_method_the_address_takes(admin: LiveAdmin, owner: OwnerToken) -> None:
    response = httpx.request(
        "OPTIONS", admin.url + "/api/v1/auth/tokens", headers=bearer(owner.value)
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"

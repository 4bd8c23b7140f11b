"""The workspace file's shape. Field validators give the reasons people read in error messages."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
)

from bots.proxy import parse_proxy_url
from core.chatref import normalize_chat_ref
from core.intent import IntentPolicy
from core.outreach import OutreachPolicy
from core.telegram_login import normalize_phone
from manager.prompts import TemplateProblem
from manager.prompts import validate_template as validate_prompt
from manager.spintax import validate_template as validate_spintax
from parser.intent.defaults import MODELS_DIR
from parser.matcher import normalize_keyword


def _one_line(name: str) -> str:
    """Names are keys in the database and in logs: one line, no tabs or control characters."""
    if bad := next((c for c in name if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")), ""):
        raise ValueError(f"a name is one line of text; U+{ord(bad):04X} is not allowed in it")
    return name


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_one_line),
]


def _fits_column(ref: str) -> str:
    if len(ref) > 255:  # chats.ref; PostgreSQL would refuse the whole apply
        raise ValueError(f"a chat reference is at most 255 characters, this one is {len(ref)}")
    return ref


ChatRef = Annotated[str, AfterValidator(normalize_chat_ref), AfterValidator(_fits_column)]


def _checked_keyword(raw: str) -> str:
    """Refuse keywords that can never match, but keep them as the admin wrote them."""
    normalize_keyword(raw)
    return raw.strip()


Keyword = Annotated[str, AfterValidator(_checked_keyword)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


MAX_DAILY_CAP = 10_000  # new DMs a day; Telegram limits accounts long before this


class AccountSpec(_Spec):
    name: Name
    role: Literal["parser", "manager", "scripts"]
    session: SecretStr | None = Field(default=None, description="never exported")
    proxy: SecretStr | None = Field(default=None, description="never exported")
    status: Literal["active", "paused"] = "active"
    phone: str | None = Field(default=None, description="the number it logs in with, +country")
    daily_cap: int | None = Field(
        default=None, ge=1, le=MAX_DAILY_CAP, description="own cap of new DMs a day"
    )

    @field_validator("session")
    @classmethod
    def _session_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("session is empty; leave the field out to keep the stored one")
        return value

    @field_validator("proxy")
    @classmethod
    def _proxy_parses(cls, value: SecretStr | None) -> SecretStr | None:
        """The worker's own reading of a proxy URL (scheme, host, port); the reason never
        repeats the URL, which carries the password."""
        if value is not None:
            parse_proxy_url(value.get_secret_value())
        return value

    @field_validator("phone")
    @classmethod
    def _phone_normalized(cls, value: str | None) -> str | None:
        return normalize_phone(value) if value is not None else None


VarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")]
VarValue = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_one_line)]


class ChatSpec(_Spec):
    ref: ChatRef
    title: str | None = Field(default=None, max_length=255)  # the column's size
    own: bool = Field(
        default=False, description="the operator's own community: scenes may play here"
    )
    vars: dict[VarName, VarValue] = Field(
        default_factory=dict, max_length=50, description="values of scenes' {variables} here"
    )


class KeywordSetSpec(_Spec):
    name: Name
    keywords: list[Keyword] = Field(min_length=1)
    exclude: list[Keyword] = []


class OutreachSpec(OutreachPolicy):
    """The campaign's outreach block; a prompt or template that cannot render is refused when
    saved, naming the line inside the template and the reason."""

    @field_validator("prompt")
    @classmethod
    def _prompt_renders(cls, source: str) -> str:
        try:
            validate_prompt(source)
        except TemplateProblem as problem:
            raise ValueError(f"prompt template, {problem}") from None
        return source

    @field_validator("templates", "follow_ups")
    @classmethod
    def _templates_parse(cls, texts: tuple[str, ...]) -> tuple[str, ...]:
        for index, text in enumerate(texts):
            try:
                validate_spintax(text)
            except ValueError as exc:
                raise ValueError(f"template {index + 1}: {exc}") from None
        return texts


def shipped_intent_models() -> list[str]:
    """The kinds a campaign's intent policy may start from (``general`` and each trade's)."""
    return sorted(path.stem for path in MODELS_DIR.glob("*.json"))


class IntentSpec(IntentPolicy):
    """The campaign's second stage (core.intent); the model must be one the parser ships."""

    @field_validator("model")
    @classmethod
    def _shipped(cls, kind: str) -> str:
        known = shipped_intent_models()
        if kind not in known:
            raise ValueError(f"no shipped intent model {kind!r}; choose one of {', '.join(known)}")
        return kind


class CampaignSpec(_Spec):
    name: Name
    mode: Literal["parser"] = "parser"
    # stopped: the parser skips it and the manager sends nothing more for it (paused: no new
    # leads and no first messages, but conversations already open go on)
    status: Literal["active", "paused", "stopped"] = "active"
    keyword_sets: list[Name] = Field(min_length=1)
    chats: list[ChatRef] = Field(min_length=1)
    parser_accounts: list[Name] = Field(min_length=1)
    manager_accounts: list[Name] = []
    outreach: OutreachSpec = OutreachSpec()
    intent: IntentSpec = Field(
        default_factory=IntentSpec, description="who counts as a lead: the second stage"
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="the campaign's own LLM key; encrypted, never exported"
    )


class WorkspaceSpec(_Spec):
    accounts: list[AccountSpec] = []
    chats: list[ChatSpec] = []
    keyword_sets: list[KeywordSetSpec] = []
    campaigns: list[CampaignSpec] = []

"""Structured logs through structlog; stdlib loggers (ours, uvicorn, aio-pika) share the format.

Every line of a service says which service it is (and a worker which account it serves), and a
line written while a bus event is handled names the event, its correlation id and the campaign
and account ids its payload carries. Ids only: texts, names and payloads never reach a log. Log
shippers read these fields from the JSON (``COOLTHING_LOG_JSON``); only ``service`` and ``level``
become labels there (compose/fluent-bit/), so ids stay cheap to search and free to vary.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from core.events import Event

# Set once per process by log_as_service; a processor rather than context variables, so lines
# from threads (the metrics server, executors) carry them too.
_process_fields: dict[str, object] = {}
_PAYLOAD_IDS = {"campaign_id": "campaign", "account_id": "account"}


def _drop_color_message(
    _logger: object, _name: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    event.pop("color_message", None)  # uvicorn's duplicate of the message with ANSI codes
    return event


def _add_process_fields(
    _logger: object, _name: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    for key, value in _process_fields.items():
        event.setdefault(key, value)
    return event


_BROKER_LOGGERS = ("aiormq", "aio_pika")


def _redact_broker_payloads(record: logging.LogRecord) -> bool:
    """The AMQP client logs whole messages (``"Unhandled message %r returning"``, bodies and all:
    a lead's chat text) at ERROR; keep such a line but show each argument's type, not its repr.
    Texts and numbers pass: they are the client's own words, hosts and counts."""
    if record.name.startswith(_BROKER_LOGGERS) and isinstance(record.args, tuple):
        record.args = tuple(
            a if isinstance(a, str | int | float | BaseException) else f"<{type(a).__name__}>"
            for a in record.args
        )
    return True


def configure_logging(level: str = "INFO", *, json: bool = False) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_process_fields,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="%H:%M:%S" if not json else "iso"),
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    handler = logging.StreamHandler()
    handler.addFilter(_redact_broker_payloads)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiormq", "aio_pika", "sqlalchemy.engine", "uvicorn.access", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


def log_as_service(name: str, *, account: int | None = None) -> None:
    """This process is the long-running service ``name`` (a worker: of ``account``): every line
    says so, and lines go to stdout, where container log collectors look. A command's stdout is
    its output (a token, JSON lines), so commands keep logging to stderr."""
    _process_fields.clear()
    _process_fields["service"] = name
    if account is not None:
        _process_fields["account"] = account
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:
            handler.setStream(sys.stdout)


def event_fields(event: Event) -> dict[str, object]:
    """What a log line says about the event being handled: ids only, never the payload."""
    fields: dict[str, object] = {
        "event_name": event.name,  # not "event": that key is the log message
        "event_id": str(event.id),
        "correlation_id": str(event.correlation_id or event.id),
    }
    fields.update(_payload_ids(event.payload))
    return fields


def _payload_ids(payload: Mapping[str, object]) -> dict[str, object]:
    return {
        field: value
        for key, field in _PAYLOAD_IDS.items()
        if isinstance(value := payload.get(key), int) and not isinstance(value, bool)
    }


@contextmanager
def event_log_context(event: Event) -> Iterator[None]:
    """Lines logged inside carry :func:`event_fields` (context variables: per task)."""
    with structlog.contextvars.bound_contextvars(**event_fields(event)):
        yield

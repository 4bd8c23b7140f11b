"""The message bus: one topic exchange, durable queues, ack after commit, dead letters."""

from core.bus.base import (
    Bus,
    DeadLetter,
    Handler,
    PermanentError,
    RequestTimeout,
    Responder,
    Splitter,
    UnroutableError,
    decode_payload,
)

__all__ = [
    "Bus",
    "DeadLetter",
    "Handler",
    "PermanentError",
    "RequestTimeout",
    "Responder",
    "Splitter",
    "UnroutableError",
    "decode_payload",
]

"""Build the bus a URL names: `memory://` for the demo, `amqp://` or `amqps://` for RabbitMQ."""

from __future__ import annotations

from urllib.parse import urlsplit

from core.bus.base import Bus

MEMORY_SCHEMES = frozenset({"memory"})
AMQP_SCHEMES = frozenset({"amqp", "amqps"})


def make_bus(
    url: str,
    *,
    exchange: str = "coolthing",
    max_deliveries: int = 5,
    prefetch: int = 200,
    retry_delay: float = 0.1,
    close_timeout: float = 30.0,
) -> Bus:
    """A bus for ``url``, not started yet (``await bus.start()``, or the first call starts it).

    Every ``memory://`` bus of one event loop and exchange shares one in-process broker, the way
    RabbitMQ clients share a server.
    """
    scheme = urlsplit(url).scheme.lower()
    # Imported here so the demo never loads aio-pika.
    if scheme in MEMORY_SCHEMES:
        from core.bus.memory import InMemoryBus

        return InMemoryBus(
            url,
            exchange=exchange,
            max_deliveries=max_deliveries,
            prefetch=prefetch,
            retry_delay=retry_delay,
            close_timeout=close_timeout,
        )
    if scheme in AMQP_SCHEMES:
        from core.bus.rabbit import RabbitBus

        return RabbitBus(
            url,
            exchange=exchange,
            max_deliveries=max_deliveries,
            prefetch=prefetch,
            retry_delay=retry_delay,
            close_timeout=close_timeout,
        )
    # Only the scheme goes into the message: the URL may carry a password.
    known = ", ".join(f"{s}://" for s in sorted(MEMORY_SCHEMES | AMQP_SCHEMES))
    raise ValueError(f"unsupported bus URL scheme {scheme + '://'!r}: expected one of {known}")

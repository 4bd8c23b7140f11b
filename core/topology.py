"""Names of the bus queues, in one place: who consumes what."""

from __future__ import annotations

PARSER_MESSAGES = "parser.messages"  # message.incoming → leads
PARSER_CONTROL = "parser.control"  # config.changed, account.banned/revoked → reload, reassign chats
SERVICE_QUEUES = (PARSER_MESSAGES, PARSER_CONTROL)


def account_queue(account_id: int) -> str:
    """The command queue of one account's worker (bound to ``account.<id>.#``)."""
    return f"bots.account.{account_id}"

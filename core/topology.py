"""Names of the bus queues, in one place: who consumes what."""

from __future__ import annotations

from core.bus import Bus

PARSER_MESSAGES = "parser.messages"  # message.incoming → leads
PARSER_CONTROL = "parser.control"  # config.changed, account.banned/revoked → reload, reassign chats
PARSER_LEAD_COMMANDS = "parser.lead_commands"  # command.lead (request/reply) → operators' marks
MANAGER_LEADS = "manager.leads"  # lead.found → conversations, first drafts
MANAGER_REPLIES = "manager.replies"  # DMs to our accounts → next turn, opt-out, handoff
MANAGER_RESULTS = "manager.results"  # message.sent / message.send_failed → conversation state
MANAGER_CONTROL = "manager.control"  # config.changed → resume waiting leads; account lost → move
MANAGER_OPERATOR = "manager.operator"  # command.operator (request/reply) → approve, take over, …
NOTIFIER_EVENTS = "notifier.events"  # drafts, hand-offs, leads, account trouble → alerts
NOTIFIER_CONTROL = "notifier.control"  # config.changed → lost accounts back; telegram.unlink
SCRIPTS_COMMANDS = "scripts.commands"  # command.scene (request/reply) → start, pause, cancel runs
SCRIPTS_RESULTS = "scripts.results"  # message.sent.scene / message.send_failed.scene → next line
SCRIPTS_CHATS = "scripts.chats"  # message.incoming.scene → listen, engagement
WATCHDOG_COMMANDS = "watchdog.commands"  # command.worker (request/reply) → restart, release
SERVICE_QUEUES = (
    PARSER_MESSAGES,
    PARSER_CONTROL,
    PARSER_LEAD_COMMANDS,
    MANAGER_LEADS,
    MANAGER_REPLIES,
    MANAGER_RESULTS,
    MANAGER_CONTROL,
    MANAGER_OPERATOR,
    NOTIFIER_EVENTS,
    NOTIFIER_CONTROL,
    SCRIPTS_COMMANDS,
    SCRIPTS_RESULTS,
    SCRIPTS_CHATS,
    WATCHDOG_COMMANDS,
)
DM_ROUTING_KEY = "message.incoming.dm"  # private messages; chat messages keep "message.incoming"
# What scripts accounts hear in the operator's own chats: the scene's audience, not the parser's.
SCENE_ROUTING_KEY = "message.incoming.scene"


def account_queue(account_id: int) -> str:
    """The command queue of one account's worker (bound to ``account.<id>.#``)."""
    return f"bots.account.{account_id}"


def account_bindings(account_id: int) -> list[str]:
    """What an account's queue is bound to: every command addressed to that account."""
    return [f"account.{account_id}.#"]


async def declare_account_queue(bus: Bus, account_id: int) -> None:
    """Declare the account worker's queue before a command to it is written: a worker that has
    never run (a new account, a restart in progress) finds its commands waiting, none dropped."""
    await bus.declare(account_queue(account_id), account_bindings(account_id))

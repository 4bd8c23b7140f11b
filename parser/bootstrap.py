"""Wire the parser service: rules, lead recording, chat assignment, and its bus subscriptions."""

from __future__ import annotations

from core.events import (
    AccountBanned,
    AccountRevoked,
    ConfigChanged,
    LeadReferred,
    MessageIncoming,
)
from core.platform import Platform
from core.topology import PARSER_CONTROL, PARSER_MESSAGES
from parser.activity import ChatActivity
from parser.assignments import ChatAssigner
from parser.handlers import ParserHandlers
from parser.handoff_queue import OutreachQueue
from parser.service import ParserService


async def start_parser(platform: Platform) -> ParserService:
    """Compile the rules, settle chat assignments, then start consuming. Call the service's
    ``stop()`` on the way out: it writes the chat activity still in memory."""
    activity = ChatActivity(platform.db, sample_size=platform.settings.chat_sample_size)
    service = ParserService(platform.db, platform.relay, activity)
    assigner = ChatAssigner(platform.db, platform.bus, platform.relay)
    outreach = OutreachQueue(platform.db, platform.bus)
    handlers = ParserHandlers(service, assigner, outreach)
    await service.reload()
    await assigner.rebalance()
    await outreach.ensure()
    await platform.bus.subscribe(
        PARSER_CONTROL,
        [ConfigChanged.NAME, AccountBanned.NAME, AccountRevoked.NAME],
        handlers.on_config_changed,
        prefetch=1,
    )
    activity.start()
    # Scenes hand members who asked off-script to campaigns on the same queue: one writer of leads.
    bindings = [MessageIncoming.NAME, LeadReferred.NAME]
    await platform.bus.subscribe(PARSER_MESSAGES, bindings, handlers.on_message)
    return service

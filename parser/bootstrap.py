"""Wire the parser service: rules, lead recording, chat assignment, operators' marks, the intent
retrainer, the LLM intent judge, and its bus subscriptions."""

from __future__ import annotations

from dataclasses import dataclass

from core.chat_batch import ChatMessages, split_chat_batch
from core.events import (
    AccountBanned,
    AccountRevoked,
    ConfigChanged,
    LeadReferred,
    MessageIncoming,
)
from core.lead_commands import LEAD_COMMAND
from core.platform import Platform
from core.topology import PARSER_CONTROL, PARSER_LEAD_COMMANDS, PARSER_MESSAGES
from parser.activity import ChatActivity
from parser.assignments import ChatAssigner
from parser.handlers import ParserHandlers
from parser.handoff_queue import OutreachQueue
from parser.intent_judge import IntentJudge
from parser.intent_retrainer import IntentRetrainer
from parser.lead_marks import LeadMarks
from parser.service import ParserService

# Batches (up to 100 messages each) handled at once: enough to overlap one batch's transaction
# with the next one's matching; more would only hold more messages unacked.
MESSAGE_DELIVERIES_IN_FLIGHT = 16


@dataclass
class RunningParser:
    service: ParserService
    retrainer: IntentRetrainer
    judge: IntentJudge | None = None

    async def reload(self) -> None:
        await self.service.reload()

    async def stop(self) -> None:
        """Stop retraining (a training under way is dropped) and write the chat activity still
        in memory; may be called again."""
        await self.retrainer.stop()
        await self.service.stop()
        if self.judge is not None:
            await self.judge.close()


async def start_parser(platform: Platform) -> RunningParser:
    """Compile the rules, settle chat assignments, then start consuming. Call ``stop()`` on
    the way out: it writes the chat activity still in memory."""
    settings = platform.settings
    activity = ChatActivity(platform.db, sample_size=settings.chat_sample_size)
    # asked only for campaigns with intent.judge on, about hits inside their judge band
    judge = IntentJudge(platform.db, settings, platform.box)
    service = ParserService(platform.db, platform.relay, activity, judge=judge)
    assigner = ChatAssigner(platform.db, platform.bus, platform.relay)
    outreach = OutreachQueue(platform.db, platform.bus)
    retrainer = IntentRetrainer(
        platform.db,
        platform.relay,
        reload=service.reload,
        delay=settings.intent_retrain_delay,
        timeout=settings.intent_retrain_timeout,
        max_examples=settings.intent_retrain_max_examples,
    )
    marks = LeadMarks(platform.db, platform.relay, on_marked=retrainer.mark)
    handlers = ParserHandlers(service, assigner, outreach, marks)
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
    await retrainer.start()
    # Scenes hand members who asked off-script to campaigns on the same queue: one writer of leads.
    # A failed batch of chat messages goes back in halves, down to the one message that fails.
    bindings = [ChatMessages.NAME, MessageIncoming.NAME, LeadReferred.NAME]
    await platform.bus.subscribe(
        PARSER_MESSAGES,
        bindings,
        handlers.on_message,
        prefetch=MESSAGE_DELIVERIES_IN_FLIGHT,
        split=split_chat_batch,
    )
    await platform.bus.serve(
        PARSER_LEAD_COMMANDS, [LEAD_COMMAND], handlers.on_lead_command, prefetch=1
    )
    return RunningParser(service, retrainer, judge)

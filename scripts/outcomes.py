"""What the account workers report about scene lines: sent (the run moves on at once) or failed
(a long FloodWait re-queues the line for when Telegram allows; anything else ends the run with
the reason — never a silent hang)."""

from __future__ import annotations

from core.db.models import Account
from core.db.scene_models import RUN_LIVE, SceneRun, SceneRunLine
from core.events import MessageSent, SendFailed, as_utc
from scripts import history
from scripts.player import Stage, advance, set_state

_WHY = {
    "banned": "account {account} was banned",
    "revoked": "account {account}'s session was revoked",
    "forbidden": "account {account} may not write in {chat}",
    "not_found": "{chat} cannot be reached by account {account}",
    "peer_flood": "account {account} is limited by Telegram (PeerFlood)",
    "attachment_missing": "the line's photo or sticker file is not in the media directory",
}


async def line_sent(run: SceneRun, line: SceneRunLine, sent: MessageSent, stage: Stage) -> None:
    if line.status == "sent":
        return  # a confirmation delivered twice
    line.status, line.telegram_message_id = "sent", sent.telegram_message_id
    line.sent_at = as_utc(sent.sent_at)
    run.lines_sent += 1
    history.note(
        stage.session,
        run,
        "line_sent",
        stage.now,
        line=line.line,
        role=line.role,
        account_id=line.account_id,
        message_id=sent.telegram_message_id,
    )
    if run.state.get("awaiting") == line.id:
        set_state(run, awaiting=None, retry_pc=None)
        run.pc = line.pc + 1
        if run.status == "playing":  # a paused run keeps its place; an ended one stays ended
            run.next_at = stage.now
            await advance(run, stage)


async def line_failed(run: SceneRun, line: SceneRunLine, failed: SendFailed, stage: Stage) -> None:
    if line.status != "queued" or line.idempotency_key != failed.idempotency_key:
        return  # an older attempt's report, or one delivered twice
    set_state(run, awaiting=None)
    if failed.reason == "flood_wait" and failed.retry_after is not None:
        set_state(run, retry_pc=line.pc)  # scripts.lines sends it again, under a new key
        line.status = "retry"  # same text, a new key when due (scripts.lines)
        line.detail = failed.detail
        run.next_at = as_utc(failed.retry_after)
        history.note(
            stage.session,
            run,
            "flood_wait",
            stage.now,
            line=line.line,
            until=run.next_at.isoformat(),
            account_id=line.account_id,
        )
        return
    line.status, line.detail = "failed", failed.detail
    if run.status not in RUN_LIVE:
        return
    account = await stage.session.get(Account, line.account_id)
    name = account.name if account else str(line.account_id)
    why = _WHY.get(failed.reason, failed.reason).format(account=name, chat=run.chat_ref)
    reason = f"line {line.line} ({line.role}): {why}"
    await history.end(
        stage.session, run, "failed", stage.now, scene_name=stage.scene_name, reason=reason
    )

"""The intent judge's use of the LLM per campaign and UTC day: calls, verdicts, tokens and cost.

Written by the parser (the judge runs there, on keyword hits scored inside a campaign's judge
band), one upsert per call; read by the admin API. Kept apart from ``campaign_daily_counts``: that
table is the manager's (its writer, keyed by prompt version), and two writers adding to one row
would need one owner for its meaning.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base


class IntentJudgeDailyCount(Base):
    """What the judge did for a campaign on a UTC day: ``calls`` asked, ``leads`` / ``not_leads``
    answered, ``fallbacks`` (no usable answer in time: the model's verdict stood, or the message
    had an injection attempt and was not sent), and the tokens and cost the calls took."""

    __tablename__ = "intent_judge_daily_counts"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    leads: Mapped[int] = mapped_column(Integer, default=0)
    not_leads: Mapped[int] = mapped_column(Integer, default=0)
    fallbacks: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(default=0.0)

"""The second stage's tables: operators' marks kept as labelled examples, and each campaign's
retrained models. Written by the parser only (it owns leads and their verdicts); read by the
admin API.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base, _now


class IntentExample(Base):
    """One message an operator labelled for a campaign: "is a lead" (True) or "not a lead"."""

    __tablename__ = "intent_examples"
    # A lead marked twice keeps its newest mark.
    __table_args__ = (UniqueConstraint("campaign_id", "lead_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    bio: Mapped[str | None] = mapped_column(Text)
    label: Mapped[bool] = mapped_column(Boolean)
    actor: Mapped[str] = mapped_column(String(128))  # who marked it (the authenticated identity)
    created_at: Mapped[datetime] = _now()


class CampaignIntentModel(Base):
    """A model retrained for a campaign, with how it scored on the held-back examples against
    the model in use then; ``in_use`` on at most one per campaign (the newest that was as good)."""

    __tablename__ = "campaign_intent_models"
    __table_args__ = (Index("ix_campaign_intent_models_campaign_id_id", "campaign_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(Text)  # parser.intent.model.IntentModel JSON
    examples: Mapped[int] = mapped_column(Integer)  # operators' examples it learned from
    held_out: Mapped[int] = mapped_column(Integer)
    f1: Mapped[float] = mapped_column(Float)
    previous_f1: Mapped[float] = mapped_column(Float)  # the model in use, on the same examples
    in_use: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")  # why it was (not) used, for people
    created_at: Mapped[datetime] = _now()

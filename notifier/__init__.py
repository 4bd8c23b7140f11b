"""Operator alerts through a Telegram bot (aiogram): approvals, hand-offs, operations, new leads.

Events become alerts (``intake``), alerts reach the chats that subscribed to them (``routing``),
grouped into few messages (``grouping``), which the ``courier`` sends and edits within Telegram's
limits. The bot's ``handlers`` link panel users, run operator commands from buttons and replies,
and change subscriptions.
"""

"""Lead intent: the second stage after the keyword match (is the sender a buyer?)."""

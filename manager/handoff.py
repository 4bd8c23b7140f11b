"""Does a reply ask for a person? Phrases match as whole word sequences, case and punctuation
aside, so "operator" inside another word does not hand a conversation off."""

from __future__ import annotations

from collections.abc import Iterable

from manager.optout import normalise_words


def asks_for_human(text: str, phrases: Iterable[str]) -> bool:
    words = normalise_words(text)
    for phrase in phrases:
        wanted = normalise_words(phrase)
        size = len(wanted)
        if size and any(words[i : i + size] == wanted for i in range(len(words) - size + 1)):
            return True
    return False

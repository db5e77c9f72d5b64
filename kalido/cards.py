"""Payment-card numbers typed into free text: detect (Luhn) and mask before anything is written."""

from __future__ import annotations

import re

# 13 to 19 digits, optionally separated by single spaces or dashes, not part of a longer number.
CARD_CANDIDATE = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
# The same shape for DuckDB's RE2 (no look-around): a cheap pre-filter before the exact check.
CARD_PREFILTER_RE2 = r"\d([ -]?\d){12,18}"
CARD_MASK = "[card number removed]"


def luhn_valid(digits: str) -> bool:
    """True for a digit string whose Luhn checksum is valid."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_match(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return CARD_MASK if luhn_valid(digits) else match.group(0)


def mask_cards(text: str | None) -> str | None:
    """Replace every Luhn-valid card-number-like run in `text` by a fixed mask."""
    if text is None:
        return None
    return CARD_CANDIDATE.sub(_mask_match, text)

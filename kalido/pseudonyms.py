"""Keyed, rotatable pseudonyms: HMAC-SHA256 per identifier domain over normalised identifiers."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

DOMAINS = ("customer", "cookie")
# Hex digits spelled with letters: a token made of hex digits can hold a 13-19 digit run that
# passes Luhn and looks like a card number to any scanner, so minted tokens carry no digits.
HEX_DIGITS, TOKEN_LETTERS = "0123456789", "ghijklmnop"
_TO_LETTERS = str.maketrans(HEX_DIGITS, TOKEN_LETTERS)


def token(hex_digest: str) -> str:
    """A hex digest in the digit-free token alphabet a-p (same information, same length)."""
    return hex_digest.translate(_TO_LETTERS)


def normalise_identifier(raw_id: str) -> str:
    """The same person must get the same pseudonym however the source spelled the identifier."""
    return unicodedata.normalize("NFKC", raw_id).strip().casefold()


def pseudonym(key: bytes, domain: str, raw_id: str) -> str:
    """128-bit keyed pseudonym; the domain separates customer and cookie namespaces."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown identifier domain {domain!r}")
    message = f"{domain}\x1f{normalise_identifier(raw_id)}".encode()
    return token(hmac.new(key, message, hashlib.sha256).hexdigest()[:32])

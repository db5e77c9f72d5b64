"""Keyed, rotatable pseudonyms: HMAC-SHA256 per identifier domain over normalised identifiers."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

DOMAINS = ("customer", "cookie")


def normalise_identifier(raw_id: str) -> str:
    """The same person must get the same pseudonym however the source spelled the identifier."""
    return unicodedata.normalize("NFKC", raw_id).strip().casefold()


def pseudonym(key: bytes, domain: str, raw_id: str) -> str:
    """128-bit keyed pseudonym; the domain separates customer and cookie namespaces."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown identifier domain {domain!r}")
    message = f"{domain}\x1f{normalise_identifier(raw_id)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]

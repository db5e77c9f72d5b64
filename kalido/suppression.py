"""Suppression tags: what keeps an erased subject erased, holding no raw identifier.

A tag is HMAC-SHA256 under a dedicated suppression secret that is never rotated, so the list
survives pseudonym key rotation (pseudonyms change, tags do not). The secret comes from
KALIDO_SUPPRESSION_KEY (or the Airflow Variable `kalido_suppression_key`), else it is minted once
into restricted/suppression_key (mode 0600) beside the restricted data it protects.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from kalido.config import MIN_KEY_BYTES, ConfigError, Layout
from kalido.pseudonyms import DOMAINS, normalise_identifier, token


def suppression_secret(layout: Layout, override: str | None = None) -> bytes:
    """The non-rotating suppression secret (minted on first use when none is configured)."""
    configured = override or os.environ.get("KALIDO_SUPPRESSION_KEY", "")
    if configured:
        if len(configured.encode("utf-8")) < MIN_KEY_BYTES:
            raise ConfigError(f"KALIDO_SUPPRESSION_KEY is shorter than {MIN_KEY_BYTES} bytes")
        return configured.encode("utf-8")
    path = layout.restricted / "suppression_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


def request_pseudonym(secret: bytes, request_id: str) -> str:
    """A request's keyed pseudonym: request ids are restricted data (senders put emails in them),
    and this one survives key rotation, so reports and logs name requests by it."""
    message = f"request\x1f{request_id}".encode()
    return "req_" + token(hmac.new(secret, message, hashlib.sha256).hexdigest()[:20])


def suppression_tag(secret: bytes, domain: str, raw_id: str) -> str:
    """The tag of one identifier: same person, same tag, whatever the spelling or key version."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown identifier domain {domain!r}")
    message = f"suppress\x1f{domain}\x1f{normalise_identifier(raw_id)}".encode()
    return token(hmac.new(secret, message, hashlib.sha256).hexdigest())


def recipient_pseudonym(secret: bytes, customer_id: str) -> str:
    """An email recipient's keyed pseudonym (the feed's recipient_pid, removals.csv's key):
    keyed with the suppression secret, which is never rotated, so the email platform can keep
    it across pseudonym key rotations; it equals no warehouse pseudonym."""
    message = f"recipient\x1f{normalise_identifier(customer_id)}".encode()
    return "rcp_" + token(hmac.new(secret, message, hashlib.sha256).hexdigest()[:32])

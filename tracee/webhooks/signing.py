"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``."""

import base64
import hashlib
import hmac

from tracee.webhooks.signing_secrets import secret_bytes

USER_AGENT = "Tracee-Webhooks/1"


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets: list[str], message_id: str, timestamp: int, body: bytes) -> dict:
    """The request headers; one signature per secret still valid, space-separated."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in secrets),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }

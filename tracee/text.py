"""Rules for the short texts people name things with (trackers, steps, tenants, keys)."""


def is_printable(text: str) -> bool:
    """No C0/C1 control characters or NUL: they break displays, logs and PostgreSQL text."""
    return not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text)

"""The ``tracee.webhooks.*`` settings, read and checked once."""

from dataclasses import dataclass

from tracee.settings import reader

DEFAULT_RETRY_DELAYS = "5 300 1800 7200 18000 36000 50400 72000 86400"  # about 3 days


def _flag(value) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "on")


@dataclass(frozen=True)
class WebhookSettings:
    allow_http: bool = False
    # True only in development.ini: a newcomer's local receiver is on 127.0.0.1.
    allow_private_targets: bool = False
    retry_delays: tuple[float, ...] = tuple(float(d) for d in DEFAULT_RETRY_DELAYS.split())
    jitter: float = 0.2  # each delay is moved by up to this fraction, either way
    timeout: float = 10.0
    # Saving an endpoint resolves its host; a DNS that does not answer is a 400 this soon.
    resolve_timeout: float = 3.0
    retry_after_cap: float = 3600.0
    disable_after_days: float = 5.0
    keep_days: float = 30.0
    # A worker's claim on a delivery lasts this long; a worker that dies
    # (SIGKILL) loses its deliveries for at most that time.
    claim_seconds: float = 60.0
    concurrency: int = 8
    poll_seconds: float = 1.0
    secret_keys: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: dict) -> "WebhookSettings":
        get = reader(settings, "tracee.webhooks")
        try:
            made = cls(
                allow_http=_flag(get("allow_http", "false")),
                allow_private_targets=_flag(get("allow_private_targets", "false")),
                retry_delays=tuple(float(d) for d in
                                   str(get("retry_delays", DEFAULT_RETRY_DELAYS)).split()),
                jitter=float(get("jitter", cls.jitter)),
                timeout=float(get("timeout", cls.timeout)),
                resolve_timeout=float(get("resolve_timeout", cls.resolve_timeout)),
                retry_after_cap=float(get("retry_after_cap", cls.retry_after_cap)),
                disable_after_days=float(get("disable_after_days", cls.disable_after_days)),
                keep_days=float(get("keep_days", cls.keep_days)),
                claim_seconds=float(get("claim_seconds", cls.claim_seconds)),
                concurrency=int(get("concurrency", cls.concurrency)),
                poll_seconds=float(get("poll_seconds", cls.poll_seconds)),
                secret_keys=tuple(str(get("secret_keys", "")).split()),
            )
        except ValueError as exc:
            raise ValueError(f"tracee.webhooks: {exc}") from None
        if any(d < 0 for d in made.retry_delays) or made.timeout <= 0 or made.concurrency < 1 \
                or made.resolve_timeout <= 0:
            raise ValueError("tracee.webhooks: delays must be >= 0, timeouts > 0, concurrency >= 1")
        if made.claim_seconds <= made.timeout:
            raise ValueError("tracee.webhooks.claim_seconds must exceed tracee.webhooks.timeout")
        return made

"""The ``tracee.customer_mail.*`` settings, read and checked once."""

import logging
from dataclasses import dataclass

from tracee.form_tokens import DEVELOPMENT_SECRET, app_secret
from tracee.ratelimit import is_valid_rate
from tracee.settings import reader

log = logging.getLogger(__name__)
DEFAULT_RETRY_DELAYS = "60 300 1800 7200 21600"  # about 8 hours, then given up


@dataclass(frozen=True)
class CustomerMailSettings:
    # Changes within this many seconds of the first become one mail.
    quiet_seconds: float = 120.0
    # Mails per tenant per UTC day; past it, mails wait for the next day.
    daily_cap: int = 1000
    retry_delays: tuple[float, ...] = tuple(float(d) for d in DEFAULT_RETRY_DELAYS.split())
    # A worker's lease on a job: a killed worker's jobs are taken again after it.
    claim_seconds: float = 120.0
    # How often a worker asks the queue for mail when the last ask found none.
    poll_seconds: float = 1.0
    # Subscriptions are forgotten this long after their order completed...
    keep_days: float = 30.0
    # ...and unconfirmed ones this long after they were asked for.
    confirm_days: float = 7.0
    # Finished jobs (the queue's record of what was sent) are kept this long.
    job_keep_days: float = 30.0
    # A subscription form is accepted this long after the page was served.
    form_seconds: int = 6 * 3600
    rate_per_address: str = "5/hour"
    rate_per_tracker: str = "20/hour"
    secret: bytes = DEVELOPMENT_SECRET  # tracee.form_tokens.app_secret

    @classmethod
    def from_settings(cls, settings: dict) -> "CustomerMailSettings":
        get = reader(settings, "tracee.customer_mail")
        try:
            made = cls(
                quiet_seconds=float(get("quiet_seconds", cls.quiet_seconds)),
                daily_cap=int(get("daily_cap", cls.daily_cap)),
                retry_delays=tuple(float(d) for d in
                                   str(get("retry_delays", DEFAULT_RETRY_DELAYS)).split()),
                claim_seconds=float(get("claim_seconds", cls.claim_seconds)),
                poll_seconds=float(get("poll_seconds", cls.poll_seconds)),
                keep_days=float(get("keep_days", cls.keep_days)),
                confirm_days=float(get("confirm_days", cls.confirm_days)),
                job_keep_days=float(get("job_keep_days", cls.job_keep_days)),
                form_seconds=int(get("form_seconds", cls.form_seconds)),
                rate_per_address=str(get("rate_per_address", cls.rate_per_address)),
                rate_per_tracker=str(get("rate_per_tracker", cls.rate_per_tracker)),
                secret=app_secret(settings),
            )
        except ValueError as exc:
            raise ValueError(f"tracee.customer_mail: {exc}") from None
        if made.quiet_seconds < 0 or made.daily_cap < 0 or made.claim_seconds <= 0 \
                or made.poll_seconds < 0 or made.form_seconds <= 0 \
                or any(d < 0 for d in made.retry_delays):
            raise ValueError("tracee.customer_mail: seconds, delays and the cap must be >= 0")
        for name in ("rate_per_address", "rate_per_tracker"):
            if not is_valid_rate(getattr(made, name)):
                raise ValueError(f"tracee.customer_mail.{name} must be a rate like '5/hour'")
        return made

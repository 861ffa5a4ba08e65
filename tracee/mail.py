"""One way to send mail: SMTP when configured, else .eml files for a developer to open.

``SMTP_URL`` (or ``tracee.mail.smtp_url``): ``smtp://user:password@host:587``
(STARTTLS whenever the server offers it, and required before credentials
are sent to any host but this machine) or ``smtps://…:465`` (TLS from the
first byte). Without one, each message is written to
``tracee.mail.directory`` (``var/mail/`` beside development.ini) and its
path logged, so a newcomer can open the confirmation link.
"""

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class MailError(RuntimeError):
    pass


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    # A mail on a tenant's behalf names its own sender and reply address
    # (not the platform's), and may carry headers such as List-Unsubscribe.
    sender: str | None = None
    reply_to: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


def build_message(mail: Mail, sender: str, reply_to: str | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">") or None)
    if reply_to:
        message["Reply-To"] = reply_to
    for name, value in mail.headers:
        message[name] = value
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class Mailer:
    def __init__(self, smtp_url: str | None, directory: str, sender: str,
                 reply_to: str | None = None, timeout: float = 10):
        self.smtp = urlsplit(smtp_url) if smtp_url else None
        if self.smtp is not None and self.smtp.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        self.directory = Path(directory)
        self.sender, self.reply_to, self.timeout = sender, reply_to, timeout

    def send(self, mail: Mail) -> None:
        if mail.sender:
            message = build_message(mail, mail.sender, mail.reply_to)
        else:
            message = build_message(mail, self.sender, self.reply_to)
        if self.smtp is None:
            self._write(message)
        else:
            self._deliver(message)

    def _write(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{uuid.uuid4().hex}.eml"
        path.write_bytes(bytes(message))
        log.info("mail to %s written to %s", message["To"], path)

    def _deliver(self, message: EmailMessage) -> None:
        url, context = self.smtp, ssl.create_default_context()
        host = url.hostname or "localhost"
        try:
            if url.scheme == "smtps":
                client = smtplib.SMTP_SSL(host, url.port or 465, timeout=self.timeout,
                                          context=context)
            else:
                client = smtplib.SMTP(host, url.port or 587, timeout=self.timeout)
            with client:
                client.ehlo()
                if url.scheme == "smtp" and client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif url.scheme == "smtp" and url.username and host not in LOCAL_HOSTS:
                    raise MailError(f"{host} offers no STARTTLS; not sending credentials")
                if url.username:
                    client.login(unquote(url.username), unquote(url.password or ""))
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"sending mail through {host} failed: {exc}") from exc


def send_after_commit(request, mail: Mail) -> None:
    """Send once the request's transaction has committed (response callbacks
    run after the transaction tween), and only if it did: a link in a mail
    must never point at a row that was rolled back."""

    def send(request, response):
        if response.status_code >= 400:
            return
        try:
            request.registry["mailer"].send(mail)
        except MailError:
            log.exception("could not send mail to %s", mail.to)

    request.add_response_callback(send)


def mailer_from_settings(settings: dict) -> Mailer:
    """The ``tracee.mail.*`` settings' mailer (the web app's and the webhook worker's)."""
    return Mailer(
        settings.get("tracee.mail.smtp_url") or None,
        settings.get("tracee.mail.directory", "var/mail"),
        settings.get("tracee.mail.from", "Tracee <no-reply@localhost>"),
        settings.get("tracee.mail.reply_to") or None,
    )


def includeme(config):
    config.registry["mailer"] = mailer_from_settings(config.get_settings())

"""The messages accounts send: plain text and the same in HTML, escaped."""

from markupsafe import Markup

from tracee.mail import Mail


def mail_with_link(to: str, subject: str, intro: str, action: str, link: str,
                   outro: str) -> Mail:
    """A short message around one link, as text and as the same in HTML."""
    text = f"{intro}\n\n{action}:\n{link}\n\n{outro}\n"
    html = Markup(
        "<!doctype html><html><body style=\"font-family: sans-serif\">"
        "<p>{intro}</p><p><a href=\"{link}\">{action}</a></p>"
        "<p style=\"color:#555\">{outro}</p></body></html>"
    ).format(intro=intro, link=link, action=action, outro=outro)
    return Mail(to=to, subject=subject, text=text, html=str(html))


def confirmation(to: str, business: str, link: str) -> Mail:
    return mail_with_link(
        to, "Confirm your email for Tracee",
        f"Welcome to Tracee! You signed up {business} with this address.",
        "Confirm your email", link,
        "If you did not sign up, ignore this message; nothing happens without the link.",
    )


def password_reset(to: str, link: str) -> Mail:
    return mail_with_link(
        to, "Set a new Tracee password",
        "Someone (we hope you) asked to set a new password for this address.",
        "Set a new password", link,
        "The link works once, within an hour. If you did not ask, ignore this message: "
        "your password stays as it is.",
    )


def invitation(to: str, business: str, inviter: str, role: str, link: str) -> Mail:
    return mail_with_link(
        to, f"Join {business} on Tracee",
        f"{inviter} invited you to {business} on Tracee as {role}.",
        "Accept the invitation", link,
        "The link works once, within 7 days. If you did not expect this, ignore this message.",
    )


def email_change(to: str, link: str) -> Mail:
    return mail_with_link(
        to, "Confirm your new email for Tracee",
        "Someone (we hope you) asked to move a Tracee account to this address.",
        "Use this address", link,
        "The link works once, within a day. If you did not ask, ignore this message.",
    )


def email_change_notice(to: str, new_email: str, reset_link: str) -> Mail:
    text = (f"Someone asked to move your Tracee account from this address to {new_email}. "
            "It moves once the link sent there is used.")
    return mail_with_link(
        to, "Your Tracee email is about to change", text,
        "If this was not you, set a new password now", reset_link,
        "A new password ends every session and cancels the change.",
    )

"""Questions customers ask on the tracking page, and the business's replies.

A question is written with a ``tracker.message_received`` event in the same
transaction (the webhook outbox picks it up); a reply raises the tracker's
``event_seq`` so the page's poll sees it, and queues one mail per address
the answered questions gave (``message_mails``, sent by ``tracee worker``).
"""


def includeme(config):
    from tracee.form_tokens import FormTokens, app_secret
    from tracee.messages.limits import QuestionLimits

    settings = config.get_settings()
    config.registry["messages.form_tokens"] = FormTokens(
        app_secret(settings), "ask", int(settings.get("tracee.messages.form_max_age", 6 * 3600)))
    config.registry["messages.limits"] = QuestionLimits(
        config.registry["ratelimiter"],
        settings.get("tracee.ratelimit.questions_per_address", "5/10 minutes"),
        settings.get("tracee.ratelimit.questions_per_tracker", "20/day"))

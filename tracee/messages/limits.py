"""How many questions a client address, and a tracker, may send (``limits``).

Counted only for a question about to be stored: a form sent back with an
error beside a field costs the customer nothing. The storage is the
limiter's, so the counts hold across workers (Redis in production).
"""

from limits import parse


class QuestionLimits:
    def __init__(self, limiter, per_address: str, per_tracker: str):
        self.strategy = limiter.strategy
        self.per_address, self.per_tracker = parse(per_address), parse(per_tracker)

    def allow(self, address: str, tenant_id: int, tracker_id: int) -> bool:
        budgets = [(self.per_address, "question-address", address),
                   (self.per_tracker, "question-tracker", f"{tenant_id}/{tracker_id}")]
        # Both are tested before either is spent, so one refusal costs the other nothing.
        if not all(self.strategy.test(*budget) for budget in budgets):
            return False
        return all([self.strategy.hit(*budget) for budget in budgets])

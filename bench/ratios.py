"""How two servers' (or two workloads') rates compare, round by round."""

import statistics


def ratio(app: dict, floor: dict) -> float:
    """App to floor: the median of the ratios of paired rounds (round n of each,
    measured within one rotation of the servers), so that a stall in one round
    of one side, which moves a single 2 s round by up to 30 %, does not move the
    figure; reports without rounds kept give the ratio of the pooled rates."""
    mine, theirs = app.get("rounds_rps") or [], floor.get("rounds_rps") or []
    pairs = list(zip(mine, theirs, strict=False))
    if len(pairs) < 2 or len(mine) != len(theirs) or not all(f for _, f in pairs):
        return app["rps"] / floor["rps"]
    return statistics.median(a / f for a, f in pairs)

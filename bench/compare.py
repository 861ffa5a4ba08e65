"""Interleaved A/B runs: what one change buys, measured against noise.

    mkdir -p /tmp/before && git archive <commit> | tar -x -C /tmp/before
    .venv/bin/python -m bench.compare [--rounds 5] [--seconds 3] [--scenarios get,page] \\
        before=/tmp/before after=. cache-5s=.,tracee.api.key_cache_seconds=5

Each VARIANT is ``name=checkout[,setting=value...]``: the app of that checkout
(``git archive <commit> | tar -x -C DIR`` for an older one), with settings
changed as listed. All variants and the floor run at once on loopback (each
idle while another is measured), on one fresh database (10 trackers per
tenant, or ``--per-tenant``), each with trackers of its own, and are measured
in turn, round after round, in a rotating order. A shared machine's drift
then hits every variant alike. The floor remembers keys as long as the first
variant does.
"""

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from bench import data
from bench.run import (
    RESULTS,
    SAMPLE,
    Runner,
    Workload,
    ensure_services,
    key_cache_seconds,
    log,
    scenarios,
    start_app,
    start_floor,
)

FIRST_PORT = 18100


def parse_variant(text: str) -> tuple[str, Path, dict[str, str]]:
    name, _, rest = text.partition("=")
    root, *settings = rest.split(",")
    return name, Path(root).resolve(), dict(s.split("=", 1) for s in settings)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench.compare", description=__doc__.split("\n")[0])
    parser.add_argument("variants", nargs="+", metavar="NAME=CHECKOUT[,SETTING=VALUE...]")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3, help="per round")
    parser.add_argument("--scenarios", default="get,page",
                        help="of get,page,embed,create,status,qr_repeat,qr_public,qr_first")
    parser.add_argument("--per-tenant", type=int, default=10,
                        help="trackers per tenant (100 gives status and first QR renders "
                        "enough fresh trackers for several variants)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    scripts = RESULTS / "scripts"
    scripts.mkdir(exist_ok=True)
    runner = Runner(args.seconds, 2, scripts)
    ensure_services()
    db = data.create_database()
    try:
        data.load_tenants(db)
        keys = data.issue_keys(db)
        data.load_trackers(db, 1, args.per_tenant)
        # At most SAMPLE: a wrk script of more requests overflows LuaJIT's constants.
        links = data.sample_links(db, min(data.TENANTS * args.per_tenant, SAMPLE), seed=1)
        wanted = args.scenarios.split(",")
        with ExitStack() as stack:
            # The floor remembers keys as long as the first variant does.
            first_root, first_settings = parse_variant(args.variants[0])[1:]
            floor = start_floor(stack, "compare-floor", db, FIRST_PORT, args.workers,
                                key_cache_seconds(first_root, first_settings))
            apps = {}
            for n, text in enumerate(args.variants, start=1):
                name, root, settings = parse_variant(text)
                apps[name] = start_app(stack, f"compare-{name}", db, FIRST_PORT + n,
                                       args.workers, root, settings)
            # Each server its own trackers, so no one finds another's changes already made.
            names = [*apps, "floor"]
            own = {name: {s.name: s for s in scenarios(
                Workload(keys, links[n::len(names)]), args.rounds)} for n, name in enumerate(names)}
            for s in scenarios(Workload(keys, links), args.rounds):
                if s.name not in wanted:
                    continue
                lineup = {name: (server, own[name][s.name].app) for name, server in apps.items()}
                if s.floor is not None:
                    lineup["floor"] = (floor, own["floor"][s.name].floor)
                measured = runner.interleaved(s.name, lineup, s.warmup)
                print(f"\n{s.label} ({args.rounds} interleaved rounds of {args.seconds} s)")
                reference = measured.get("floor")
                for name, m in measured.items():
                    ratio = f"ratio {m.rps / reference.rps:5.2f}" if reference else ""
                    print(f"  {name:24} {m.rps:8.0f} req/s  {ratio}  p50 {m.p50_ms:6.2f} ms  "
                          f"cpu {m.cpu_ms:5.2f} ms/req", flush=True)
    finally:
        log(f"dropping {db.name}")
        data.drop_database(db)
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    log(f"done in {time.monotonic() - started:.0f} s")
    sys.exit(code)

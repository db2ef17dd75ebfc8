#!/usr/bin/python3
"""croniter_bench.py: microseconds per croniter get_next over cron_corpus.txt, in Asia/Tokyo.

The baseline of bench_cron.c, run with Debian's python3-croniter (/usr/bin/python3, not a pyenv
python), or with the croniter found in $YB_CRONITER (a folder holding the croniter package, e.g.
an upstream checkout's src/) for the syntax 1.3.5 lacks (wrapping ranges, n-L, the year field).
An expression the croniter in use refuses is reported and left out of the timing. Each expression (hash_id b"bench") chains get_next from 2026-01-12T09:00:00+09:00,
starting over every 100 calls exactly like bench_cron; construction is not timed.
  croniter_bench.py [corpus] [calls per expression]
  croniter_bench.py --print N [corpus]     the first N fires of each, in bench_cron's format
"""
import os
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

if os.environ.get("YB_CRONITER"):
    sys.path.insert(0, os.environ["YB_CRONITER"])
from croniter import croniter  # noqa: E402

RESTART_EVERY = 100


def load(path):
    with open(path) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def iso(dt):
    text = dt.isoformat()
    return text


def main(argv):
    print_n = 0
    if len(argv) > 2 and argv[1] == "--print":
        print_n = int(argv[2])
        argv = argv[:1] + argv[3:]
    path = argv[1] if len(argv) > 1 else "tests/bench/cron_corpus.txt"
    calls = int(argv[2]) if len(argv) > 2 else 2000
    zone = ZoneInfo("Asia/Tokyo")
    start = datetime(2026, 1, 12, 9, 0, 0, tzinfo=zone)
    exprs = load(path)
    if print_n:
        for e in exprs:
            try:
                it = croniter(e, start, hash_id=b"bench")
                print(e + "|" + " ".join(iso(it.get_next(datetime)) for _ in range(print_n)))
            except Exception as exc:  # this croniter refuses it
                print(e + "|refused: " + str(exc).splitlines()[0][:60])
        return 0
    total = 0.0
    total_calls = 0
    for e in exprs:
        try:
            croniter(e, start, hash_id=b"bench").get_next(float)
        except Exception:
            print("  refused  %s" % e)
            continue
        spent = 0.0
        done = 0
        while done < calls:
            it = croniter(e, start, hash_id=b"bench")
            batch = min(RESTART_EVERY, calls - done)
            t0 = time.perf_counter()
            for _ in range(batch):
                it.get_next(float)
            spent += time.perf_counter() - t0
            done += batch
        total += spent
        total_calls += calls
        print("%9.1f us  %s" % (spent / calls * 1e6, e))
    print("expressions %d, calls %d" % (total_calls // calls, total_calls))
    print("croniter_get_next_us_per_call %.2f" % (total / total_calls * 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

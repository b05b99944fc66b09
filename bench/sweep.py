"""Time the claim sweeps of a running worker over many monitored routes on PostgreSQL.

Run by the benchmark in its own process, because Pony binds to one database per process:
`python -m bench.sweep DATABASE_URL ROUTES INTERVAL` prints one JSON object.
"""

import json
import math
import statistics
import sys
import time
from datetime import datetime, timedelta

import psycopg2
from psycopg2.extras import execute_values

import checking
import models
from timeutil import utc_now

# Time left for inserting the routes before the first of them is due: inserting and vacuuming
# 100,000 routes took about 10 s on the machine in docs/performance.md.
SEED_LEAD_BASE = timedelta(seconds=5)
SEED_LEAD_PER_ROUTE = timedelta(milliseconds=0.3)


def seed_due_routes(url: str, count: int, interval: float) -> datetime:
    """Insert `count` active routes whose next checks are spread evenly over one interval.

    The interval starts once the seeding should be done; returns its start.
    """
    now = utc_now()
    lead = SEED_LEAD_BASE + SEED_LEAD_PER_ROUTE * count
    first_due = now + lead
    departure = now + timedelta(days=2)
    rows = [
        (
            str(7_000_000_000 + index), 1, 2, "A", "B", "Europe/Prague", "Europe/Prague", departure,
            departure + timedelta(hours=2), "", "REGULAR", f"{7_000_000_000 + index}|1|2|REGULAR", "active",
            now, first_due + timedelta(seconds=interval * index / count), "", 0, "",
        )
        for index in range(count)
    ]
    with psycopg2.connect(url) as database, database.cursor() as cursor:
        execute_values(
            cursor,
            """INSERT INTO monitored_route (regiojet_route_id, from_station_id, to_station_id,
                from_station_name, to_station_name, from_time_zone, to_time_zone, departure_at,
                arrival_at, seat_classes, tariffs, connection_key, status, created_at, next_check_at,
                claim_token, consecutive_failures, last_error) VALUES %s""",
            rows,
            page_size=5000,
        )
    # VACUUM sets the hint bits that a table in use already has. Without it, the first sweeps would
    # also write them on every page they read.
    database = psycopg2.connect(url)
    database.autocommit = True
    with database.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE monitored_route")
    database.close()
    if utc_now() > first_due - checking.SWEEP_LOOKAHEAD:
        raise RuntimeError(f"seeding {count} routes took longer than {lead}; lower the route count")
    return first_due


def time_sweeps(interval: timedelta) -> dict:
    """Run sweeps one SWEEP_PERIOD apart for 1.5 intervals, each claiming and batching as `schedule_route_checks` does.

    Between two sweeps, the routes the previous sweep claimed are recorded as checked without seats
    (not timed), as the batch checks of a running worker would do by then. Otherwise every sweep
    would have to step over all the routes claimed before it.
    """
    period = checking.SWEEP_PERIOD.total_seconds()
    # Sweeps over one and a half intervals, so that the later ones claim routes checked before.
    sweeps = math.ceil(1.5 * interval / checking.SWEEP_PERIOD)
    durations = []
    claimed = []
    unchecked: list[int] = []
    next_start = time.monotonic()
    for _ in range(sweeps):
        time.sleep(max(0.0, next_start - time.monotonic()))
        next_start += period

        started = time.perf_counter()
        claims = checking.claim_due_routes(utc_now(), checking.SWEEP_LOOKAHEAD, limit=checking.SWEEP_MAX_ROUTES)
        checking.plan_batches(claims)
        durations.append((time.perf_counter() - started) * 1000)
        claimed.append(sum(len(claim.route_ids) for claim in claims))

        record_checks(unchecked, interval)
        unchecked = [route_id for claim in claims for route_id in claim.route_ids]

    return {
        "sweep_ms_median": round(statistics.median(durations), 1),
        "sweep_ms_p90": round(statistics.quantiles(durations, n=10)[-1], 1),
        "sweep_ms_max": round(max(durations), 1),
        "sweep_routes_claimed_median": int(statistics.median(claimed)),
        "sweeps": sweeps,
    }


def record_checks(route_ids: list[int], interval: timedelta) -> None:
    """Record the claimed routes as checked without seats, with the worker's own functions."""
    now = utc_now()
    plans = [
        (target, checking.next_planned_time(target.next_check_at, interval, now))
        for group in checking.load_batch_targets(route_ids)
        for target in group
    ]
    checking.record_no_seats(plans, now)


def main() -> int:
    url, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    models.setup_database(url)
    first_due = seed_due_routes(url, count, interval)
    # Start as a running worker meets these routes: the sweep a period before this one claimed up to
    # one lookahead ahead, so this one claims one period of planned checks.
    time.sleep((first_due - checking.SWEEP_LOOKAHEAD + checking.SWEEP_PERIOD - utc_now()).total_seconds())
    print(json.dumps(dict(time_sweeps(timedelta(seconds=interval)), sweep_routes_total=count)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

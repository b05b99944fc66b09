"""Time one claim sweep over many monitored routes on PostgreSQL.

Run by the benchmark in its own process, because Pony binds to one database per process:
`python -m bench.sweep DATABASE_URL ROUTES INTERVAL` prints one JSON object.
"""

import json
import statistics
import sys
import time
from datetime import timedelta

import psycopg2
from psycopg2.extras import execute_values

import checking
import models
from timeutil import utc_now

REPEATS = 5
CLAIM_BATCH = 5000


def seed_due_routes(url: str, count: int, interval: float) -> None:
    """Insert `count` active routes whose next checks are spread evenly over one interval from now."""
    now = utc_now()
    departure = now + timedelta(days=2)
    rows = [
        (
            str(7_000_000_000 + index), 1, 2, "A", "B", "Europe/Prague", "Europe/Prague", departure,
            departure + timedelta(hours=2), "", "REGULAR", f"{7_000_000_000 + index}|1|2|REGULAR", "active",
            now, now + timedelta(seconds=interval * index / count), "", 0, "",
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
        cursor.execute("ANALYZE monitored_route")


def release_claims(url: str) -> None:
    with psycopg2.connect(url) as database, database.cursor() as cursor:
        # Only the claimed rows, so that the release leaves no dead row versions the next sweep must skip.
        cursor.execute("UPDATE monitored_route SET claimed_until = NULL, claim_token = '' WHERE claim_token <> ''")


def time_sweeps(url: str, interval: float, limit: int, prefix: str) -> dict:
    """Claim and batch as `schedule_route_checks` does, REPEATS times, releasing the claims in between."""
    window = timedelta(seconds=interval * 1.5)
    durations = []
    claimed = 0
    for _ in range(REPEATS):
        release_claims(url)
        started = time.perf_counter()
        claims = checking.claim_due_routes(utc_now(), window, limit=limit)
        checking.plan_batches(claims)
        durations.append((time.perf_counter() - started) * 1000)
        claimed = sum(len(claim.route_ids) for claim in claims)
    return {
        f"{prefix}_ms_median": round(statistics.median(durations), 1),
        f"{prefix}_ms_max": round(max(durations), 1),
        f"{prefix}_routes_claimed": claimed,
    }


def main() -> int:
    url, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    models.setup_database(url)
    seed_due_routes(url, count, interval)
    # One full sweep as the worker runs it, and one claim of CLAIM_BATCH routes for comparison with
    # sweeps that claim less at a time.
    figures = time_sweeps(url, interval, checking.SWEEP_MAX_ROUTES, "sweep")
    figures.update(time_sweeps(url, interval, CLAIM_BATCH, "claim_5000"))
    print(json.dumps(dict(figures, sweep_routes_total=count)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

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


def time_sweeps(url: str, interval: float) -> dict:
    """Run the sweep of `schedule_route_checks` REPEATS times, releasing the claims in between."""
    window = timedelta(seconds=interval * 1.5)
    durations = []
    claimed = 0
    for _ in range(REPEATS):
        release_claims(url)
        started = time.perf_counter()
        claims = checking.claim_due_routes(utc_now(), window)
        durations.append((time.perf_counter() - started) * 1000)
        claimed = sum(len(claim.route_ids) for claim in claims)
    return {
        "sweep_ms_median": round(statistics.median(durations), 1),
        "sweep_ms_max": round(max(durations), 1),
        "sweep_routes_claimed": claimed,
    }


def main() -> int:
    url, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    models.setup_database(url)
    seed_due_routes(url, count, interval)
    print(json.dumps(dict(time_sweeps(url, interval), sweep_routes_total=count)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

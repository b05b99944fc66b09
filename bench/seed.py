"""Seed the benchmark database: monitored routes on fake connections, 3 watchers each."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg2
from psycopg2.extras import execute_values

from checking import connection_key
from fake_regiojet.timetable import CITY_OF_STATION, Connection, generate, local_today
from timeutil import to_naive_utc, utc_now

WATCHERS_PER_ROUTE = 3
TARIFFS = "REGULAR"


@dataclass(frozen=True)
class SeededRoute:
    route_id: int
    regiojet_route_id: str
    seat_class: str  # the class the route watches, and the benchmark frees seats in
    emails: tuple[str, ...]
    first_check_at: datetime  # naive UTC; the later checks are planned whole intervals after it


def pick_connections(count: int, departure_every_minutes: int, rng: random.Random,
                     seat_classes: int = 1) -> list[Connection]:
    """Pick `count` direct fake connections with at least `seat_classes` classes, leaving three hours from now or later."""
    connections = generate(1, local_today(), departure_every_minutes, all_sold_out=True)
    earliest = utc_now() + timedelta(hours=3)
    direct = [
        connection
        for connection in connections.values()
        if len(connection.sections) == 1
        and to_naive_utc(connection.first_stop.time) > earliest
        and len(connection.sections[0].capacity) >= seat_classes
    ]
    if len(direct) < count:
        raise ValueError(
            f"Invalid route count: {count} connections needed, but the fake timetable has only {len(direct)} "
            f"direct connections with {seat_classes} seat classes or more; lower --routes or --routes-per-connection"
        )
    return rng.sample(direct, count)


def station_name(station_id: int) -> str:
    return f"{CITY_OF_STATION[station_id].name_cs} {station_id}"


def seed_routes(url: str, connections: list[Connection], routes_per_connection: int, interval: timedelta) -> list[SeededRoute]:
    """Insert `routes_per_connection` monitored routes per connection with their watchers and watches, in one transaction.

    The routes of one connection watch different seat classes, so they are distinct monitored routes
    that one request checks. Each connection's first check is spread evenly over one interval from
    now, as if the watches had been created at random moments: watches created in one burst would
    keep being checked in one burst.
    """
    now = utc_now()
    rows = []
    watched = []  # (RegioJet route id, seat class, first check) of each row
    for index, connection in enumerate(connections):
        next_check_at = now + interval * index / len(connections)
        first, last = connection.first_stop, connection.last_stop
        key = connection_key(connection.route_id, first.station_id, last.station_id, [TARIFFS])
        for seat_class in sorted(connection.sections[0].capacity)[:routes_per_connection]:
            rows.append((
                connection.route_id, first.station_id, last.station_id,
                station_name(first.station_id), station_name(last.station_id),
                "Europe/Prague", "Europe/Prague",
                to_naive_utc(first.time), to_naive_utc(last.time), seat_class, TARIFFS, key,
                "active", now, next_check_at, "", 0, "",
            ))
            watched.append((connection.route_id, seat_class, next_check_at))

    with psycopg2.connect(url) as database, database.cursor() as cursor:
        route_ids = execute_values(
            cursor,
            """INSERT INTO monitored_route (regiojet_route_id, from_station_id, to_station_id,
                from_station_name, to_station_name, from_time_zone, to_time_zone, departure_at,
                arrival_at, seat_classes, tariffs, connection_key, status, created_at, next_check_at,
                claim_token, consecutive_failures, last_error) VALUES %s RETURNING id""",
            rows,
            page_size=1000,
            fetch=True,
        )
        emails = [
            tuple(f"route{route_id}-watcher{index}@bench.test" for index in range(WATCHERS_PER_ROUTE))
            for (route_id,) in route_ids
        ]
        watcher_ids = execute_values(
            cursor,
            "INSERT INTO watcher (email, language, created_at) VALUES %s RETURNING id",
            [(email, "en", now) for group in emails for email in group],
            page_size=3000,
            fetch=True,
        )
        watch_rows = [
            (watcher_ids[index * WATCHERS_PER_ROUTE + offset][0], route_id, now)
            for index, (route_id,) in enumerate(route_ids)
            for offset in range(WATCHERS_PER_ROUTE)
        ]
        execute_values(cursor, "INSERT INTO watch (watcher, route, created_at) VALUES %s", watch_rows, page_size=3000)
        # Without statistics of the fresh rows, PostgreSQL planned the first claim as a nested loop
        # over sequential scans, which took 14 s at 10,000 routes. Autovacuum would analyze later.
        cursor.execute("ANALYZE")

    return [
        SeededRoute(route_id, regiojet_route_id, seat_class, group, first_check_at)
        for (route_id,), group, (regiojet_route_id, seat_class, first_check_at) in zip(route_ids, emails, watched)
    ]

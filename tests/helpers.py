"""Helpers shared by the application tests: pick fake connections, store watches, wait for workers."""

import time
from datetime import datetime, timedelta

from pony.orm import db_session

from fake_regiojet import FakeRegioJetServer
from checking import CLAIM_HORIZON_KEY
from models import MonitoredRoute, ServiceState
from runtime import get_settings
from timeutil import to_naive_utc, utc_now
from watches import Connection, CreatedWatch, create_watch


def upcoming_connection(fake_api: FakeRegioJetServer, transfers: int = 0, min_hours_ahead: int = 24) -> dict:
    """Return a fake connection leaving at least `min_hours_ahead` hours from now."""
    earliest = utc_now() + timedelta(hours=min_hours_ahead)
    for route in fake_api.routes():
        departure = to_naive_utc(datetime.fromisoformat(route["stops"][0]["time"]))
        if route["transfersCount"] == transfers and not route["support"] and departure > earliest:
            return route
    raise LookupError(f"the fake API has no connection with {transfers} transfers {min_hours_ahead} h ahead")


def connection_for(route: dict) -> Connection:
    """Describe a whole fake connection, first stop to last, as the CLI would store it."""
    first, last = route["stops"][0], route["stops"][-1]
    return Connection(
        regiojet_route_id=route["id"],
        from_station_id=first["stationId"],
        to_station_id=last["stationId"],
        from_station_name=first["stationName"],
        to_station_name=last["stationName"],
        from_time_zone="Europe/Prague",
        to_time_zone="Europe/Prague",
        departure_at=to_naive_utc(datetime.fromisoformat(first["time"])),
        arrival_at=to_naive_utc(datetime.fromisoformat(last["time"])),
    )


def watch_connection(
    route: dict,
    email: str,
    language: str = "cs",
    seat_classes: tuple[str, ...] = (),
    tariffs: tuple[str, ...] = ("REGULAR",),
    now: datetime | None = None,
) -> CreatedWatch:
    interval = timedelta(seconds=get_settings().check_interval_seconds)
    return create_watch(
        connection_for(route), email, language, list(seat_classes), list(tariffs), now or utc_now(), interval
    )


def direct_routes(fake_api, count: int) -> list[dict]:
    """Return `count` routes of the fake API without transfers, departing more than a day from now."""
    cutoff = (utc_now() + timedelta(days=1)).isoformat()
    routes = [r for r in fake_api.routes() if r["transfersCount"] == 0 and not r["support"]]
    return [r for r in routes if r["stops"][0]["time"] > cutoff][:count]


def detail_request_count(fake_api) -> int:
    paths = fake_api.requests_made()["paths"]
    return sum(count for path, count in paths.items() if path.startswith("/restapi/routes/"))


def route_row(route_id: int) -> dict:
    with db_session:
        return MonitoredRoute[route_id].to_dict()


def claim_horizon() -> datetime:
    with db_session:
        return datetime.fromisoformat(ServiceState[CLAIM_HORIZON_KEY].value)


def move_plan_back(route_id: int, by: timedelta) -> None:
    """Move a route's planned check `by` into the past, as if that much time had passed since the plan.

    Sweeps never act on a time far past the database's clock, so a test makes a check late by moving
    its plan, not by passing the sweep a later time.
    """
    with db_session:
        route = MonitoredRoute[route_id]
        route.next_check_at -= by


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    """Poll `predicate` until it returns a true value and return that value, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)

"""Watches: create, cancel and list them. A watch joins the monitored route of its condition."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from pony.orm import db_session, desc

from checking import connection_key, lock_claim_horizon, plan_after_horizon
from models import ACTIVE, CANCELLED, MonitoredRoute, Watch, Watcher

logger = logging.getLogger(__name__)


class WatchError(ValueError):
    """A rejected watch request. The message gives the reason and what to do instead."""


@dataclass(frozen=True)
class Connection:
    """The connection and segment a watch is for, as RegioJet described it."""

    regiojet_route_id: str
    from_station_id: int
    to_station_id: int
    from_station_name: str
    to_station_name: str
    from_time_zone: str
    to_time_zone: str
    departure_at: datetime  # naive UTC
    arrival_at: datetime  # naive UTC


@dataclass(frozen=True)
class CreatedWatch:
    watch_id: int
    route_id: int
    joined_existing_route: bool
    already_watching: bool


@dataclass(frozen=True)
class WatchRow:
    """One watch as `list` shows it."""

    watch_id: int
    email: str
    language: str
    status: str
    route_id: int
    regiojet_route_id: str
    from_station_name: str
    to_station_name: str
    from_time_zone: str
    departure_at: datetime
    seat_classes: tuple[str, ...]
    tariffs: tuple[str, ...]
    created_at: datetime
    last_checked_at: datetime | None
    found_at: datetime | None
    last_error: str


def normalize_email(address: str) -> str:
    """Lower-case the domain part; the local part is case-sensitive by the standard."""
    local, _, domain = address.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


@db_session(retry=3)
def create_watch(
    connection: Connection,
    email: str,
    language: str,
    seat_classes: list[str],
    tariffs: list[str],
    now: datetime,
    interval: timedelta,
) -> CreatedWatch:
    """Store a watch, joining the active monitored route of the same condition when one exists.

    `interval` is the check interval, which a new route on an already watched connection keeps
    step with.
    """
    watcher = get_or_create_watcher(normalize_email(email), language, now)
    route, joined = get_or_create_route(connection, sorted(set(seat_classes)), sorted(tariffs), now, interval)

    existing = Watch.get(watcher=watcher, route=route)
    if existing is not None and existing.cancelled_at is None:
        return CreatedWatch(existing.id, route.id, joined_existing_route=True, already_watching=True)
    if existing is not None:
        # A cancelled watch of a still-active route comes back to life instead of a second row.
        existing.cancelled_at = None
        watch = existing
    else:
        watch = Watch(watcher=watcher, route=route, created_at=now)

    watch.flush()
    logger.info("watch=%d created on route=%d (joined existing route: %s)", watch.id, route.id, joined)
    return CreatedWatch(watch.id, route.id, joined_existing_route=joined, already_watching=False)


def get_or_create_watcher(email: str, language: str, now: datetime) -> Watcher:
    watcher = Watcher.get(email=email)
    if watcher is None:
        return Watcher(email=email, language=language, created_at=now)
    watcher.language = language
    return watcher


def get_or_create_route(
    connection: Connection, seat_classes: list[str], tariffs: list[str], now: datetime, interval: timedelta
) -> tuple[MonitoredRoute, bool]:
    key = connection_key(connection.regiojet_route_id, connection.from_station_id, connection.to_station_id, tariffs)
    classes = ",".join(seat_classes)
    route = MonitoredRoute.get(connection_key=key, seat_classes=classes, status=ACTIVE)
    if route is not None:
        return route, True

    # Join the check times of a route on the same connection, so that one request checks both. When
    # the sibling's check is claimed already, the new route joins its next one.
    horizon = lock_claim_horizon(exclusive=False)
    sibling = MonitoredRoute.select(lambda r: r.connection_key == key and r.status == ACTIVE).first()
    if sibling is not None:
        next_check_at = plan_after_horizon(sibling.next_check_at, horizon, step=interval)
    else:
        next_check_at = plan_after_horizon(now, horizon)
    route = MonitoredRoute(
        regiojet_route_id=connection.regiojet_route_id,
        from_station_id=connection.from_station_id,
        to_station_id=connection.to_station_id,
        from_station_name=connection.from_station_name,
        to_station_name=connection.to_station_name,
        from_time_zone=connection.from_time_zone,
        to_time_zone=connection.to_time_zone,
        departure_at=connection.departure_at,
        arrival_at=connection.arrival_at,
        seat_classes=classes,
        tariffs=",".join(tariffs),
        connection_key=key,
        status=ACTIVE,
        created_at=now,
        next_check_at=next_check_at,
    )
    return route, False


@db_session
def cancel_watch(watch_id: int, now: datetime) -> WatchRow:
    """Cancel a watch, and its route too when no other active watch remains on it."""
    watch = Watch.get(id=watch_id)
    if watch is None:
        raise WatchError(f"watch {watch_id} not found; `regiojet-watch list` shows the watch ids")
    if watch.cancelled_at is not None:
        raise WatchError(f"watch {watch_id} is already cancelled")
    if not watch.route.is_active:
        raise WatchError(f"watch {watch_id} has already ended: its route is {watch.route.status}")

    watch.cancelled_at = now
    route = watch.route
    if not route.watches.select(lambda other: other.cancelled_at is None).exists():
        route.set(status=CANCELLED, ended_at=now, claimed_until=None, claim_token="")
        logger.info("route=%d cancelled: its last watch=%d was cancelled", route.id, watch_id)
    logger.info("watch=%d cancelled", watch_id)
    return to_row(watch)


@db_session
def list_watches(email: str | None = None) -> list[WatchRow]:
    query = Watch.select()
    if email is not None:
        address = normalize_email(email)
        query = query.filter(lambda w: w.watcher.email == address)
    return [to_row(watch) for watch in query.order_by(desc(Watch.id))]


@db_session
def get_watch(watch_id: int) -> WatchRow:
    watch = Watch.get(id=watch_id)
    if watch is None:
        raise WatchError(f"watch {watch_id} not found; `regiojet-watch list` shows the watch ids")
    return to_row(watch)


def to_row(watch: Watch) -> WatchRow:
    route = watch.route
    return WatchRow(
        watch_id=watch.id,
        email=watch.watcher.email,
        language=watch.watcher.language,
        status=watch.status,
        route_id=route.id,
        regiojet_route_id=route.regiojet_route_id,
        from_station_name=route.from_station_name,
        to_station_name=route.to_station_name,
        from_time_zone=route.from_time_zone,
        departure_at=route.departure_at,
        seat_classes=tuple(route.seat_class_list),
        tariffs=tuple(route.tariff_list),
        created_at=watch.created_at,
        last_checked_at=route.last_checked_at,
        found_at=route.found_at,
        last_error=route.last_error,
    )

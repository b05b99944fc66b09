"""Checks of monitored routes: claim the due ones, ask RegioJet, and record what came back.

A sweep claims the due routes in the database: it moves the claim horizon, a planned time before
which every active route has a sweep responsible for its check, and claims overdue checks again
with a conditional UPDATE. A lock orders sweeps, so two schedulers running at once never both
queue the same check. Monitored routes that share a connection key (same RegioJet route, segment
and tariffs, different seat classes) are claimed and checked together with one request, and keep
the same planned check times from then on.
"""

import json
import logging
import math
import random
import time
import uuid
from collections import defaultdict
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import NamedTuple

from pony.orm import db_session

from availability import Offer, find_offers
from models import (
    ACTIVE,
    EXPIRED,
    FAILED,
    FOUND,
    PENDING,
    MonitoredRoute,
    Notification,
    db,
    split_keys,
    upsert_service_state,
)
from regiojet_client import (
    PermanentRegioJetError,
    RegioJetClient,
    RegioJetError,
    RouteDetail,
    SoldOutError,
    TemporaryRegioJetError,
)
from request_budget import RequestBudgetExceeded

logger = logging.getLogger(__name__)

# A check this long past its planned time is taken for lost (worker killed, queue emptied), and a
# later sweep claims its routes again. A claim row by row lasts this long past its sweep window.
CLAIM_GRACE = timedelta(seconds=90)

# The claim horizon, kept in service_state: every active route planned before it has been claimed.
CLAIM_HORIZON_KEY = "claim_horizon"
# The PostgreSQL advisory lock that orders sweeps and writers of planned times (any fixed number).
CLAIM_HORIZON_LOCK = 7_215_301
# The horizon claims routes planned at most this long ago, so each has at least the rest of
# CLAIM_GRACE to be checked before it counts as lost. Older plans are claimed row by row.
HORIZON_MAX_PLAN_AGE = CLAIM_GRACE / 2
# A sweep acts on a time at most this far past the database's clock.
CLOCK_SKEW_LIMIT = timedelta(seconds=5)
CLOCK_WARNING_PERIOD = 60.0
_last_clock_warning = -CLOCK_WARNING_PERIOD

# Backoff after temporary RegioJet failures: 5 s doubling per failure, at most 5 minutes, with
# jitter so that routes failing together do not retry together.
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 300.0

# A route whose checks have failed without a break for this long is marked failed.
MAX_FAILING_DURATION = timedelta(hours=6)


class ClaimedCheck(NamedTuple):
    """One queued check: the route it is queued for, the routes checked with it, and their claim.

    A claim row by row has a `claim_token`. A claim by the claim horizon has an empty token and
    `claimed_before`, the horizon it moved to: its routes are still planned before it until checked.
    """

    route_id: int
    planned_at: datetime
    route_ids: tuple[int, ...]
    claim_token: str = ""
    claimed_before: datetime | None = None


@dataclass
class CheckResult:
    """Outcome of one check. The caller queues `notification_ids` after the commit."""

    route_id: int
    outcome: str  # "found", "no_seats", "temporary_error", "permanent_error", "postponed", "skipped"
    offers: list[Offer] = field(default_factory=list)
    notification_ids: list[int] = field(default_factory=list)
    error: str | None = None
    # The route detail the check saw, which `regiojet-watch check` prints. None when RegioJet
    # reported the connection sold out or the check failed.
    detail: RouteDetail | None = None


def connection_key(regiojet_route_id: str, from_station_id: int, to_station_id: int, tariffs: list[str]) -> str:
    """Return the key of the RegioJet request that checks a monitored route."""
    return f"{regiojet_route_id}|{from_station_id}|{to_station_id}|{','.join(sorted(tariffs))}"


def backoff_delay(failures: int, retry_after: float | None = None) -> float:
    """Seconds to wait before the next attempt after `failures` consecutive temporary failures."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(failures - 1, 0))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        # RegioJet asked for a pause; honour it even beyond the usual cap.
        delay = max(delay, retry_after)
    return delay


def next_planned_time(planned_at: datetime, interval: timedelta, now: datetime) -> datetime:
    """Return the planned time of the check after one that ran at `now`.

    Scheduling from the planned time, not from when the check finished, keeps checks from drifting.
    A check more than half an interval ahead of its plan, such as `regiojet-watch check`, keeps the
    plan. A check slightly early, as in a batch that runs at its first route's planned time, counts
    as the planned one.
    """
    if planned_at - now > interval / 2:
        return planned_at
    next_time = planned_at + interval
    if next_time <= now:
        skipped = (now - next_time) // interval + 1
        next_time += skipped * interval
    return next_time


@db_session
def claim_due_routes(now: datetime, window: timedelta, limit: int = 5000) -> list[ClaimedCheck]:
    """Claim the active routes due before `now + window` and group them by connection.

    Routes planned from the claim horizon on are claimed together by moving the horizon to the
    window's end, which writes one row however many routes it covers. Routes whose check is
    overdue are claimed row by row first, within `limit` (see claim_overdue_routes).

    Returns one ClaimedCheck per connection, planned at the earliest due time in its group.
    """
    horizon = lock_claim_horizon(exclusive=True)
    now = not_after_database_clock(now)
    window_end = now + window
    stale_before = now - HORIZON_MAX_PLAN_AGE
    claimed_from = stale_before if horizon is None else max(horizon, stale_before)

    overdue = claim_overdue_routes(now, horizon, stale_before, window_end, limit)
    overdue_claims = group_claims(overdue.rows, now, overdue.token)
    if len(overdue.rows) >= limit:
        # The overdue routes took the whole limit, so the horizon waits for the next sweep.
        return overdue_claims

    rows, claimed_before = routes_from_horizon(
        now, claimed_from, max(claimed_from, window_end), limit - len(overdue.rows)
    )
    if horizon is None or claimed_before > horizon:
        upsert_service_state(CLAIM_HORIZON_KEY, sql_timestamp(claimed_before), now)
    return overdue_claims + group_claims(rows, now, claimed_before=claimed_before)


def not_after_database_clock(now: datetime) -> datetime:
    """Return `now`, or the database's time plus CLOCK_SKEW_LIMIT when `now` lies further ahead.

    Claims compare times that different consumers wrote, and the horizon never moves back. A
    consumer whose clock runs ahead would otherwise take the checks of others for lost, and push
    the next check of every route later for good.
    """
    global _last_clock_warning
    latest = database_time() + CLOCK_SKEW_LIMIT
    if now <= latest:
        return now

    if time.monotonic() - _last_clock_warning >= CLOCK_WARNING_PERIOD:
        _last_clock_warning = time.monotonic()
        logger.warning(
            "sweep: this consumer's clock is %.1f s ahead of the database's, so sweeps use the database's clock",
            (now - latest + CLOCK_SKEW_LIMIT).total_seconds(),
        )
    return latest


def database_time() -> datetime:
    """Return the database server's current time as naive UTC."""
    if db.provider.dialect == "PostgreSQL":
        return db.execute("SELECT clock_timestamp() AT TIME ZONE 'UTC'").fetchone()[0]
    return datetime.fromisoformat(db.execute("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')").fetchone()[0])


def lock_claim_horizon(exclusive: bool) -> datetime | None:
    """Wait until the claim horizon may be read, and return it (None before the first sweep).

    Sweeps hold the lock exclusively and writers of planned times hold it shared, until their
    transaction ends. Call it inside a db_session, before the session writes a planned time.
    """
    if db.provider.dialect == "PostgreSQL":
        # A statement of its own: a statement reads the data committed when it began, so the horizon
        # must be read after the lock is held, not while waiting for it.
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        db.execute(f"SELECT {function}($key)", {"key": CLAIM_HORIZON_LOCK})
    # On SQLite, the db.execute() below starts the session's transaction with BEGIN IMMEDIATE, which
    # holds the one write lock of the database until the session ends.
    row = db.execute("SELECT value FROM service_state WHERE key = $key", {"key": CLAIM_HORIZON_KEY}).fetchone()
    return None if row is None else datetime.fromisoformat(row[0])


def plan_after_horizon(planned_at: datetime, horizon: datetime | None, step: timedelta | None = None) -> datetime:
    """Return `planned_at`, or the first time from the claim horizon on when it lies behind it.

    A route planned behind the horizon would wait for the overdue claim, so a writer moves its plan
    to the horizon, or by whole steps when the route should keep step with others.
    """
    if horizon is None or planned_at >= horizon:
        return planned_at
    if step is None:
        return horizon
    return planned_at + math.ceil((horizon - planned_at) / step) * step


class OverdueClaim(NamedTuple):
    token: str
    rows: list


def claim_overdue_routes(
    now: datetime, horizon: datetime | None, stale_before: datetime, window_end: datetime, limit: int
) -> OverdueClaim:
    """Claim row by row, with a lease, the active routes whose check is overdue.

    Those are the routes behind the horizon planned more than CLAIM_GRACE ago, whose check was lost.
    They also include the routes from the horizon on planned before `stale_before`. Such plans are
    left when no sweep ran for a while, and a claim by the horizon would give them too little time
    before they count as lost.
    """
    token = uuid.uuid4().hex
    params = {
        "token": token,
        "now": now,
        "lost_before": now - CLAIM_GRACE,
        "horizon": horizon or datetime.min,
        "stale_before": stale_before,
        "claimed_until": window_end + CLAIM_GRACE,
        "limit": limit,
    }
    due = """
        SELECT id FROM monitored_route
        WHERE status = 'active' AND departure_at > $now AND next_check_at < $stale_before
          AND (next_check_at < $lost_before OR next_check_at >= $horizon)
          AND (claimed_until IS NULL OR claimed_until < $now)
        ORDER BY next_check_at
        LIMIT $limit"""
    if db.provider.dialect == "PostgreSQL":
        # FOR UPDATE re-tests the WHERE on a row that a concurrent writer changed, and SKIP LOCKED
        # leaves the rows another transaction holds. ARRAY() lets the UPDATE find the locked rows
        # by primary key, where an IN (subquery) made PostgreSQL 15 hash the whole table.
        condition = f"id = ANY(ARRAY({due} FOR UPDATE SKIP LOCKED))"
    else:
        # The session holds SQLite's one write lock (see lock_claim_horizon), so the subquery's rows
        # cannot change before the UPDATE writes them.
        condition = f"id IN ({due})"
    # RETURNING hands back the claimed rows without a second query (PostgreSQL, and SQLite from 3.35).
    cursor = db.execute(
        f"""
        UPDATE monitored_route SET claim_token = $token, claimed_until = $claimed_until
        WHERE {condition}
        RETURNING id, next_check_at, connection_key
        """,
        params,
    )
    return OverdueClaim(token, timestamp_rows(cursor.fetchall()))


def routes_from_horizon(now: datetime, horizon: datetime, window_end: datetime, limit: int) -> tuple[list, datetime]:
    """Read the active routes planned from `horizon` to `window_end`, at most `limit` of them.

    Returns the rows and the new horizon: `window_end`, or the planned time of the first route
    left out. Routes planned at one instant are never split, so the horizon always moves.
    """
    select = """
        SELECT id, next_check_at, connection_key FROM monitored_route
        WHERE status = 'active' AND next_check_at >= $horizon AND next_check_at < $window_end
          AND departure_at > $now AND (claimed_until IS NULL OR claimed_until < $now)
        ORDER BY next_check_at"""
    params = {"now": now, "horizon": horizon, "window_end": window_end, "limit": limit + 1}
    rows = timestamp_rows(db.execute(f"{select} LIMIT $limit", params).fetchall())
    if len(rows) <= limit:
        return rows, window_end

    cut = rows[limit][1]
    if cut == horizon:
        # More than `limit` routes planned at the horizon itself: claim all of them.
        params.update(window_end=cut + timedelta(microseconds=1))
        return timestamp_rows(db.execute(select, params).fetchall()), params["window_end"]
    return [row for row in rows if row[1] < cut], cut


def timestamp_rows(rows: list) -> list:
    """Convert the next_check_at column of (id, next_check_at, connection key) rows to datetimes."""
    if db.provider.dialect == "PostgreSQL":
        return rows
    return [(route_id, as_datetime(next_check_at), key) for route_id, next_check_at, key in rows]


def as_datetime(value: datetime | str) -> datetime:
    """Convert a raw query's timestamp, which the SQLite driver returns as text, to a datetime."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def group_claims(
    rows, now: datetime, claim_token: str = "", claimed_before: datetime | None = None
) -> list[ClaimedCheck]:
    """Group claimed (route id, next check, connection key) rows into one check per connection.

    A sweep at 100,000 routes groups 5,000 rows, so this avoids work a lone route does not need.
    """
    groups: dict[str, list[tuple[datetime, int]]] = {}
    for route_id, next_check_at, key in rows:
        members = groups.get(key)
        if members is None:
            groups[key] = [(next_check_at, route_id)]
        else:
            members.append((next_check_at, route_id))

    claims = []
    for members in groups.values():
        if len(members) > 1:
            members.sort()
        planned_at, leader_id = members[0]
        route_ids = tuple(route_id for _, route_id in members)
        claims.append(ClaimedCheck(leader_id, max(planned_at, now), route_ids, claim_token, claimed_before))
    claims.sort(key=attrgetter("planned_at"))
    return claims


@dataclass(frozen=True)
class CheckTarget:
    """What a check needs to know of one monitored route, read before the request is sent."""

    route_id: int
    regiojet_route_id: str
    from_station_id: int
    to_station_id: int
    tariffs: tuple[str, ...]
    seat_classes: frozenset[str]
    next_check_at: datetime
    consecutive_failures: int


@db_session
def load_check_targets(route_id: int) -> list[CheckTarget]:
    """Load the route and the active routes claimed with it.

    Those share its connection and its claim: the same claim token for a claim row by row, or, for
    a claim by the horizon (no token), the same planned time.
    """
    route = MonitoredRoute.get(id=route_id)
    if route is None or not route.is_active:
        return []

    key, token, planned_at = route.connection_key, route.claim_token, route.next_check_at
    others = MonitoredRoute.select(
        lambda other: other.connection_key == key
        and other.claim_token == token
        and (token != "" or other.next_check_at == planned_at)
        and other.status == ACTIVE
        and other.id != route_id
    )
    return [check_target(r) for r in [route, *others]]


def check_target(route: MonitoredRoute) -> CheckTarget:
    return CheckTarget(
        route_id=route.id,
        regiojet_route_id=route.regiojet_route_id,
        from_station_id=route.from_station_id,
        to_station_id=route.to_station_id,
        tariffs=tuple(route.tariff_list),
        seat_classes=frozenset(route.seat_class_list),
        next_check_at=route.next_check_at,
        consecutive_failures=route.consecutive_failures,
    )


def check_route(route_id: int, client: RegioJetClient, currency: str, interval: timedelta, now: datetime) -> list[CheckResult]:
    """Check a monitored route, and the routes claimed with it, with one RegioJet request.

    Records each route's outcome in the database. The caller queues the returned notifications.
    """
    targets = load_check_targets(route_id)
    if not targets:
        logger.info("check route=%d skipped: the route is no longer active", route_id)
        release_claim(route_id)
        return [CheckResult(route_id, "skipped")]

    detail = fetch_detail(targets, lambda: client)
    if isinstance(detail, (RegioJetError, RequestBudgetExceeded)):
        return record_failures(targets, detail, interval, now)

    results, without_seats = record_finds(targets, detail, currency, now)
    # Every route of the group follows the first one's plan, so they stay checked together.
    next_check_at = next_planned_time(targets[0].next_check_at, interval, now)
    results += record_no_seats([(target, next_check_at) for target in without_seats], now)
    for result in results:
        result.detail = detail
    return results


def record_failures(
    group: list[CheckTarget], error: RegioJetError | RequestBudgetExceeded, interval: timedelta, now: datetime
) -> list[CheckResult]:
    """Record a failed request for every route of one connection.

    The routes get one retry delay, drawn for the first of them, so that they stay checked together.
    """
    if isinstance(error, RequestBudgetExceeded):
        delay = random.uniform(1.0, max(interval.total_seconds() / 2, 1.0))
        return [postpone_check(target, error, delay, now) for target in group]
    if isinstance(error, PermanentRegioJetError):
        return [record_permanent_failure(target, error, now) for target in group]
    delay = backoff_delay(group[0].consecutive_failures + 1, error.retry_after)
    return [record_temporary_failure(target, error, delay, now) for target in group]


def record_finds(
    group: list[CheckTarget], detail: RouteDetail | None, currency: str, now: datetime
) -> tuple[list[CheckResult], list[CheckTarget]]:
    """Record a find for each route of one connection that the detail satisfies.

    Returns the finds' results and the routes without enough seats. A None detail means sold out.
    """
    results = []
    without_seats = []
    for target in group:
        offers = [] if detail is None else find_offers(detail, target.seat_classes, len(target.tariffs), currency)
        if offers:
            results.append(record_find(target, offers, now))
        else:
            without_seats.append(target)
    return results, without_seats


@db_session
def record_find(target: CheckTarget, offers: list[Offer], now: datetime) -> CheckResult:
    """Mark the route found and write one pending notification per watcher, in one transaction."""
    route = MonitoredRoute.get(id=target.route_id)
    if route is None or not route.is_active:
        return CheckResult(target.route_id, "skipped")

    route.set(
        status=FOUND,
        found_at=now,
        ended_at=now,
        found_offers=[offer.to_json() for offer in offers],
        last_checked_at=now,
        claimed_until=None,
        claim_token="",
        consecutive_failures=0,
        failing_since=None,
    )
    notifications = [
        Notification(watch=watch, route=route, status=PENDING, created_at=now, next_attempt_at=now)
        for watch in route.watches
        if watch.cancelled_at is None
    ]
    db.flush()
    summary = ", ".join(f"{offer.seat_class}={offer.free_seats}" for offer in offers)
    logger.info("check route=%d found seats (%s); %d notifications created", route.id, summary, len(notifications))
    return CheckResult(target.route_id, "found", offers=offers, notification_ids=[n.id for n in notifications])


@db_session
def record_temporary_failure(target: CheckTarget, error: TemporaryRegioJetError, delay: float, now: datetime) -> CheckResult:
    """Plan a retry `delay` seconds from now, or give the route up when it has failed for too long."""
    route = MonitoredRoute.get(id=target.route_id)
    if route is None or not route.is_active:
        return CheckResult(target.route_id, "skipped")

    failures = route.consecutive_failures + 1
    failing_since = route.failing_since or now
    message = f"temporary RegioJet error: {error}"
    if now - failing_since >= MAX_FAILING_DURATION:
        route.set(status=FAILED, ended_at=now, claimed_until=None, claim_token="")
        message = f"gave up after {failures} failed checks since {failing_since:%Y-%m-%d %H:%M} UTC; last {message}"
        logger.warning("check route=%d failed for good: %s", route.id, message)
    else:
        retry_at = plan_after_horizon(now + timedelta(seconds=delay), lock_claim_horizon(exclusive=False))
        route.set(next_check_at=retry_at, claimed_until=None, claim_token="")
        logger.warning("check route=%d retry %d in %.0f s: %s", route.id, failures, delay, message)

    route.set(consecutive_failures=failures, failing_since=failing_since, last_error=message[:1000], last_error_at=now)
    return CheckResult(target.route_id, "temporary_error", error=message)


@db_session
def postpone_check(target: CheckTarget, error: RequestBudgetExceeded, delay: float, now: datetime) -> CheckResult:
    """Plan the check again `delay` seconds from now, because the shared request budget had no slot for it.

    A full budget is not RegioJet failing, so it neither counts as a failed check nor backs off.
    """
    route = MonitoredRoute.get(id=target.route_id)
    if route is None or not route.is_active:
        return CheckResult(target.route_id, "skipped")

    retry_at = plan_after_horizon(now + timedelta(seconds=delay), lock_claim_horizon(exclusive=False))
    route.set(next_check_at=retry_at, claimed_until=None, claim_token="")
    logger.warning("check route=%d postponed %.0f s: %s", route.id, delay, error)
    return CheckResult(target.route_id, "postponed", error=str(error))


@db_session
def record_permanent_failure(target: CheckTarget, error: PermanentRegioJetError, now: datetime) -> CheckResult:
    route = MonitoredRoute.get(id=target.route_id)
    if route is None or not route.is_active:
        return CheckResult(target.route_id, "skipped")

    message = f"RegioJet rejected the connection: {error}"
    route.set(
        status=FAILED,
        ended_at=now,
        last_error=message[:1000],
        last_error_at=now,
        claimed_until=None,
        claim_token="",
    )
    logger.warning("check route=%d failed: %s", route.id, message)
    return CheckResult(target.route_id, "permanent_error", error=message)


@db_session
def release_claim(route_id: int) -> None:
    route = MonitoredRoute.get(id=route_id)
    if route is not None and route.claim_token:
        route.set(claimed_until=None, claim_token="")


@db_session
def expire_past_routes(now: datetime) -> int:
    """Mark active routes whose departure has passed as expired; found routes keep their status."""
    cursor = db.execute(
        "UPDATE monitored_route SET status = $expired, ended_at = $now, claimed_until = NULL, claim_token = '' "
        "WHERE status = $active AND departure_at <= $now",
        {"expired": EXPIRED, "active": ACTIVE, "now": now},
    )
    return cursor.rowcount



# Sweeps run every SWEEP_PERIOD and claim the routes due within SWEEP_LOOKAHEAD. Claiming one
# second at a time keeps each sweep's read small, and a lookahead of two periods means one dropped
# or late sweep leaves no route unclaimed at its planned time.
SWEEP_PERIOD = timedelta(seconds=1)
SWEEP_LOOKAHEAD = 2 * SWEEP_PERIOD

# Maximum number of routes one sweep claims: 10,000 a second covers 200,000 monitored routes at a
# 20 s interval. Beyond it the oldest due routes go first and the rest wait for the next sweep.
SWEEP_MAX_ROUTES = 10_000

# A batch task checks the routes planned within this span of each other, at most this many.
BATCH_SPAN = timedelta(seconds=1)
BATCH_MAX_ROUTES = 200


class Batch(NamedTuple):
    """One `check_route_batch` task: when it runs, its routes, and the claim they were taken by."""

    planned_at: datetime
    route_ids: tuple[int, ...]
    claim_token: str
    claimed_before: datetime | None


def plan_batches(claims: list[ClaimedCheck]) -> list[Batch]:
    """Split claims sorted by planned time into batches of one time span and one claim.

    A batch runs at its first planned time, so no check in it runs later than planned and none more
    than BATCH_SPAN early.
    """
    batches: list[tuple[ClaimedCheck, list[int]]] = []
    for claim in claims:
        if batches and joins_batch(batches[-1], claim):
            batches[-1][1].extend(claim.route_ids)
        else:
            batches.append((claim, list(claim.route_ids)))
    return [
        Batch(first.planned_at, tuple(route_ids), first.claim_token, first.claimed_before)
        for first, route_ids in batches
    ]


def joins_batch(batch: tuple[ClaimedCheck, list[int]], claim: ClaimedCheck) -> bool:
    first, route_ids = batch
    return (
        claim.planned_at - first.planned_at < BATCH_SPAN
        and len(route_ids) < BATCH_MAX_ROUTES
        and (claim.claim_token, claim.claimed_before) == (first.claim_token, first.claimed_before)
    )


@db_session
def load_batch_targets(
    route_ids: list[int], claim_token: str | None = None, claimed_before: datetime | None = None
) -> list[list[CheckTarget]]:
    """Load the active routes among `route_ids`, grouped by connection key (one request per group).

    With `claim_token` (and `claimed_before` for a claim by the horizon), only the routes that this
    claim still holds: a route whose check became overdue and was claimed by a later sweep is left
    to that sweep's check, and a route checked since is left alone.
    """
    # A raw query, because building a Pony entity per route took most of this function's CPU in a
    # profile of 500 checks a second.
    rows = db.select(
        f"""SELECT id, regiojet_route_id, from_station_id, to_station_id, tariffs, seat_classes,
                next_check_at, consecutive_failures, connection_key
            FROM monitored_route
            WHERE {ids_in_json("id", "route_ids")} AND status = 'active' {claim_condition(claim_token, claimed_before)}
            ORDER BY id""",
        {"route_ids": json.dumps(route_ids), "claim_token": claim_token, "claimed_before": claimed_before},
    )
    groups: dict[str, list[CheckTarget]] = defaultdict(list)
    for route_id, regiojet_route_id, from_id, to_id, tariffs, seat_classes, next_check_at, failures, key in rows:
        groups[key].append(
            CheckTarget(
                route_id=route_id,
                regiojet_route_id=regiojet_route_id,
                from_station_id=from_id,
                to_station_id=to_id,
                tariffs=tuple(split_keys(tariffs)),
                seat_classes=frozenset(split_keys(seat_classes)),
                next_check_at=as_datetime(next_check_at),
                consecutive_failures=failures,
            )
        )
    return list(groups.values())


def claim_condition(claim_token: str | None, claimed_before: datetime | None = None) -> str:
    """Return an SQL condition: the row is still held by the claim of `$claim_token`, if given.

    A claim by the horizon (empty token) covers a route until its check moves its plan past the
    horizon, `$claimed_before`.
    """
    if claim_token is None:
        return ""
    if claimed_before is None:
        return "AND claim_token = $claim_token"
    return "AND claim_token = $claim_token AND next_check_at < $claimed_before"


def ids_in_json(column: str, parameter: str) -> str:
    """Return an SQL condition: `column` is one of the integers in the JSON array `$parameter`.

    Pony's raw SQL cannot bind a list, and one JSON parameter keeps the statement text the same
    whatever the number of ids.
    """
    if db.provider.dialect == "PostgreSQL":
        return f"{column} IN (SELECT value::integer FROM json_array_elements_text(${parameter}::json))"
    return f"{column} IN (SELECT value FROM json_each(${parameter}))"


def fetch_detail(targets: list[CheckTarget], get_client) -> RouteDetail | None | RegioJetError | RequestBudgetExceeded:
    """Request the route detail of one connection; return None when sold out, or the RegioJet error."""
    first = targets[0]
    try:
        return get_client().get_route_detail(
            first.regiojet_route_id, first.from_station_id, first.to_station_id, first.tariffs
        )
    except SoldOutError:
        return None
    except (TemporaryRegioJetError, PermanentRegioJetError, RequestBudgetExceeded) as error:
        return error


def check_routes(
    route_ids: list[int],
    executor: Executor,
    get_client,
    currency: str,
    interval: timedelta,
    now: datetime,
    claim_token: str | None = None,
    claimed_before: datetime | None = None,
) -> list[CheckResult]:
    """Check many claimed routes: one request per connection, sent concurrently on `executor`.

    `get_client` returns the calling thread's RegioJetClient. With `claim_token` (and
    `claimed_before`), routes no longer held by that claim are skipped. Finds are recorded route by route, each in its own transaction
    with its notifications; every route without seats is recorded in one transaction. The caller
    queues the returned notifications.
    """
    groups = load_batch_targets(list(route_ids), claim_token, claimed_before)
    loaded = {target.route_id for group in groups for target in group}
    results = [CheckResult(route_id, "skipped") for route_id in route_ids if route_id not in loaded]
    if claim_token != "":
        # A claim by the horizon wrote nothing on the rows, so it has nothing to release.
        release_claims([result.route_id for result in results], claim_token)

    details = executor.map(lambda group: fetch_detail(group, get_client), groups)
    without_seats: list[tuple[CheckTarget, datetime]] = []
    for group, detail in zip(groups, details):
        if isinstance(detail, (RegioJetError, RequestBudgetExceeded)):
            results += record_failures(group, detail, interval, now)
            continue
        finds, unsatisfied = record_finds(group, detail, currency, now)
        results += finds
        next_check_at = next_planned_time(group[0].next_check_at, interval, now)
        without_seats += [(target, next_check_at) for target in unsatisfied]

    results += record_no_seats(without_seats, now)
    return results


@db_session
def record_no_seats(plans: list[tuple[CheckTarget, datetime]], now: datetime) -> list[CheckResult]:
    """Record checks that found too few seats: set each route's next planned check, release its claim.

    Takes (route, next planned check) pairs and writes them all with one statement. A plan behind
    the claim horizon, after a check that ran late, moves forward to the horizon, so the next check
    comes as soon as it can. Routes of one connection get one plan here, and a sweep claims routes
    of one connection together, so they keep one plan.
    """
    if not plans:
        return []

    horizon = lock_claim_horizon(exclusive=False)
    rows = json.dumps(
        [
            {"route_id": target.route_id, "planned_at": sql_timestamp(plan_after_horizon(next_check_at, horizon))}
            for target, next_check_at in plans
        ]
    )
    if db.provider.dialect == "PostgreSQL":
        source = "json_to_recordset($plans::json) AS plan(route_id integer, planned_at timestamp)"
    else:
        # Pony's raw SQL reads "$$" as one "$".
        source = """(SELECT json_extract(value, '$$.route_id') AS route_id,
                            json_extract(value, '$$.planned_at') AS planned_at
                     FROM json_each($plans)) AS plan"""
    # The plan's columns have names of their own, so that RETURNING needs no table name: SQLite
    # rejects one there from 3.35.4 on.
    cursor = db.execute(
        f"""UPDATE monitored_route SET last_checked_at = $now, next_check_at = plan.planned_at,
                claimed_until = NULL, claim_token = '', consecutive_failures = 0, failing_since = NULL
            FROM {source}
            WHERE monitored_route.id = plan.route_id AND monitored_route.status = 'active'
            RETURNING id""",
        {"now": now, "plans": rows},
    )
    recorded = {route_id for (route_id,) in cursor.fetchall()}
    return [CheckResult(target.route_id, "no_seats" if target.route_id in recorded else "skipped") for target, _ in plans]


def sql_timestamp(value: datetime) -> str:
    """Format a naive UTC datetime as Pony stores it in SQLite, which PostgreSQL also reads."""
    return value.isoformat(" ", timespec="microseconds")


@db_session
def release_claims(route_ids: list[int], claim_token: str | None = None) -> None:
    """Release the claims of `route_ids`; with `claim_token`, only the claims that are still that one."""
    if route_ids:
        db.execute(
            f"""UPDATE monitored_route SET claimed_until = NULL, claim_token = ''
                WHERE {ids_in_json('id', 'route_ids')} {claim_condition(claim_token)}""",
            {"route_ids": json.dumps(route_ids), "claim_token": claim_token},
        )

"""Claims of due checks: the claim horizon, overdue claims row by row, and writers of planned times."""

import logging
import threading
from datetime import datetime, timedelta

from pony.orm import db_session

import checking
from models import MonitoredRoute
from regiojet_client import TemporaryRegioJetError
from request_budget import RequestBudgetExceeded
from tasks import check_route_batch
from tests.helpers import (
    claim_horizon,
    detail_request_count,
    direct_routes,
    move_plan_back,
    route_row,
    wait_until,
    watch_connection,
)
from timeutil import utc_now

INTERVAL = timedelta(seconds=20)
WINDOW = checking.SWEEP_LOOKAHEAD


def watch_routes(fake_api, count: int) -> list[int]:
    routes = direct_routes(fake_api, count)
    for route in routes:
        fake_api.sell_out(route["id"])
    return [watch_connection(route, f"watcher{index}@example.com").route_id for index, route in enumerate(routes)]


def plan_routes(plans: dict[int, datetime]) -> None:
    with db_session:
        for route_id, planned_at in plans.items():
            MonitoredRoute[route_id].next_check_at = planned_at


def claimed_ids(claims: list[checking.ClaimedCheck]) -> list[int]:
    return [route_id for claim in claims for route_id in claim.route_ids]


def test_claim_by_horizon_writes_no_route(fake_api):
    route_ids = watch_routes(fake_api, 2)
    now = utc_now()

    claims = checking.claim_due_routes(now, WINDOW)

    assert sorted(claimed_ids(claims)) == sorted(route_ids)
    assert {(claim.claim_token, claim.claimed_before) for claim in claims} == {("", now + WINDOW)}
    assert claim_horizon() == now + WINDOW
    for route_id in route_ids:
        row = route_row(route_id)
        assert (row["claim_token"], row["claimed_until"]) == ("", None)


def test_claim_behind_horizon_not_claimed_again(fake_api):
    watch_routes(fake_api, 2)
    now = utc_now()
    checking.claim_due_routes(now, WINDOW)

    assert checking.claim_due_routes(now + checking.SWEEP_PERIOD, WINDOW) == []
    assert claim_horizon() == now + checking.SWEEP_PERIOD + WINDOW


def test_claim_limit_stops_horizon_at_next_route(fake_api):
    route_ids = watch_routes(fake_api, 5)
    now = utc_now()
    plans = {route_id: now - timedelta(seconds=5 - index) for index, route_id in enumerate(route_ids)}
    plan_routes(plans)

    first = checking.claim_due_routes(now, WINDOW, limit=3)

    assert claimed_ids(first) == route_ids[:3]
    assert claim_horizon() == plans[route_ids[3]]
    assert claimed_ids(checking.claim_due_routes(now, WINDOW, limit=3)) == route_ids[3:]


def test_claim_limit_keeps_routes_of_one_instant_together(fake_api):
    route_ids = watch_routes(fake_api, 3)
    now = utc_now()
    plan_routes({route_id: now for route_id in route_ids})
    # The first sweep puts the horizon at the routes' planned time, the second claims them.
    plan_routes({route_ids[0]: now - timedelta(seconds=1)})
    assert claimed_ids(checking.claim_due_routes(now, WINDOW, limit=1)) == route_ids[:1]
    assert claim_horizon() == now

    assert sorted(claimed_ids(checking.claim_due_routes(now, WINDOW, limit=1))) == sorted(route_ids[1:])
    assert claim_horizon() > now


def test_claim_overdue_route_row_by_row(fake_api):
    (route_id,) = watch_routes(fake_api, 1)
    checking.claim_due_routes(utc_now(), WINDOW)
    # Its batch task was lost: the route stays planned behind the horizon until its check is overdue.
    move_plan_back(route_id, checking.CLAIM_GRACE - timedelta(seconds=1))
    assert checking.claim_due_routes(utc_now(), WINDOW) == []
    move_plan_back(route_id, timedelta(seconds=2))
    now = utc_now()

    (claim,) = checking.claim_due_routes(now, WINDOW)

    assert claim.route_ids == (route_id,)
    assert claim.claim_token != ""
    assert claim.claimed_before is None
    row = route_row(route_id)
    assert row["claim_token"] == claim.claim_token
    assert row["claimed_until"] == now + WINDOW + checking.CLAIM_GRACE
    assert checking.claim_due_routes(utc_now(), WINDOW) == []


def test_claim_stale_horizon_row_by_row(fake_api):
    old, recent = watch_routes(fake_api, 2)
    now = utc_now()
    # No sweep ran for 100 s: the horizon lies behind both plans.
    checking.claim_due_routes(now - timedelta(seconds=102), WINDOW)
    plan_routes({old: now - timedelta(seconds=60), recent: now - timedelta(seconds=10)})

    claims = checking.claim_due_routes(now, WINDOW)

    assert [(claim.route_ids, claim.claim_token != "") for claim in claims] == [((old,), True), ((recent,), False)]
    assert route_row(old)["claimed_until"] is not None
    assert checking.claim_due_routes(now + checking.SWEEP_PERIOD, WINDOW) == []


def test_claim_limit_spent_on_overdue_routes(fake_api):
    lost, fresh = watch_routes(fake_api, 2)
    checking.claim_due_routes(utc_now(), WINDOW)
    horizon = claim_horizon()
    plan_routes({lost: utc_now() - timedelta(seconds=100), fresh: horizon})

    assert claimed_ids(checking.claim_due_routes(utc_now(), WINDOW, limit=1)) == [lost]
    assert claim_horizon() == horizon

    assert claimed_ids(checking.claim_due_routes(utc_now(), WINDOW, limit=1)) == [fresh]


def test_claim_leaves_live_claim_of_older_release(fake_api):
    (route_id,) = watch_routes(fake_api, 1)
    now = utc_now()
    with db_session:
        MonitoredRoute[route_id].set(next_check_at=now, claim_token="older", claimed_until=now + timedelta(seconds=60))

    assert checking.claim_due_routes(now, WINDOW) == []
    # Its task was lost: once its claim has lapsed and its check is overdue, a sweep claims it again.
    with db_session:
        MonitoredRoute[route_id].claimed_until = utc_now() - timedelta(seconds=1)
    move_plan_back(route_id, checking.CLAIM_GRACE + timedelta(seconds=1))
    assert claimed_ids(checking.claim_due_routes(utc_now(), WINDOW)) == [route_id]


def test_claim_clock_ahead_uses_database_clock(fake_api, caplog, monkeypatch):
    due, later = watch_routes(fake_api, 2)
    ahead = utc_now() + timedelta(hours=1)
    plan_routes({later: utc_now() + timedelta(minutes=30)})
    # The warning comes at most once a minute, and other tests may have logged it already.
    monkeypatch.setattr(checking, "_last_clock_warning", -checking.CLOCK_WARNING_PERIOD)

    with caplog.at_level(logging.WARNING, logger="checking"):
        claims = checking.claim_due_routes(ahead, WINDOW)

    assert [(claim.route_ids, claim.claim_token) for claim in claims] == [((due,), "")]
    assert claim_horizon() <= utc_now() + WINDOW + checking.CLOCK_SKEW_LIMIT
    assert "clock is" in caplog.text


def test_horizon_batch_skips_checked_route(fake_api):
    route_ids = watch_routes(fake_api, 2)
    (batch,) = checking.plan_batches(checking.claim_due_routes(utc_now(), WINDOW))
    fake_api.reset_requests()

    check_route_batch.call_local(batch.route_ids, batch.claim_token, batch.claimed_before)
    assert detail_request_count(fake_api) == 2
    # A retry of the same task, as Huey runs after an error, finds both routes checked.
    check_route_batch.call_local(batch.route_ids, batch.claim_token, batch.claimed_before)

    assert detail_request_count(fake_api) == 2
    for route_id in route_ids:
        assert route_row(route_id)["next_check_at"] >= batch.claimed_before


def test_postpone_behind_horizon_moves_plan(fake_api):
    (route_id,) = watch_routes(fake_api, 1)
    now = utc_now()
    checking.claim_due_routes(now, WINDOW)
    (target,) = checking.load_check_targets(route_id)

    checking.postpone_check(target, RequestBudgetExceeded("full"), delay=1.0, now=now)

    assert route_row(route_id)["next_check_at"] == now + WINDOW
    assert claimed_ids(checking.claim_due_routes(now + checking.SWEEP_PERIOD, WINDOW)) == [route_id]


def test_retry_behind_horizon_moves_to_horizon(fake_api):
    (route_id,) = watch_routes(fake_api, 1)
    now = utc_now()
    checking.claim_due_routes(now, WINDOW)
    (target,) = checking.load_check_targets(route_id)

    checking.record_temporary_failure(target, TemporaryRegioJetError("HTTP 503"), delay=1.0, now=now)

    assert route_row(route_id)["next_check_at"] == now + WINDOW


def test_no_seats_behind_horizon_moves_plan(fake_api):
    (route_id,) = watch_routes(fake_api, 1)
    now = utc_now()
    checking.claim_due_routes(now, WINDOW)
    (target,) = checking.load_check_targets(route_id)

    checking.record_no_seats([(target, now + timedelta(seconds=1))], now)

    assert route_row(route_id)["next_check_at"] == now + WINDOW


def test_late_check_keeps_connection_routes_together(fake_api):
    (route,) = direct_routes(fake_api, 1)
    fake_api.sell_out(route["id"])
    relax = watch_connection(route, "anna@example.com", seat_classes=("C1",)).route_id
    business = watch_connection(route, "bob@example.com", seat_classes=("C2",)).route_id
    # Their plans drifted apart by a second, and the check runs late.
    now = utc_now()
    plan_routes({relax: now - INTERVAL, business: now - INTERVAL + timedelta(seconds=1)})

    (batch,) = checking.plan_batches(checking.claim_due_routes(now, WINDOW))
    check_route_batch.call_local(batch.route_ids, batch.claim_token, batch.claimed_before)

    assert route_row(relax)["next_check_at"] == route_row(business)["next_check_at"]
    assert route_row(relax)["next_check_at"] >= batch.claimed_before


def test_new_route_planned_at_horizon(fake_api):
    (route,) = direct_routes(fake_api, 1)
    now = utc_now()
    checking.claim_due_routes(now + timedelta(seconds=3), WINDOW)

    created = watch_connection(route, "anna@example.com", now=now)

    assert route_row(created.route_id)["next_check_at"] == now + timedelta(seconds=3) + WINDOW


def test_new_route_joins_sibling_next_check(fake_api):
    (route,) = direct_routes(fake_api, 1)
    relax = watch_connection(route, "anna@example.com", seat_classes=("C1",))
    planned = route_row(relax.route_id)["next_check_at"]
    checking.claim_due_routes(utc_now(), WINDOW)

    business = watch_connection(route, "bob@example.com", seat_classes=("C2",))

    assert route_row(business.route_id)["next_check_at"] == planned + INTERVAL


def test_sweep_waits_for_plan_writer(fake_api):
    (route_id,) = watch_routes(fake_api, 1)
    now = utc_now()
    checking.claim_due_routes(now - checking.SWEEP_PERIOD, WINDOW)
    locked = threading.Event()

    def postpone_slowly():
        # A writer between reading the horizon and committing the plan it derived from it.
        with db_session:
            horizon = checking.lock_claim_horizon(exclusive=False)
            locked.set()
            threading.Event().wait(0.3)
            MonitoredRoute[route_id].next_check_at = horizon

    writer = threading.Thread(target=postpone_slowly)
    writer.start()
    wait_until(locked.is_set, message="writer holds the claim horizon")

    claims = checking.claim_due_routes(now, WINDOW)
    writer.join()

    assert claimed_ids(claims) == [route_id]

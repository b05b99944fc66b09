"""Batch checks: the sweep's batches and `check_route_batch` against the fake API and SMTP server."""

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from pony.orm import db_session

import checking
from models import FOUND, PENDING, MonitoredRoute, Notification
from runtime import get_regiojet_client
from tasks import check_route_batch
from tests.helpers import (
    detail_request_count,
    direct_routes,
    move_plan_back,
    route_row,
    watch_connection,
)
from timeutil import utc_now

INTERVAL = timedelta(seconds=20)
START = datetime(2026, 5, 1, 12, 0, 0)


def claim(route_id: int, seconds: float, claim_token: str = "") -> checking.ClaimedCheck:
    return checking.ClaimedCheck(route_id, START + timedelta(seconds=seconds), (route_id,), claim_token, START)


def check_routes_now(route_ids: list[int], now: datetime | None = None) -> list[checking.CheckResult]:
    """Run `checking.check_routes` on a thread pool of its own, as a batch task does."""
    with ThreadPoolExecutor(max_workers=4) as executor:
        return checking.check_routes(route_ids, executor, get_regiojet_client, "CZK", INTERVAL, now or utc_now())


def test_plan_batches_joins_claims_within_one_span():
    batches = checking.plan_batches([claim(1, 0), claim(2, 0.5), claim(3, 1.2), claim(4, 5)])

    assert [batch.route_ids for batch in batches] == [(1, 2), (3,), (4,)]
    assert [batch.planned_at for batch in batches] == [START, START + timedelta(seconds=1.2), START + timedelta(seconds=5)]


def test_plan_batches_caps_routes_per_batch():
    claims = [claim(route_id, 0) for route_id in range(checking.BATCH_MAX_ROUTES + 1)]

    batches = checking.plan_batches(claims)

    assert [len(batch.route_ids) for batch in batches] == [checking.BATCH_MAX_ROUTES, 1]


def test_plan_batches_keeps_claims_apart():
    overdue = claim(1, 0, claim_token="a1")

    batches = checking.plan_batches([overdue, claim(2, 0), claim(3, 0.5)])

    assert [batch.route_ids for batch in batches] == [(1,), (2, 3)]
    assert [(batch.claim_token, batch.claimed_before) for batch in batches] == [("a1", START), ("", START)]


def test_check_route_batch_one_request_per_connection(fake_api):
    routes = direct_routes(fake_api, 3)
    for route in routes:
        fake_api.sell_out(route["id"])
    created = [watch_connection(route, f"watcher{index}@example.com") for index, route in enumerate(routes)]
    # A second seat class on the first connection shares its request.
    created.append(watch_connection(routes[0], "bob@example.com", seat_classes=("C1",)))
    planned = {watch.route_id: route_row(watch.route_id)["next_check_at"] for watch in created}
    claims = checking.claim_due_routes(utc_now(), checking.SWEEP_LOOKAHEAD)
    fake_api.reset_requests()

    check_route_batch.call_local(tuple(route_id for c in claims for route_id in c.route_ids))

    assert detail_request_count(fake_api) == 3
    for route_id, planned_at in planned.items():
        row = route_row(route_id)
        assert row["status"] == "active"
        assert row["claim_token"] == ""
        assert row["next_check_at"] - planned_at == INTERVAL


def test_check_route_batch_find_writes_notifications(fake_api):
    routes = direct_routes(fake_api, 2)
    for route in routes:
        fake_api.sell_out(route["id"])
    found = watch_connection(routes[0], "anna@example.com")
    watch_connection(routes[0], "bob@example.com")
    quiet = watch_connection(routes[1], "carl@example.com")
    seat_class = next(iter(fake_api.free_seats(routes[0]["id"])))
    fake_api.set_free_seats(routes[0]["id"], {seat_class: 2})
    checking.claim_due_routes(utc_now(), checking.SWEEP_LOOKAHEAD)

    results = check_routes_now([found.route_id, quiet.route_id])

    outcomes = {result.route_id: result.outcome for result in results}
    assert outcomes == {found.route_id: "found", quiet.route_id: "no_seats"}
    assert route_row(found.route_id)["status"] == FOUND
    with db_session:
        statuses = [n.status for n in Notification.select()]
    assert statuses == [PENDING, PENDING]


def test_check_route_batch_skips_route_no_longer_active(fake_api):
    (route,) = direct_routes(fake_api, 1)
    created = watch_connection(route, "anna@example.com")
    checking.claim_due_routes(utc_now(), checking.SWEEP_LOOKAHEAD)
    with db_session:
        MonitoredRoute[created.route_id].status = "cancelled"
    fake_api.reset_requests()

    check_route_batch.call_local((created.route_id,))

    assert detail_request_count(fake_api) == 0
    assert route_row(created.route_id)["claim_token"] == ""


def test_check_routes_early_member_advances_plan(fake_api):
    first, second = direct_routes(fake_api, 2)
    for route in (first, second):
        fake_api.sell_out(route["id"])
    early = watch_connection(first, "anna@example.com")
    late = watch_connection(second, "bob@example.com")
    now = utc_now()
    # One batch runs at its first route's planned time, so the second route is checked 0.8 s early.
    with db_session:
        MonitoredRoute[early.route_id].next_check_at = now
        MonitoredRoute[late.route_id].next_check_at = now + timedelta(seconds=0.8)

    check_routes_now([early.route_id, late.route_id], now)

    assert route_row(early.route_id)["next_check_at"] == now + INTERVAL
    assert route_row(late.route_id)["next_check_at"] == now + timedelta(seconds=0.8) + INTERVAL


def test_record_no_seats_leaves_route_ended_meanwhile(fake_api):
    first, second = direct_routes(fake_api, 2)
    active = watch_connection(first, "anna@example.com")
    ended = watch_connection(second, "bob@example.com")
    checking.claim_due_routes(utc_now(), checking.SWEEP_LOOKAHEAD)
    groups = checking.load_batch_targets([active.route_id, ended.route_id])
    with db_session:
        MonitoredRoute[ended.route_id].status = "cancelled"
    next_check_at = utc_now().replace(microsecond=0) + INTERVAL

    results = checking.record_no_seats([(group[0], next_check_at) for group in groups], utc_now())

    assert {result.route_id: result.outcome for result in results} == {active.route_id: "no_seats", ended.route_id: "skipped"}
    assert route_row(active.route_id)["next_check_at"] == next_check_at
    assert route_row(ended.route_id)["status"] == "cancelled"
    assert route_row(ended.route_id)["next_check_at"] != next_check_at


def sibling_routes(fake_api) -> list[int]:
    """Watch two seat classes of one sold-out connection; return both monitored route ids."""
    (route,) = direct_routes(fake_api, 1)
    fake_api.sell_out(route["id"])
    first_class, second_class = sorted(fake_api.free_seats(route["id"]))[:2]
    first = watch_connection(route, "anna@example.com", seat_classes=(first_class,))
    second = watch_connection(route, "bob@example.com", seat_classes=(second_class,))
    return [first.route_id, second.route_id]


def test_check_routes_temporary_error_keeps_siblings_together(fake_api):
    route_ids = sibling_routes(fake_api)
    regiojet_route_id = route_row(route_ids[0])["regiojet_route_id"]
    fake_api.set_fault(regiojet_route_id, "status", status=503)
    checking.claim_due_routes(utc_now(), checking.SWEEP_LOOKAHEAD)

    results = check_routes_now(route_ids)

    assert [result.outcome for result in results] == ["temporary_error", "temporary_error"]
    first, second = (route_row(route_id) for route_id in route_ids)
    assert first["next_check_at"] > utc_now()
    assert first["next_check_at"] == second["next_check_at"]


def test_check_routes_full_budget_keeps_siblings_together(fake_api, monkeypatch):
    import runtime
    from request_budget import RequestBudgetExceeded

    def exhausted():
        raise RequestBudgetExceeded("no slot")

    monkeypatch.setattr(runtime.get_request_budget(), "acquire", exhausted)
    route_ids = sibling_routes(fake_api)
    checking.claim_due_routes(utc_now(), checking.SWEEP_LOOKAHEAD)

    results = check_routes_now(route_ids)

    assert [result.outcome for result in results] == ["postponed", "postponed"]
    first, second = (route_row(route_id) for route_id in route_ids)
    assert first["next_check_at"] > utc_now()
    assert first["next_check_at"] == second["next_check_at"]


def test_check_route_batch_skips_route_claimed_again(fake_api):
    (route,) = direct_routes(fake_api, 1)
    fake_api.sell_out(route["id"])
    created = watch_connection(route, "anna@example.com")
    (first,) = checking.claim_due_routes(utc_now(), checking.SWEEP_LOOKAHEAD)
    # The first claim's batch has not run when the check is overdue, and a later sweep claims the
    # route again.
    move_plan_back(created.route_id, checking.CLAIM_GRACE + timedelta(seconds=1))
    (second,) = checking.claim_due_routes(utc_now(), checking.SWEEP_LOOKAHEAD)
    fake_api.reset_requests()

    check_route_batch.call_local((created.route_id,), first.claim_token, first.claimed_before)

    assert detail_request_count(fake_api) == 0
    assert route_row(created.route_id)["claim_token"] == second.claim_token

    check_route_batch.call_local((created.route_id,), second.claim_token)

    assert detail_request_count(fake_api) == 1
    assert route_row(created.route_id)["claim_token"] == ""

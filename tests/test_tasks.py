"""The Huey tasks on the selected backend, run by a real consumer or called in-process."""

import threading
from datetime import timedelta

from pony.orm import db_session

import checking
import huey_app
from models import EXPIRED, FAILED, FOUND, NOTIFICATION_FAILED, PENDING, SENT, MonitoredRoute, Notification
from tasks import (
    check_single_route,
    expire_past_routes,
    plan_route_sweeps,
    requeue_stale_notifications,
    schedule_route_checks,
    send_notification_email,
)
from tests.helpers import (
    claim_horizon,
    move_plan_back,
    route_row,
    upcoming_connection,
    wait_until,
    watch_connection,
)
from timeutil import utc_now

INTERVAL = timedelta(seconds=20)


def notifications() -> list[dict]:
    with db_session:
        return [n.to_dict() for n in Notification.select().order_by(Notification.id)]


def detail_requests(fake_api, route_id: str) -> int:
    paths = fake_api.requests_made()["paths"]
    return sum(count for path, count in paths.items() if path.startswith(f"/restapi/routes/{route_id}/"))


def test_sweep_queues_due_route_once(fake_api):
    route = upcoming_connection(fake_api)
    created = watch_connection(route, "anna@example.com")

    schedule_route_checks.call_local()
    schedule_route_checks.call_local()

    assert huey_app.huey.pending_count() == 1
    assert claim_horizon() > route_row(created.route_id)["next_check_at"]


def test_claim_concurrent_sweeps_disjoint(fake_api):
    routes = [r for r in fake_api.routes() if r["transfersCount"] == 0][40:80]
    for index, route in enumerate(routes):
        watch_connection(route, f"watcher{index}@example.com")
    now = utc_now()
    claimed: list[list[int]] = []

    def sweep():
        claimed.append([claim.route_id for claim in checking.claim_due_routes(now, INTERVAL)])

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    all_claims = [route_id for claims in claimed for route_id in claims]
    assert len(all_claims) == len(set(all_claims))
    with db_session:
        due = MonitoredRoute.select(lambda r: r.departure_at > now).count()
    assert len(all_claims) == due


def test_claim_lost_check_due_after_lease(fake_api):
    route = upcoming_connection(fake_api)
    created = watch_connection(route, "anna@example.com")
    now = utc_now()
    assert [claim.route_id for claim in checking.claim_due_routes(now, INTERVAL)] == [created.route_id]

    # The queued check is lost (worker killed, queue emptied): nothing releases the claim.
    huey_app.huey.flush()

    assert checking.claim_due_routes(utc_now(), INTERVAL) == []
    move_plan_back(created.route_id, checking.CLAIM_GRACE + timedelta(seconds=1))
    assert [claim.route_id for claim in checking.claim_due_routes(utc_now(), INTERVAL)] == [created.route_id]


def test_check_no_seats_advances_plan(fake_api):
    route = upcoming_connection(fake_api)
    fake_api.sell_out(route["id"])
    created = watch_connection(route, "anna@example.com")
    planned = route_row(created.route_id)["next_check_at"]

    check_single_route.call_local(created.route_id)

    row = route_row(created.route_id)
    assert row["status"] == "active"
    assert row["last_checked_at"] is not None
    assert (row["next_check_at"] - planned) % INTERVAL == timedelta(0)
    assert row["next_check_at"] > row["last_checked_at"]
    assert notifications() == []


def test_check_find_emails_each_watcher(fake_api, smtp_server, consumer):
    route = upcoming_connection(fake_api)
    fake_api.sell_out(route["id"])
    anna = watch_connection(route, "anna@example.com", language="cs")
    bob = watch_connection(route, "bob@example.com", language="en")
    assert anna.route_id == bob.route_id

    check_single_route(anna.route_id)
    wait_until(lambda: route_row(anna.route_id)["last_checked_at"], message="the first check")
    assert route_row(anna.route_id)["status"] == "active"

    fake_api.set_free_seats(route["id"], {"C1": 3})
    check_single_route(anna.route_id)
    wait_until(lambda: len(smtp_server.messages) == 2, message="two emails")

    row = route_row(anna.route_id)
    assert row["status"] == FOUND
    assert row["found_at"] is not None
    assert row["found_offers"] == [{"seat_class": "C1", "free_seats": 3, "price": row["found_offers"][0]["price"], "currency": "CZK"}]
    wait_until(lambda: all(n["status"] == SENT for n in notifications()), message="both notifications sent")
    recipients = sorted(message.rcpt_tos[0] for message in smtp_server.messages)
    assert recipients == ["anna@example.com", "bob@example.com"]
    subjects = {message.rcpt_tos[0]: message.message["Subject"] for message in smtp_server.messages}
    assert subjects["anna@example.com"].startswith("Volná místa")
    assert subjects["bob@example.com"].startswith("Seats")


def test_check_watched_class_sold_out(fake_api):
    route = upcoming_connection(fake_api)
    fake_api.sell_out(route["id"])
    fake_api.set_free_seats(route["id"], {"C0": 50})
    created = watch_connection(route, "anna@example.com", seat_classes=("C1",))

    check_single_route.call_local(created.route_id)

    assert route_row(created.route_id)["status"] == "active"


def test_check_party_exceeds_free_seats(fake_api):
    route = upcoming_connection(fake_api)
    fake_api.sell_out(route["id"])
    fake_api.set_free_seats(route["id"], {"C0": 2})
    created = watch_connection(route, "anna@example.com", tariffs=("REGULAR", "REGULAR", "CHILD_UNDER_12"))

    check_single_route.call_local(created.route_id)
    assert route_row(created.route_id)["status"] == "active"

    fake_api.set_free_seats(route["id"], {"C0": 3})
    check_single_route.call_local(created.route_id)
    assert route_row(created.route_id)["status"] == FOUND


def test_check_temporary_error_backs_off(fake_api):
    route = upcoming_connection(fake_api)
    created = watch_connection(route, "anna@example.com")
    fake_api.set_fault(route["id"], "status", status=503)
    before = utc_now()

    check_single_route.call_local(created.route_id)

    row = route_row(created.route_id)
    assert row["status"] == "active"
    assert row["consecutive_failures"] == 1
    assert "503" in row["last_error"]
    assert row["next_check_at"] >= before + timedelta(seconds=checking.BACKOFF_BASE_SECONDS / 2)


def test_check_honours_retry_after(fake_api):
    route = upcoming_connection(fake_api)
    created = watch_connection(route, "anna@example.com")
    fake_api.set_fault(route["id"], "status", status=429, retry_after=120)
    before = utc_now()

    check_single_route.call_local(created.route_id)

    assert route_row(created.route_id)["next_check_at"] >= before + timedelta(seconds=120)


def test_check_vanished_connection_fails(fake_api):
    route = upcoming_connection(fake_api)
    created = watch_connection(route, "anna@example.com")
    fake_api.vanish(route["id"])

    check_single_route.call_local(created.route_id)

    row = route_row(created.route_id)
    assert row["status"] == FAILED
    assert "404" in row["last_error"]


def test_check_shared_connection_one_request(fake_api):
    route = upcoming_connection(fake_api)
    fake_api.sell_out(route["id"])
    relax = watch_connection(route, "anna@example.com", seat_classes=("C1",))
    business = watch_connection(route, "bob@example.com", seat_classes=("C2",))
    assert relax.route_id != business.route_id
    fake_api.reset_requests()

    claims = checking.claim_due_routes(utc_now(), INTERVAL)
    assert len(claims) == 1
    check_single_route.call_local(claims[0].route_id)

    assert detail_requests(fake_api, route["id"]) == 1
    assert route_row(relax.route_id)["last_checked_at"] is not None
    assert route_row(business.route_id)["last_checked_at"] is not None
    assert route_row(relax.route_id)["next_check_at"] == route_row(business.route_id)["next_check_at"]


def test_send_queued_twice_sends_once(fake_api, smtp_server, consumer):
    route = upcoming_connection(fake_api)
    watch_connection(route, "anna@example.com")
    result = checking.check_route(
        route_row_id(route), fake_client(), currency="CZK", interval=INTERVAL, now=utc_now()
    )
    (notification_id,) = result[0].notification_ids

    send_notification_email(notification_id)
    send_notification_email(notification_id)
    wait_until(lambda: notifications()[0]["status"] == SENT, message="the notification sent")
    wait_until(lambda: huey_app.huey.pending_count() == 0, message="an empty queue")

    assert len(smtp_server.messages) == 1


def test_send_temporary_failure_stays_pending(fake_api, smtp_server):
    notification_id = found_notification(fake_api)
    smtp_server.fail_data(451)

    send_notification_email.call_local(notification_id)

    (row,) = notifications()
    assert row["status"] == PENDING
    assert row["attempts"] == 1
    assert "451" in row["last_error"]
    assert row["next_attempt_at"] > utc_now()
    # Huey puts a delayed task on the queue; a worker moves it to the schedule when it dequeues it.
    assert huey_app.huey.pending_count() + huey_app.huey.scheduled_count() == 1


def test_send_rejected_recipient_fails(fake_api, smtp_server):
    notification_id = found_notification(fake_api)
    smtp_server.reject_recipient(550)

    send_notification_email.call_local(notification_id)

    (row,) = notifications()
    assert row["status"] == NOTIFICATION_FAILED
    assert "550" in row["last_error"]
    assert huey_app.huey.pending_count() + huey_app.huey.scheduled_count() == 0


def test_requeue_stale_sends_lost_notification(fake_api, smtp_server, consumer):
    notification_id = found_notification(fake_api)
    with db_session:
        Notification[notification_id].next_attempt_at = utc_now() - timedelta(minutes=5)

    requeue_stale_notifications.call_local()

    wait_until(lambda: notifications()[0]["status"] == SENT, message="the lost notification sent")
    assert len(smtp_server.messages) == 1


def test_expire_past_routes_keeps_found(fake_api):
    active_route, found_route = [r for r in fake_api.routes() if r["transfersCount"] == 0][200:202]
    active = watch_connection(active_route, "anna@example.com")
    found = watch_connection(found_route, "bob@example.com")
    with db_session:
        MonitoredRoute[found.route_id].status = FOUND
        for route_id in (active.route_id, found.route_id):
            MonitoredRoute[route_id].departure_at = utc_now() - timedelta(minutes=1)

    expire_past_routes.call_local()

    assert route_row(active.route_id)["status"] == EXPIRED
    assert route_row(found.route_id)["status"] == FOUND


def test_plan_route_sweeps_one_per_second():
    plan_route_sweeps.call_local()

    sweeps = sorted(huey_app.huey.pending(), key=lambda task: task.eta)
    assert len(sweeps) == 60
    first = sweeps[0].eta
    assert [round((task.eta - first).total_seconds()) for task in sweeps] == list(range(60))
    # Each may start up to the lookahead late, when the next sweep covers its routes anyway.
    assert {round((task.expires_resolved - task.eta).total_seconds()) for task in sweeps} == {2}


def route_row_id(route: dict) -> int:
    with db_session:
        return MonitoredRoute.get(regiojet_route_id=route["id"]).id


def fake_client():
    from runtime import get_regiojet_client

    return get_regiojet_client()


def found_notification(fake_api) -> int:
    """Store a watch on a connection with free seats, check it, and return its notification id."""
    route = upcoming_connection(fake_api)
    fake_api.sell_out(route["id"])
    fake_api.set_free_seats(route["id"], {"C0": 10})
    watch_connection(route, "anna@example.com")
    results = checking.check_route(route_row_id(route), fake_client(), currency="CZK", interval=INTERVAL, now=utc_now())
    (notification_id,) = results[0].notification_ids
    return notification_id


def test_next_planned_time_keeps_far_future_plan():
    now = utc_now()
    planned = now + timedelta(seconds=15)

    assert checking.next_planned_time(planned, INTERVAL, now) == planned


def test_next_planned_time_slightly_early_advances():
    now = utc_now()
    planned = now + timedelta(seconds=1)

    assert checking.next_planned_time(planned, INTERVAL, now) == planned + INTERVAL


def test_next_planned_time_skips_missed_intervals():
    now = utc_now()
    planned = now - timedelta(seconds=45)

    assert checking.next_planned_time(planned, INTERVAL, now) == planned + 3 * INTERVAL


def test_check_early_keeps_plan(fake_api):
    route = upcoming_connection(fake_api)
    fake_api.sell_out(route["id"])
    created = watch_connection(route, "anna@example.com")
    planned = utc_now() + timedelta(seconds=15)
    with db_session:
        MonitoredRoute[created.route_id].next_check_at = planned

    check_single_route.call_local(created.route_id)
    check_single_route.call_local(created.route_id)

    assert route_row(created.route_id)["next_check_at"] == planned

"""RegioJet faults from the fake API while a real consumer checks, then the faults clear.

During the faults no route may be reported found, each failing route backs off, and a vanished
connection is marked failed with its error. Once the faults clear, every other route is found and
its watcher gets one email.
"""

import time
from datetime import timedelta

import pytest

from checking import check_route
from regiojet_client import RegioJetClient
from tests.faults.harness import (
    free_up,
    CHECK_INTERVAL,
    detail_requests,
    direct_connections,
    elapsed_since,
    emails_per_recipient,
    record_result,
    route_rows,
    watch,
)
from tests.helpers import wait_until
from tests.smtp_server import free_port
from timeutil import utc_now

# (name, fault kind, options). Every kind the fake API has, with the statuses RegioJet's gateway
# sends under load.
FAULTS = [
    ("timeout", "timeout", {"hold_seconds": 12}),
    ("closed", "close", {}),
    ("status500", "status", {"status": 500}),
    ("status502", "status", {"status": 502}),
    ("status503", "status", {"status": 503}),
    ("status429", "status", {"status": 429}),
    ("retryafter", "status", {"status": 429, "retry_after": "40"}),
    ("malformed", "malformed_json", {}),
    ("html", "html_error", {"status": 502}),
    ("soldout400", "sold_out_400", {}),
]
FAULT_SECONDS = 20


@pytest.mark.services_only
def test_api_faults_no_false_find_and_recovery(fake_api, smtp_server, consumers, backend):
    routes = direct_connections(fake_api, len(FAULTS) + 1)
    watched = {}
    for (name, kind, options), route in zip(FAULTS, routes):
        free_up(fake_api, route, 3)
        fake_api.set_fault(route["id"], kind, **options)
        watched[name] = (route, watch(route, f"{name}@example.com"))
    vanished_route = routes[-1]
    fake_api.vanish(vanished_route["id"])
    vanished_id = watch(vanished_route, "vanished@example.com")

    consumer = consumers("consumer")
    faults_started = time.monotonic()
    time.sleep(FAULT_SECONDS)
    during = route_rows()
    requests = {name: detail_requests(fake_api, route["id"]) for name, (route, _) in watched.items()}
    fake_api.clear_faults()
    cleared_at = time.monotonic()

    for name, (_, route_id) in watched.items():
        assert during[route_id]["status"] == "active", name
    for name, count in requests.items():
        if name != "soldout400":
            # Backoff doubles from 5 s, so 20 s of failures allow about 4 requests, not one per interval.
            assert 1 <= count <= 5, (name, count)
    for name in ("status500", "malformed", "html", "timeout", "closed", "status429"):
        assert during[watched[name][1]]["consecutive_failures"] >= 1, name
        assert during[watched[name][1]]["last_error"], name
    retry_after_row = during[watched["retryafter"][1]]
    assert retry_after_row["next_check_at"] - retry_after_row["last_error_at"] >= timedelta(seconds=40)
    assert during[vanished_id]["status"] == "failed"
    assert "404" in during[vanished_id]["last_error"] or "400" in during[vanished_id]["last_error"]
    assert "Traceback" not in consumer.log()

    expected = [f"{name}@example.com" for name in watched]
    wait_until(
        lambda: all(emails_per_recipient(smtp_server)[address] >= 1 for address in expected),
        timeout=120,
        interval=0.5,
        message="an email for every route once the faults cleared",
    )
    recovery = elapsed_since(cleared_at)
    time.sleep(2 * CHECK_INTERVAL)
    consumer.terminate()

    received = emails_per_recipient(smtp_server)
    for name, kind, _ in FAULTS:
        address = f"{name}@example.com"
        record_result(
            f"RegioJet {name}",
            f"fake API fault `{kind}` on the route for {FAULT_SECONDS} s",
            int(received[address] == 0),
            max(received[address] - 1, 0),
            recovery,
        )
    record_result("RegioJet connection vanished (404)", "fake API drops the connection", 0, received["vanished@example.com"], None)
    for address in expected:
        assert received[address] == 1, address
    assert received["vanished@example.com"] == 0
    assert elapsed_since(faults_started) < 200


def test_api_refused_connection_is_temporary(fake_api):
    (route,) = direct_connections(fake_api, 1)
    route_id = watch(route, "refused@example.com")
    # Nothing listens on a fresh free port, so the connection is refused.
    client = RegioJetClient(f"http://127.0.0.1:{free_port()}/restapi")

    (result,) = check_route(route_id, client, "CZK", timedelta(seconds=5), utc_now())

    assert result.outcome == "temporary_error"
    assert "connection failed" in result.error
    assert route_rows()[route_id]["status"] == "active"


@pytest.mark.services_only
def test_api_budget_shared_by_two_consumers(fake_api, consumers, backend):
    routes = direct_connections(fake_api, 12)
    for route in routes:
        fake_api.sell_out(route["id"])
        watch(route, "budget@example.com")

    # Twelve routes every 5 s want 2.4 requests a second; the budget allows 1.
    budget = {"REGIOJET_MAX_REQUESTS_PER_SECOND": "1"}
    running = [consumers(f"consumer{number}", environment=budget) for number in range(2)]
    wait_until(lambda: sum(detail_requests(fake_api, route["id"]) for route in routes) >= 1, timeout=60, message="the first check")
    fake_api.reset_requests()
    time.sleep(10)
    total = sum(detail_requests(fake_api, route["id"]) for route in routes)
    for consumer in running:
        consumer.terminate()

    # Ten one-second windows, plus one for the window a sample starts in.
    assert total <= 11
    assert total >= 5


def test_api_route_failing_for_hours_stops_retrying(fake_api):
    (route,) = direct_connections(fake_api, 1)
    route_id = watch(route, "bound@example.com")
    fake_api.set_fault(route["id"], "status", status=503)
    client = RegioJetClient(fake_api.base_url)
    started = utc_now()

    (first,) = check_route(route_id, client, "CZK", timedelta(seconds=5), started)
    (later,) = check_route(route_id, client, "CZK", timedelta(seconds=5), started + timedelta(hours=5, minutes=59))
    (last,) = check_route(route_id, client, "CZK", timedelta(seconds=5), started + timedelta(hours=6))
    row = route_rows()[route_id]

    assert first.outcome == "temporary_error"
    assert later.outcome == "temporary_error"
    assert last.outcome == "temporary_error"
    assert row["status"] == "failed"
    assert row["consecutive_failures"] == 3
    assert "gave up after 3 failed checks" in row["last_error"]
    assert "HTTP 503" in row["last_error"]

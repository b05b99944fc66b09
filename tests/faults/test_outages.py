"""Graceful stops, several consumers, an emptied Redis and dropped PostgreSQL connections."""

import time

import pytest
from pony.orm import db_session

import models
from tests.faults.harness import (
    free_up,
    CHECK_INTERVAL,
    detail_requests,
    direct_connections,
    elapsed_since,
    emails_per_recipient,
    notification_statuses,
    record_result,
    route_statuses,
    watch,
)
from tests.helpers import wait_until

# A shutdown limit shorter than the held check, so the check is still running when it ends.
SHORT_SHUTDOWN_SECONDS = 3



def test_sigterm_lets_running_check_finish(fake_api, smtp_server, consumers):
    (route,) = direct_connections(fake_api, 1)
    free_up(fake_api, route, 2)
    fake_api.set_latency(3000)
    watch(route, "graceful@example.com")

    first = consumers("first")
    wait_until(lambda: detail_requests(fake_api, route["id"]) >= 1, timeout=60, message="the check's request")
    stopped_at = time.monotonic()
    exit_code = first.terminate(timeout=30)
    stop_seconds = elapsed_since(stopped_at)
    fake_api.set_latency(0)

    assert exit_code == 0
    assert stop_seconds < 25
    assert list(route_statuses().values()) == ["found"]

    second = consumers("second")
    wait_until(lambda: notification_statuses().get("sent", 0) == 1, timeout=90, message="the email")
    recovery = elapsed_since(stopped_at)
    second.terminate()

    received = emails_per_recipient(smtp_server)
    record_result("SIGTERM during a check", "SIGTERM while the fake API delayed the reply 3 s", int(received["graceful@example.com"] == 0), max(received["graceful@example.com"] - 1, 0), recovery)
    assert received["graceful@example.com"] == 1
    assert "Traceback" not in first.log()



def test_sigterm_at_shutdown_limit_requeues_check(fake_api, smtp_server, consumers):
    (route,) = direct_connections(fake_api, 1)
    free_up(fake_api, route, 2)
    # Held past the 3 s shutdown limit but not past the client's 10 s read timeout, so the check
    # is still waiting for RegioJet when the consumer gives up on it.
    fake_api.set_fault(route["id"], "timeout", count=1, hold_seconds=8)
    watch(route, "interrupted@example.com")

    first = consumers("first", shutdown_timeout=SHORT_SHUTDOWN_SECONDS)
    wait_until(lambda: detail_requests(fake_api, route["id"]) >= 1, timeout=60, message="the held check request")
    stopped_at = time.monotonic()
    exit_code = first.terminate(timeout=30)
    stop_seconds = elapsed_since(stopped_at)
    statuses_after_stop = route_statuses()

    # Without periodic tasks the second consumer runs only what is queued, and the sweeps could
    # not claim the route anyway until the dead consumer's check is overdue, 90 s after its plan.
    second = consumers("second", periodic=False)
    wait_until(lambda: notification_statuses().get("sent", 0) == 1, timeout=30, interval=0.2, message="the email from the re-queued check")
    recovery = elapsed_since(stopped_at)
    time.sleep(CHECK_INTERVAL)
    second.terminate()

    received = emails_per_recipient(smtp_server)
    record_result(
        "SIGTERM with a check still running at the shutdown limit",
        f"fake API held the reply 8 s, consumer stopped with a {SHORT_SHUTDOWN_SECONDS} s shutdown limit",
        int(received["interrupted@example.com"] == 0),
        max(received["interrupted@example.com"] - 1, 0),
        recovery,
    )
    assert exit_code == 0
    # NOTE: the consumer outlives its shutdown limit until the held request ends, because the
    # batch check's request runs on a ThreadPoolExecutor thread, which the interpreter joins at exit.
    assert SHORT_SHUTDOWN_SECONDS <= stop_seconds < 8 + 5
    assert list(statuses_after_stop.values()) == ["active"]
    assert "interrupted by the shutdown and is queued again" in first.log()
    assert received["interrupted@example.com"] == 1
    assert detail_requests(fake_api, route["id"]) >= 2
    assert recovery < 30


@pytest.mark.services_only
def test_three_consumers_check_and_send_once(fake_api, smtp_server, consumers, backend):
    routes = direct_connections(fake_api, 6)
    found_routes, sold_out_routes = routes[:4], routes[4:]
    addresses = []
    for index, route in enumerate(found_routes):
        free_up(fake_api, route, 3)
        pair = (f"first{index}@example.com", f"second{index}@example.com")
        watch(route, *pair)
        addresses += pair
    for route in sold_out_routes:
        fake_api.sell_out(route["id"])
        watch(route, "waiting@example.com")

    started = time.monotonic()
    running = [consumers(f"consumer{number}") for number in range(3)]
    wait_until(lambda: notification_statuses().get("sent", 0) == 8, timeout=90, message="eight emails")
    recovery = elapsed_since(started)
    fake_api.reset_requests()
    # Three more check intervals: a duplicate check or email would happen now.
    time.sleep(3 * CHECK_INTERVAL)
    sold_out_checks = [detail_requests(fake_api, route["id"]) for route in sold_out_routes]
    for consumer in running:
        consumer.terminate()

    received = emails_per_recipient(smtp_server)
    duplicates = sum(max(received[address] - 1, 0) for address in addresses)
    lost = sum(1 for address in addresses if received[address] == 0)
    record_result("three consumers, each running the periodic tasks", "three huey_consumer processes on one queue and database", lost, duplicates, recovery)
    assert lost == 0
    assert duplicates == 0
    for address in addresses:
        assert received[address] == 1, address
    for checks in sold_out_checks:
        # At most one check per interval, plus one for a window edge.
        assert checks <= 3 + 1, sold_out_checks


@pytest.mark.services_only
def test_postgres_connections_dropped_consumer_resumes(fake_api, smtp_server, consumers, backend):
    (route,) = direct_connections(fake_api, 1)
    fake_api.sell_out(route["id"])
    watch(route, "reconnect@example.com")

    consumer = consumers("consumer")
    wait_until(lambda: detail_requests(fake_api, route["id"]) >= 1, timeout=60, message="the first check")
    # A restart as the consumer sees it: the server closes every connection to this database.
    with db_session:
        dropped = models.db.select(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    dropped_at = time.monotonic()
    free_up(fake_api, route, 2)

    wait_until(lambda: notification_statuses().get("sent", 0) == 1, timeout=60, interval=0.5, message="the email after reconnecting")
    recovery = elapsed_since(dropped_at)
    consumer.terminate()

    received = emails_per_recipient(smtp_server)
    record_result("PostgreSQL connections dropped", "pg_terminate_backend on every connection of the consumer", int(received["reconnect@example.com"] == 0), max(received["reconnect@example.com"] - 1, 0), recovery)
    assert len(dropped) >= 1
    assert received["reconnect@example.com"] == 1
    assert recovery < 30

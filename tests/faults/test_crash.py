"""`kill -9` of a consumer while it checks, after it marked a find, and while it sends.

After the kill the queue's Redis keys are deleted too, as when Redis restarts without persistence,
so nothing queued before the kill helps the recovery.

The kill points are set by holding requests, not by sleeping: the fake API holds the check's
request and the SMTP server holds one email before and one after storing it, and the consumer is
killed once all of them are held. Recovery relies only on the database: claimed checks become
overdue and send leases lapse, and the periodic sweeps queue the work again.
"""

import os
import time
from datetime import timedelta

import pytest

from checking import check_route
from regiojet_client import RegioJetClient
from tests.faults.harness import (
    free_up,
    detail_requests,
    direct_connections,
    elapsed_since,
    emails_per_recipient,
    notification_statuses,
    record_result,
    watch,
)
from tests.helpers import wait_until
from timeutil import utc_now

# A claimed check is overdue 90 s after its planned time, a send lease lapses after 2 minutes, and
# the sweep that re-queues notifications runs once a minute: recovery takes up to about 3 minutes.
RECOVERY_TIMEOUT = 240



@pytest.mark.services_only
def test_crash_at_every_point_loses_no_find(fake_api, smtp_server, consumers, backend):
    checking_route, sending_route, queueing_route, sold_out_route = direct_connections(fake_api, 4)
    fake_api.sell_out(sold_out_route["id"])
    watch(sold_out_route, "waiting@example.com")
    for route in (checking_route, sending_route, queueing_route):
        free_up(fake_api, route, 4)

    # Killed after marking the find but before queueing: check_route records the find and its
    # pending notification, and nothing queues the email, as when the process dies at that moment.
    queueing_id = watch(queueing_route, "queued@example.com")
    client = RegioJetClient(fake_api.base_url)
    (found,) = check_route(queueing_id, client, "CZK", timedelta(seconds=5), utc_now())
    assert found.outcome == "found"

    watch(checking_route, "checking@example.com")
    fake_api.set_fault(checking_route["id"], "timeout", count=1, hold_seconds=60)
    smtp_server.hold("before@example.com", "before_accept")
    smtp_server.hold("after@example.com", "after_accept")
    watch(sending_route, "before@example.com", "after@example.com")

    first = consumers("first")
    wait_until(
        lambda: detail_requests(fake_api, checking_route["id"]) >= 1 and len(smtp_server.held) == 2,
        timeout=60,
        message="the check and both emails to be held",
    )
    first.kill()
    killed_at = time.monotonic()
    smtp_server.release_holds()
    deleted = empty_queue()
    fake_api.reset_requests()

    second = consumers("second")
    wait_until(lambda: notification_statuses().get("sent", 0) == 4, timeout=RECOVERY_TIMEOUT, interval=0.5, message="all four emails sent")
    recovery = elapsed_since(killed_at)
    # A check the dead consumer had claimed waits until it is overdue, about 100 s after the kill.
    sold_out_checks = wait_until(lambda: detail_requests(fake_api, sold_out_route["id"]), timeout=60, message="checks to resume")
    second.terminate()

    received = emails_per_recipient(smtp_server)
    expected = ("checking@example.com", "queued@example.com", "before@example.com", "after@example.com")
    finds_lost = sum(1 for address in expected if received[address] == 0)
    duplicates = sum(max(count - 1, 0) for count in received.values())
    for point, address in (
        ("during the check", "checking@example.com"),
        ("between marking found and queueing", "queued@example.com"),
        ("during SMTP DATA, before the server stored the email", "before@example.com"),
        ("after the SMTP server stored the email, before the database recorded it", "after@example.com"),
    ):
        record_result(
            f"kill -9 {point}",
            "consumer killed while the fake API or SMTP server held the request",
            int(received[address] == 0),
            max(received[address] - 1, 0),
            recovery,
        )

    record_result(
        "Redis emptied together with the kill",
        "every Redis key of the queue deleted after the kill, before the next consumer starts",
        finds_lost,
        duplicates,
        recovery,
    )

    assert deleted >= 1
    assert sold_out_checks >= 1
    assert finds_lost == 0, received
    assert received["checking@example.com"] == 1
    assert received["queued@example.com"] == 1
    assert received["before@example.com"] == 1
    # The only window for a duplicate: the server stored the email and the worker died before
    # recording it, so the email is sent again once its lease lapses.
    assert received["after@example.com"] == 2
    assert duplicates == 1


def empty_queue() -> int:
    """Delete every Redis key of this run's queue: tasks, schedule and counters.

    Other test runs share the Redis database, so this deletes this run's keys instead of FLUSHDB.
    """
    import redis

    import huey_app

    # Huey's Redis keys carry the queue name with punctuation removed, which storage.name holds.
    connection = redis.Redis.from_url(os.environ["REDIS_URL"])
    keys = list(connection.scan_iter(f"*{huey_app.huey.storage.name}*"))
    for key in keys:
        connection.delete(key)
    return len(keys)

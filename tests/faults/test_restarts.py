"""Real restarts of the PostgreSQL and Redis servers while a consumer runs.

Each test starts a private server on a free loopback port (see servers.py), because other test runs
share the machine's servers. The consumer subprocess uses the private server, and the test process
stays bound to the suite's database, so it reads the private database with psycopg2.
"""

import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import psycopg2
import pytest
import redis
from pony.orm import db_session

from checking import check_route
from models import SENT, db
from regiojet_client import RegioJetClient
from tests.faults.harness import (
    REPOSITORY,
    CHECK_INTERVAL,
    detail_requests,
    direct_connections,
    elapsed_since,
    emails_per_recipient,
    free_up,
    notification_statuses,
    record_result,
    watch,
)
from tests.helpers import wait_until
from timeutil import utc_now

# Stores one watch in the database that DATABASE_URL names, creating the schema on first use.
STORE_WATCH_SCRIPT = """
import json, os, sys
import models
from tests.helpers import watch_connection
models.setup_database(os.environ["DATABASE_URL"])
print(watch_connection(json.loads(sys.argv[1]), sys.argv[2]).route_id)
"""


def watch_in_database(database_url: str, route: dict, email: str) -> int:
    """Store a watch in another database than the one this process is bound to; return its route id."""
    environment = dict(os.environ, DATABASE_URL=database_url)
    completed = subprocess.run(
        [sys.executable, "-c", STORE_WATCH_SCRIPT, json.dumps(route), email],
        cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return int(completed.stdout.strip().splitlines()[-1])


def sent_notifications(server) -> int:
    """Count the sent notifications in the private database; 0 while the server is restarting."""
    try:
        return server.query(f"SELECT count(*) FROM notification WHERE status = '{SENT}'")[0][0]
    except psycopg2.OperationalError:
        return 0


@pytest.mark.services_only
def test_postgres_restart_consumer_resumes(fake_api, smtp_server, consumers, private_postgres):
    (route,) = direct_connections(fake_api, 1)
    fake_api.sell_out(route["id"])
    watch_in_database(private_postgres.url, route, "restarted@example.com")

    consumer = consumers("consumer", environment={"DATABASE_URL": private_postgres.url})
    wait_until(lambda: detail_requests(fake_api, route["id"]) >= 1, timeout=60, message="the first check")
    private_postgres.restart()
    restarted_at = time.monotonic()
    free_up(fake_api, route, 2)

    wait_until(lambda: sent_notifications(private_postgres) == 1, timeout=60, interval=0.5, message="the email after the restart")
    recovery = elapsed_since(restarted_at)
    # Two more check intervals: a duplicate check or email would happen now.
    time.sleep(2 * CHECK_INTERVAL)
    consumer.terminate()

    received = emails_per_recipient(smtp_server)
    statuses = private_postgres.query("SELECT status FROM monitored_route")
    record_result(
        "PostgreSQL server restarted",
        "`pg_ctl restart -m fast` of a private server while the consumer checks",
        int(received["restarted@example.com"] == 0),
        max(received["restarted@example.com"] - 1, 0),
        recovery,
    )
    assert received["restarted@example.com"] == 1
    assert statuses == [("found",)]
    assert recovery < 30


@pytest.mark.services_only
def test_redis_restart_checks_and_emails_resume(fake_api, smtp_server, consumers, private_redis):
    checked_route, found_route = direct_connections(fake_api, 2)
    fake_api.sell_out(checked_route["id"])
    watch(checked_route, "resumed@example.com")

    # A find whose email task is gone: recorded and pending, with no task in any queue. Dating it
    # 30 s back makes the notification sweep take it at the consumer's second minute, not its first.
    free_up(fake_api, found_route, 2)
    found_id = watch(found_route, "requeued@example.com")
    (found,) = check_route(found_id, RegioJetClient(fake_api.base_url), "CZK", timedelta(seconds=CHECK_INTERVAL), utc_now())
    backdate_notifications(timedelta(seconds=30))

    consumer = consumers("consumer", environment={"REDIS_URL": private_redis.url})
    wait_until(lambda: detail_requests(fake_api, checked_route["id"]) >= 1, timeout=60, message="the first check")
    queue = redis.Redis.from_url(private_redis.url)
    keys_before = queue.dbsize()
    private_redis.restart()
    restarted_at = time.monotonic()
    keys_after = queue.dbsize()
    fake_api.reset_requests()
    free_up(fake_api, checked_route, 2)

    checks_resumed = wait_until(lambda: detail_requests(fake_api, checked_route["id"]), timeout=150, message="checks to resume")
    resume_seconds = elapsed_since(restarted_at)
    wait_until(lambda: notification_statuses().get(SENT, 0) == 2, timeout=60, interval=0.5, message="both emails")
    recovery = elapsed_since(restarted_at)
    consumer.terminate()

    received = emails_per_recipient(smtp_server)
    expected = ("resumed@example.com", "requeued@example.com")
    finds_lost = sum(1 for address in expected if received[address] == 0)
    duplicates = sum(max(received[address] - 1, 0) for address in expected)
    record_result(
        "Redis restarted without persistence",
        "a private Redis server restarted while the consumer runs, which empties the queue",
        finds_lost,
        duplicates,
        recovery,
    )
    print(f"checks resumed {resume_seconds:.1f} s after the Redis restart, emails sent after {recovery:.1f} s")
    assert found.outcome == "found"
    assert keys_before >= 1
    assert keys_after == 0
    assert checks_resumed >= 1
    assert received["resumed@example.com"] == 1
    assert received["requeued@example.com"] == 1
    assert consumer.process.returncode == 0


@db_session
def backdate_notifications(age: timedelta) -> None:
    db.execute("UPDATE notification SET next_attempt_at = next_attempt_at - $age, created_at = created_at - $age", {"age": age})

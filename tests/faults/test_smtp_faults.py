"""SMTP faults while a real consumer sends: temporary ones retry, permanent ones are recorded."""

import time

from pony.orm import db_session

from models import Notification
from tests.faults.harness import free_up, direct_connections, elapsed_since, emails_per_recipient, record_result, watch
from tests.helpers import wait_until


def notifications() -> list[dict]:
    with db_session:
        return [notification.to_dict() for notification in Notification.select()]


def test_smtp_temporary_failure_retries_then_sends(fake_api, smtp_server, consumers):
    (route,) = direct_connections(fake_api, 1)
    free_up(fake_api, route, 2)
    smtp_server.fail_data(451, "4.3.0 Try again later")
    watch(route, "later@example.com")

    consumer = consumers("consumer")
    wait_until(lambda: any(n["last_error"] for n in notifications()), timeout=60, message="a failed attempt")
    (failed,) = notifications()
    smtp_server.handler.data_reply = None
    restored_at = time.monotonic()
    wait_until(lambda: notifications()[0]["status"] == "sent", timeout=90, interval=0.5, message="the retry")
    recovery = elapsed_since(restored_at)
    consumer.terminate()

    received = emails_per_recipient(smtp_server)
    record_result("SMTP 451 on DATA", "SMTP test server replies 451 until the test clears it", int(received["later@example.com"] == 0), max(received["later@example.com"] - 1, 0), recovery)
    assert failed["status"] == "pending"
    assert "451" in failed["last_error"]
    assert received["later@example.com"] == 1


def test_smtp_rejected_recipient_recorded_not_retried(fake_api, smtp_server, consumers):
    (route,) = direct_connections(fake_api, 1)
    free_up(fake_api, route, 2)
    smtp_server.reject_recipient(550, "5.1.1 Mailbox unavailable")
    watch(route, "nobody@example.com")

    consumer = consumers("consumer")
    wait_until(lambda: notifications() and notifications()[0]["status"] == "failed", timeout=60, message="the permanent failure")
    connections = smtp_server.connection_count
    time.sleep(5)
    consumer.terminate()

    (failed,) = notifications()
    record_result("SMTP 550 for the recipient", "SMTP test server rejects RCPT TO with 550", 0, 0, None)
    assert "550" in failed["last_error"]
    assert failed["attempts"] == 1
    assert smtp_server.connection_count == connections


def test_smtp_login_rejected_logged_once(fake_api, smtp_server, consumers):
    routes = direct_connections(fake_api, 3)
    smtp_server.require_auth("alerts", "right-password")
    for index, route in enumerate(routes):
        free_up(fake_api, route, 2)
        watch(route, f"auth{index}@example.com")

    login = {"SMTP_USER": "alerts", "SMTP_PASSWORD": "wrong-password-secret"}
    consumer = consumers("consumer", environment=login)
    wait_until(lambda: len(notifications()) == 3 and all(n["last_error"] for n in notifications()), timeout=60, message="three failed sends")
    consumer.terminate()
    log = consumer.log()

    record_result("SMTP login rejected", "SMTP test server requires a login the consumer does not have", 0, 0, None)
    assert log.count("No email can be sent until SMTP_USER / SMTP_PASSWORD are fixed") == 1
    assert "wrong-password-secret" not in log
    assert all(n["status"] == "pending" for n in notifications())

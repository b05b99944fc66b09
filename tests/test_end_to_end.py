"""The whole pipeline: CLI watches, a real `huey_consumer` process, the fake API and SMTP.

On the `services` backend this runs on PostgreSQL and Redis; on `sqlite` the CLI and the consumer
share the SQLite database and the SQLite queue file.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from pony.orm import db_session

from models import FOUND, SENT, MonitoredRoute, Notification
from tests.helpers import wait_until

REPOSITORY = Path(__file__).resolve().parent.parent
PRAHA_HLN = 372825000
OSTRAVA_HLN = 372842000


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import cli; cli.main()", *args],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
    )


def pick_connection(fake_api) -> tuple[dict, str]:
    """Pick a direct Praha -> Ostrava train in three days that no other train shares the minute of."""
    day = date.today() + timedelta(days=3)
    routes = [
        route
        for route in fake_api.routes(day)
        if route["stops"][0]["stationId"] == PRAHA_HLN
        and any(stop["stationId"] == OSTRAVA_HLN for stop in route["stops"])
        and route["transfersCount"] == 0
    ]
    departures = [route["stops"][0]["time"][:16].replace("T", " ") for route in routes]
    for route, departure in zip(routes, departures):
        if departures.count(departure) == 1 and not route["support"]:
            return route, departure
    raise LookupError("the fake API has no unique Praha -> Ostrava train in three days")


@pytest.fixture
def consumer_process(tmp_path):
    """A real `huey_consumer huey_app.huey` process, as the Procfile starts it, with 5 s checks."""
    environment = dict(os.environ, CHECK_INTERVAL_SECONDS="5", TZ="UTC")
    log_path = tmp_path / "consumer.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "huey.bin.huey_consumer", "huey_app.huey",
                "--workers", "4", "--worker-type", "thread",
                "--graceful-signal", "TERM", "--shutdown-timeout", "25",
                "--delay", "0.05", "--max-delay", "0.5",
            ],
            cwd=REPOSITORY,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    yield process, log_path
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def route_state() -> list[dict]:
    with db_session:
        return [route.to_dict() for route in MonitoredRoute.select()]


def notification_state() -> list[dict]:
    with db_session:
        return [notification.to_dict() for notification in Notification.select()]


def test_pipeline_two_watchers_one_email_each(fake_api, smtp_server, consumer_process):
    process, log_path = consumer_process
    route, departure = pick_connection(fake_api)
    fake_api.sell_out(route["id"])

    for email, language in (("anna@example.com", "cs"), ("bob@example.com", "en")):
        result = run_cli(
            "watch", "Praha hl.n.", "Ostrava hl.n.", departure,
            "--email", email, "--lang", language, "--tariff", "REGULAR", "--tariff", "REGULAR",
        )
        assert result.returncode == 0, result.stderr + result.stdout

    (route_row,) = route_state()
    wait_until(lambda: route_state()[0]["last_checked_at"], timeout=90, message="the worker's first check")
    assert route_state()[0]["status"] == "active"
    assert smtp_server.messages == []

    seats_appeared = time.monotonic()
    fake_api.set_free_seats(route["id"], {"C1": 2})
    wait_until(lambda: len(smtp_server.messages) >= 2, timeout=60, message="two emails")
    delay = time.monotonic() - seats_appeared

    # Two more sweeps pass: a duplicate email would arrive now.
    time.sleep(12)
    recipients = sorted(message.rcpt_tos[0] for message in smtp_server.messages)
    assert recipients == ["anna@example.com", "bob@example.com"]
    (found,) = route_state()
    assert found["status"] == FOUND
    assert found["found_at"] is not None
    assert [n["status"] for n in notification_state()] == [SENT, SENT]
    assert delay < 5 + 10, f"the emails came {delay:.1f} s after the seats appeared"

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    log = log_path.read_text()
    assert "Traceback" not in log
    assert "notification=" in log

"""The status and run commands: counts from the database and queue, masked settings, worker start."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner
from pony.orm import db_session

import runtime
from cli import cli
from huey_app import is_loopback_url
from models import MonitoredRoute, Notification, ServiceState, Watch, Watcher
from timeutil import utc_now


@db_session
def store_found_route_with_failed_email() -> None:
    now = utc_now()
    watcher = Watcher(email="jana@example.com", language="en", created_at=now)
    found = new_route("5570000001", status="found", now=now)
    new_route("5570000002", status="active", now=now, last_error="temporary RegioJet error: HTTP 503")
    watch = Watch(watcher=watcher, route=found, created_at=now)
    Notification(watch=watch, route=found, status="failed", created_at=now, next_attempt_at=now,
                 attempts=1, last_error="SMTP server refused the email: 550 mailbox unavailable")
    ServiceState(key="last_sweep_at", value="3 checks queued", updated_at=now)


def new_route(regiojet_route_id: str, status: str, now, last_error: str = "") -> MonitoredRoute:
    return MonitoredRoute(
        regiojet_route_id=regiojet_route_id, from_station_id=372825000, to_station_id=3088864001,
        from_station_name="Praha hl.n.", to_station_name="Brno hl.n.", from_time_zone="Europe/Prague",
        to_time_zone="Europe/Prague", departure_at=now + timedelta(days=2), arrival_at=now + timedelta(days=2, hours=2),
        seat_classes="", tariffs="REGULAR", connection_key=f"{regiojet_route_id}|372825000|3088864001|REGULAR",
        status=status, created_at=now, next_check_at=now, last_error=last_error,
        last_error_at=now if last_error else None,
    )


def test_status_shows_counts(fake_api):
    store_found_route_with_failed_email()

    result = CliRunner().invoke(cli, ["status"])

    assert result.exit_code == 0, result.output
    assert "Monitored routes: 1 active, 1 found, 0 expired, 0 cancelled, 0 failed" in result.output
    assert "Active watches: 0" in result.output
    assert "Tasks in the queue: 0 waiting, 0 scheduled" in result.output
    assert "Notifications: 0 pending, 0 sending, 0 sent, 1 failed" in result.output
    assert "(3 checks queued)" in result.output
    assert "temporary RegioJet error: HTTP 503" in result.output
    assert "550 mailbox unavailable" in result.output


def test_status_json_parses(fake_api):
    store_found_route_with_failed_email()

    result = CliRunner().invoke(cli, ["status", "--json"])

    data = json.loads(result.output)
    assert data["routes"]["found"] == 1
    assert data["notifications"]["failed"] == 1
    assert data["tasks_pending"] == 0
    assert data["last_sweep"] == "3 checks queued"
    assert data["route_errors"][0]["error"] == "temporary RegioJet error: HTTP 503"
    assert data["smtp_alert"] is None


def test_status_shows_smtp_login_alert(fake_api):
    with db_session:
        ServiceState(key="smtp_authentication_failure", value="535 authentication failed", updated_at=utc_now())

    result = CliRunner().invoke(cli, ["status"])

    assert "ALERT: SMTP login rejected, no email can be sent: 535 authentication failed" in result.output


@pytest.fixture
def settings_with_password(monkeypatch):
    """Fresh settings with an SMTP password, which must never be printed."""
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_USER", "alerts@example.com")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-secret")
    runtime.get_settings.cache_clear()
    yield "hunter2-secret"
    runtime.get_settings.cache_clear()


def test_status_never_prints_password(fake_api, settings_with_password):
    text = CliRunner().invoke(cli, ["status"]).output
    data = CliRunner().invoke(cli, ["status", "--json"]).output

    assert "smtp: 127.0.0.1:" in text
    assert settings_with_password not in text
    assert settings_with_password not in data


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://127.0.0.1:8765/restapi", True),
        ("http://localhost:8765/restapi", True),
        ("http://[::1]:8765/restapi", True),
        ("https://api.example.com/restapi", False),
    ],
)
def test_run_loopback_url_detection(url, expected):
    assert is_loopback_url(url) is expected


def test_run_starts_consumer_and_stops_on_sigterm(fake_api, tmp_path):
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path}/run.sqlite3")
    env.pop("SMTP_HOST", None)
    worker = subprocess.Popen(
        [sys.executable, "-c", "import cli; cli.main()", "run", "--workers", "1", "--no-periodic"],
        env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = read_until(worker, "Huey consumer started")
        # Huey installs its signal handlers just after the start lines and logs nothing then.
        # NOTE: the two-second wait is a guess that was ample on a 2-core machine.
        time.sleep(2)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        lines.append(worker.stderr.read())
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stderr.close()

    log = "".join(lines)
    assert worker.returncode == 0
    assert "starting worker: 1 threads, periodic tasks off" in log
    assert "emails are written to the log instead of sent" in log
    assert "a loopback address such as the fake server" in log


def read_until(process: subprocess.Popen, marker: str, max_lines: int = 200) -> list[str]:
    lines = []
    for _ in range(max_lines):
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"worker did not log {marker!r}; output:\n{''.join(lines)}")

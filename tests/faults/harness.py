"""Consumers as subprocesses, fake connections and email counts for the fault tests.

Each consumer is `huey_consumer huey_app.huey` as the Procfile starts it, with the test process's
environment (database, queue, fake API, SMTP server) and checks every 5 s.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from pony.orm import db_session

from models import MonitoredRoute, Notification
from tests.helpers import watch_connection
from timeutil import to_naive_utc, utc_now

REPOSITORY = Path(__file__).resolve().parents[2]
CHECK_INTERVAL = 5

# Where test modules put one JSON line per observed fault; the report reads it.
RESULTS_FILE_VARIABLE = "FAULT_RESULTS_FILE"



class Consumer:
    """One huey_consumer subprocess with its log file."""

    def __init__(self, log_path: Path, periodic: bool = True, workers: int = 4, environment: dict[str, str] | None = None,
                 shutdown_timeout: int = 25):
        self.log_path = log_path
        environment = dict(os.environ, CHECK_INTERVAL_SECONDS=str(CHECK_INTERVAL), TZ="UTC", **(environment or {}))
        command = [
            sys.executable, "-m", "huey.bin.huey_consumer", "huey_app.huey",
            "--workers", str(workers), "--worker-type", "thread",
            "--graceful-signal", "TERM", "--shutdown-timeout", str(shutdown_timeout),
            "--delay", "0.05", "--max-delay", "0.5",
        ]
        if not periodic:
            command.append("--no-periodic")
        with open(log_path, "a") as log:
            self.process = subprocess.Popen(command, cwd=REPOSITORY, env=environment, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text()


def direct_connections(fake_api, count: int, min_hours_ahead: int = 24) -> list[dict]:
    """Return `count` distinct direct fake connections leaving at least `min_hours_ahead` from now."""
    earliest = utc_now() + timedelta(hours=min_hours_ahead)
    found = []
    for route in fake_api.routes():
        departure = to_naive_utc(datetime.fromisoformat(route["stops"][0]["time"]))
        if route["transfersCount"] == 0 and not route["support"] and departure > earliest:
            found.append(route)
        if len(found) == count:
            return found
    raise LookupError(f"the fake API has only {len(found)} direct connections {min_hours_ahead} h ahead")


def free_up(fake_api, route: dict, seats: int = 3) -> None:
    """Give every seat class of the connection `seats` free seats, whether train or bus."""
    classes = fake_api.free_seats(route["id"])
    fake_api.set_free_seats(route["id"], {seat_class: seats for seat_class in classes})


def watch(route: dict, *emails: str) -> int:
    """Store one watch per address on the whole connection and return the monitored route id."""
    created = [watch_connection(route, email) for email in emails]
    return created[0].route_id


def emails_per_recipient(smtp_server) -> Counter:
    return Counter(message.rcpt_tos[0] for message in smtp_server.messages)


def detail_requests(fake_api, route_id: str) -> int:
    return fake_api.requests_made()["paths"].get(f"/restapi/routes/{route_id}/simple", 0)


def route_statuses() -> dict[int, str]:
    with db_session:
        return {route.id: route.status for route in MonitoredRoute.select()}


def notification_statuses() -> Counter:
    with db_session:
        return Counter(notification.status for notification in Notification.select())


def record_result(fault: str, injection: str, finds_lost: int, duplicates: int, recovery_seconds: float | None) -> None:
    """Append one observed fault to the results file, when the report runs the suite."""
    path = os.environ.get(RESULTS_FILE_VARIABLE)
    if not path:
        return
    row = {
        "fault": fault,
        "injection": injection,
        "finds_lost": finds_lost,
        "duplicates": duplicates,
        "recovery_seconds": None if recovery_seconds is None else round(recovery_seconds, 1),
    }
    with open(path, "a") as results:
        results.write(json.dumps(row) + "\n")


def route_rows() -> dict[int, dict]:
    with db_session:
        return {route.id: route.to_dict() for route in MonitoredRoute.select()}


def elapsed_since(started: float) -> float:
    return time.monotonic() - started

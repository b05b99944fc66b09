"""Processes and servers the benchmark starts: its databases, the fake API, SMTP and consumers."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from aiosmtpd.controller import Controller

logger = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_SECONDS = 30


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def recreate_database(server_url: str, name: str) -> str:
    """Drop and create database `name` on the server, and return its URL."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"Invalid database name {name!r}: use letters, digits and underscores")
    connection = psycopg2.connect(database_url(server_url, "postgres"))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return database_url(server_url, name)


def start_fake_api(latency_ms: float, departure_every_minutes: int, log_path: Path) -> tuple[subprocess.Popen, str]:
    """Start the fake RegioJet API in its own process; return it and its base URL."""
    log = open(log_path, "w")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "fake_regiojet", "--port", "0", "--latency-ms", str(latency_ms),
            "--departure-every-minutes", str(departure_every_minutes), "--all-sold-out",
            "--record-request-times",
        ],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    line = process.stdout.readline()
    if not line:
        stop_process(process)
        raise RuntimeError(f"the fake RegioJet API did not start; see {log_path}")
    return process, json.loads(line)["base_url"]


def start_consumer(environment: dict[str, str], workers: int, log_path: Path) -> subprocess.Popen:
    """Start `huey_consumer huey_app.huey` with thread workers, as the Procfile does."""
    log = open(log_path, "w")
    return subprocess.Popen(
        [
            sys.executable, "-m", "huey.bin.huey_consumer", "huey_app.huey",
            "--workers", str(workers), "--worker-type", "thread",
            "--graceful-signal", "TERM", "--shutdown-timeout", "10",
            "--delay", "0.05", "--max-delay", "0.5",
        ],
        cwd=REPOSITORY,
        env=dict(os.environ, **environment),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_process(process: subprocess.Popen) -> None:
    """Stop a process the benchmark started: SIGTERM, then SIGKILL if it outlives the timeout."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        logger.warning("process %d ignored SIGTERM for %d s; killing it", process.pid, STOP_TIMEOUT_SECONDS)
        process.kill()
        process.wait()


@dataclass
class ReceivedEmail:
    recipient: str
    received_at: float  # time.time()


@dataclass
class RecordingHandler:
    """aiosmtpd handler that keeps the recipient and arrival time of every email."""

    emails: list[ReceivedEmail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.emails.append(ReceivedEmail(recipient.lower(), now))
        return "250 OK"

    def snapshot(self) -> list[ReceivedEmail]:
        with self.lock:
            return list(self.emails)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_smtp_server() -> tuple[Controller, RecordingHandler]:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, handler

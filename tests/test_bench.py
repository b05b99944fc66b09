"""The benchmark at a tiny size, so that it keeps working; its figures are not checked here."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

REPOSITORY = Path(__file__).resolve().parent.parent


def server_url(database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


@pytest.fixture
def bench_database(backend):
    """A database name of this run's own, dropped afterwards with its sweep-timing twin."""
    name = f"regiojet_watch_bench_ci_{os.getpid()}"
    yield name
    connection = psycopg2.connect(urlunsplit(urlsplit(os.environ["TEST_DATABASE_URL"])._replace(path="/postgres")))
    connection.autocommit = True
    with connection.cursor() as cursor:
        for database in (name, f"{name}_sweep"):
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    connection.close()


@pytest.mark.services_only
def test_bench_tiny_run_reports_every_email(bench_database):
    result = subprocess.run(
        [
            sys.executable, "-m", "bench", "--routes", "20", "--routes-per-connection", "2", "--finds", "3", "--duration", "10",
            "--warmup", "3", "--interval", "5", "--workers", "8", "--sweep-routes", "1000", "--seed", "7",
            "--postgres", server_url(os.environ["TEST_DATABASE_URL"]), "--database", bench_database,
            "--redis-url", os.environ["TEST_REDIS_URL"],
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert report["emails_expected"] == 9
    assert report["emails_missed"] == 0
    assert report["emails_duplicated"] == 0
    assert report["connections"] == 10
    assert report["checks_per_second"] > 0
    assert report["connection_intervals"] > 0
    assert report["peak_rss_mb"] > 0
    assert report["sweep_routes_total"] == 1000
    assert report["sweep_ms_median"] > 0

"""Schema creation and upgrades, run in child processes because Pony binds once per process."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

import models

REPOSITORY = Path(__file__).resolve().parent.parent

SETUP = "import sys, models; models.setup_database(sys.argv[1])"


def run_setup(database_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SETUP, database_url], cwd=REPOSITORY, capture_output=True, text=True, timeout=60
    )


def test_setup_database_creates_schema_and_records_version(tmp_path):
    path = tmp_path / "new.sqlite3"

    result = run_setup(f"sqlite:///{path}")

    assert result.returncode == 0, result.stderr
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = connection.execute("SELECT version FROM schema_version").fetchone()[0]
    assert {"monitored_route", "watcher", "watch", "notification", "service_state"} <= tables
    assert version == models.SCHEMA_VERSION


def test_setup_database_keeps_existing_rows(tmp_path):
    path = tmp_path / "existing.sqlite3"
    assert run_setup(f"sqlite:///{path}").returncode == 0
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO watcher (email, language, created_at) VALUES ('anna@example.com', 'cs', '2026-12-01 10:00:00')"
        )

    result = run_setup(f"sqlite:///{path}")

    assert result.returncode == 0, result.stderr
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT email FROM watcher").fetchall() == [("anna@example.com",)]


def test_setup_database_rejects_newer_schema(tmp_path):
    path = tmp_path / "newer.sqlite3"
    assert run_setup(f"sqlite:///{path}").returncode == 0
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE schema_version SET version = 99")

    result = run_setup(f"sqlite:///{path}")

    assert result.returncode != 0
    assert f"schema version 99, newer than this release supports ({models.SCHEMA_VERSION})" in result.stderr


def test_setup_database_active_condition_is_unique(tmp_path):
    path = tmp_path / "unique.sqlite3"
    assert run_setup(f"sqlite:///{path}").returncode == 0
    row = (
        "INSERT INTO monitored_route (regiojet_route_id, from_station_id, to_station_id, from_station_name, "
        "to_station_name, from_time_zone, to_time_zone, departure_at, arrival_at, seat_classes, tariffs, "
        "connection_key, status, created_at, next_check_at, claim_token, consecutive_failures, last_error) "
        "VALUES ('1', 1, 2, 'A', 'B', 'Europe/Prague', 'Europe/Prague', '2030-01-01 10:00:00', "
        "'2030-01-01 12:00:00', 'C1', 'REGULAR', 'k', ?, '2026-01-01 00:00:00', '2026-01-01 00:00:00', '', 0, '')"
    )
    with sqlite3.connect(path) as connection:
        connection.execute(row, ("found",))
        connection.execute(row, ("active",))
        try:
            connection.execute(row, ("active",))
        except sqlite3.IntegrityError as error:
            assert "UNIQUE" in str(error)
        else:
            raise AssertionError("a second active route with the same condition was stored")


def test_setup_database_upgrades_version_1_sqlite(tmp_path):
    path = tmp_path / "v1.sqlite3"
    assert run_setup(f"sqlite:///{path}").returncode == 0
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE schema_version SET version = 1")

    result = run_setup(f"sqlite:///{path}")

    assert result.returncode == 0, result.stderr
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version FROM schema_version").fetchone()[0] == models.SCHEMA_VERSION


@pytest.mark.services_only
def test_setup_database_upgrade_2_sets_fillfactor_postgresql():
    url = scratch_postgres_database("regiojet_watch_test_upgrade")
    assert run_setup(url).returncode == 0
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        # The state a version 1 schema was in.
        cursor.execute("ALTER TABLE monitored_route RESET (fillfactor)")
        cursor.execute("UPDATE schema_version SET version = 1")

    result = run_setup(url)

    assert result.returncode == 0, result.stderr
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'monitored_route'")
        assert cursor.fetchone()[0] == ["fillfactor=70"]
        cursor.execute("SELECT version FROM schema_version")
        assert cursor.fetchone()[0] == models.SCHEMA_VERSION


def scratch_postgres_database(name: str) -> str:
    """Drop and create database `name` on the PostgreSQL server of TEST_DATABASE_URL; return its URL."""
    server_url = os.environ["TEST_DATABASE_URL"]
    connection = psycopg2.connect(server_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return server_url.rsplit("/", 1)[0] + "/" + name

"""Schema creation and upgrades, run in child processes because Pony binds once per process."""

import sqlite3
import subprocess
import sys
from pathlib import Path

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
    assert version == 1


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
    assert "schema version 99, newer than this release supports (1)" in result.stderr


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

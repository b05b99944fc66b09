"""Pony entities, database binding and schema upgrades.

Every datetime column stores naive UTC: Pony returns aware values as strings on SQLite and shifts them
through the session time zone on PostgreSQL. Pony has no migrations, so the schema carries a version
number and `setup_database` upgrades an older database step by step instead of dropping it.
"""

import logging
import sqlite3
import threading
from contextlib import closing
from datetime import datetime
from pathlib import Path

from pony.orm import Database, Json, Optional, PrimaryKey, Required, Set, composite_key, db_session

from config import mask_url, sqlite_path_from_url
from timeutil import utc_now

logger = logging.getLogger(__name__)

db = Database()

# Statuses of a monitored route.
ACTIVE = "active"
FOUND = "found"
EXPIRED = "expired"
CANCELLED = "cancelled"
FAILED = "failed"
ROUTE_STATUSES = (ACTIVE, FOUND, EXPIRED, CANCELLED, FAILED)

# Statuses of a notification (the outbox row behind one email).
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
NOTIFICATION_FAILED = "failed"
NOTIFICATION_STATUSES = (PENDING, SENDING, SENT, NOTIFICATION_FAILED)

LANGUAGES = ("cs", "en")


class SchemaVersion(db.Entity):
    _table_ = "schema_version"
    id = PrimaryKey(int)
    version = Required(int)
    upgraded_at = Required(datetime)


class MonitoredRoute(db.Entity):
    """One watched condition: a connection, a segment, seat classes and tariffs.

    Everyone who watches the same condition shares the row, so they cost one check.
    """

    _table_ = "monitored_route"
    id = PrimaryKey(int, auto=True)
    regiojet_route_id = Required(str, 200)
    from_station_id = Required(int, size=64)
    to_station_id = Required(int, size=64)
    from_station_name = Required(str, 200)
    to_station_name = Required(str, 200)
    from_time_zone = Required(str, 64)
    to_time_zone = Required(str, 64)
    departure_at = Required(datetime)
    arrival_at = Required(datetime)
    # Comma-joined sorted seat class keys; an empty string means any class.
    seat_classes = Optional(str, 500)
    # Comma-joined sorted tariff keys, one per passenger.
    tariffs = Required(str, 500)
    # Key of the RegioJet request for this route. Routes with equal keys share one request.
    connection_key = Required(str, 800, index="monitored_route_connection_key")
    status = Required(str, 16, default=ACTIVE)
    created_at = Required(datetime)
    # Planned time of the next check; a check moves it on by whole intervals so it never drifts.
    # Sweeps claim the routes planned up to the claim horizon (see checking.claim_due_routes).
    next_check_at = Required(datetime)
    # A claim row by row, of an overdue check: while it lies ahead, no other sweep claims the route.
    claimed_until = Optional(datetime)
    claim_token = Optional(str, 40)
    last_checked_at = Optional(datetime)
    consecutive_failures = Required(int, default=0)
    # Start of the current run of failed checks; a route failing for too long is given up.
    failing_since = Optional(datetime)
    last_error = Optional(str, 1000)
    last_error_at = Optional(datetime)
    found_at = Optional(datetime)
    # The seat offers that satisfied the watch: [{"seat_class", "free_seats", "price", "currency"}].
    found_offers = Optional(Json, nullable=True)
    ended_at = Optional(datetime)
    watches = Set("Watch")
    notifications = Set("Notification")

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE

    @property
    def tariff_list(self) -> list[str]:
        return split_keys(self.tariffs)

    @property
    def seat_class_list(self) -> list[str]:
        return split_keys(self.seat_classes)

    @property
    def passengers(self) -> int:
        return len(self.tariff_list)


def split_keys(joined: str) -> list[str]:
    """Split a comma-joined column of seat class or tariff keys. An empty string contains no key."""
    return joined.split(",") if joined else []


class Watcher(db.Entity):
    """A person identified by an email address, with the language of their emails."""

    _table_ = "watcher"
    id = PrimaryKey(int, auto=True)
    email = Required(str, 320, unique=True)
    language = Required(str, 2, default="cs")
    created_at = Required(datetime)
    watches = Set("Watch")


class Watch(db.Entity):
    """One watcher's subscription to one monitored route; its id is what a user sees and cancels."""

    _table_ = "watch"
    id = PrimaryKey(int, auto=True)
    watcher = Required(Watcher)
    route = Required(MonitoredRoute)
    created_at = Required(datetime)
    cancelled_at = Optional(datetime)
    notification = Optional("Notification")
    composite_key(watcher, route)

    @property
    def status(self) -> str:
        """The watch's own view: cancelled by its watcher, or else the status of its route."""
        if self.cancelled_at is not None:
            return CANCELLED
        return self.route.status


class Notification(db.Entity):
    """One email to one watcher about one find, written in the find's transaction before any email task exists."""

    _table_ = "notification"
    id = PrimaryKey(int, auto=True)
    watch = Required(Watch, unique=True)
    route = Required(MonitoredRoute)
    status = Required(str, 16, default=PENDING)
    created_at = Required(datetime)
    # When the next send may start: now for a new row, later after a temporary failure.
    next_attempt_at = Required(datetime)
    # While a send is under way its claim lasts until this time; past it the row is sent again.
    lease_until = Optional(datetime)
    attempts = Required(int, default=0)
    sent_at = Optional(datetime)
    last_error = Optional(str, 1000)


class ServiceState(db.Entity):
    """Small named facts the worker keeps, such as the time of the last sweep and the claim horizon."""

    _table_ = "service_state"
    key = PrimaryKey(str, 64)
    value = Optional(str, 2000)
    updated_at = Required(datetime)


def upsert_service_state(key: str, value: str, now: datetime) -> bool:
    """Set a service state row in one statement, safe when workers write it at once.

    Returns True when the row was new. Call inside a db_session.
    """
    inserted = db.execute(
        "INSERT INTO service_state (key, value, updated_at) VALUES ($key, $value, $now) ON CONFLICT (key) DO NOTHING",
        {"key": key, "value": value[:2000], "now": now},
    ).rowcount
    if not inserted:
        db.execute(
            "UPDATE service_state SET value = $value, updated_at = $now WHERE key = $key",
            {"key": key, "value": value[:2000], "now": now},
        )
    return inserted == 1


SCHEMA_VERSION = 3

# Indexes Pony cannot declare: partial indexes keep the hot queries small and make the
# "one active monitored route per condition" rule hold even when two commands race.
SCHEMA_V1_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS monitored_route_active_condition "
    "ON monitored_route (connection_key, seat_classes) WHERE status = 'active'",
    "CREATE INDEX IF NOT EXISTS monitored_route_due "
    "ON monitored_route (next_check_at) WHERE status = 'active'",
    "CREATE INDEX IF NOT EXISTS notification_due "
    "ON notification (next_attempt_at) WHERE status IN ('pending', 'sending')",
)

# Upgrade steps: UPGRADES[n][dialect] contains the SQL that brings a version n-1 schema to version n
# on that Pony dialect. A release that changes an entity adds a step here and raises SCHEMA_VERSION,
# so existing data is kept.
UPGRADES: dict[int, dict[str, tuple[str, ...]]] = {
    # Added when every sweep rewrote the rows it claimed. Now only the claims of overdue checks do.
    # Free space on each page lets PostgreSQL write the new row version beside the old one without
    # touching the indexes (a HOT update): a claim of 5,000 of 100,000 rows took 25 ms instead of
    # 57 ms on PostgreSQL 15. Pages written before the upgrade gain the space as their rows move.
    2: {"PostgreSQL": ("ALTER TABLE monitored_route SET (fillfactor = 70)",)},
    # Claims by the claim horizon. No table changes: the version keeps older releases, whose sweeps
    # and checks ignore the horizon, from starting on a database that this release uses.
    3: {},
}

_setup_lock = threading.Lock()
_bound_url: str | None = None


class SchemaError(RuntimeError):
    """The database schema cannot be used by this release."""


def setup_database(database_url: str) -> None:
    """Bind the entities to the database, then create or upgrade the schema.

    Safe to call from every worker thread: only the first call in a process does the work.
    """
    global _bound_url
    with _setup_lock:
        if _bound_url is not None:
            if _bound_url != database_url:
                raise RuntimeError(
                    f"models are bound to {mask_url(_bound_url)}; cannot rebind to {mask_url(database_url)}"
                )
            return
        bind(database_url)
        db.generate_mapping(create_tables=False, check_tables=False)
        migrate_schema()
        _bound_url = database_url
        logger.info("Database ready: %s, schema version %d", mask_url(database_url), SCHEMA_VERSION)


def bind(database_url: str) -> None:
    if database_url.startswith(("postgres://", "postgresql://")):
        # libpq reads both URL schemes; Heroku still hands out postgres://.
        db.bind(provider="postgres", dsn=database_url)
        return

    # The sweep's claim uses UPDATE ... RETURNING, which SQLite has from 3.35 on.
    if sqlite3.sqlite_version_info < (3, 35):
        raise SchemaError(
            f"SQLite {sqlite3.sqlite_version} is too old: regiojet-watch needs 3.35 or newer. "
            "Use a Python built with a newer SQLite, or PostgreSQL through DATABASE_URL"
        )

    # Batch checks pass their route ids as one JSON array. SQLite has JSON built in from 3.38, and
    # older builds have it only when compiled with JSON1.
    try:
        with closing(sqlite3.connect(":memory:")) as probe:
            probe.execute("SELECT json_array_length('[]')")
    except sqlite3.OperationalError as error:
        raise SchemaError(
            f"SQLite {sqlite3.sqlite_version} has no JSON functions ({error}): use a Python built with "
            "SQLite 3.38 or newer, or PostgreSQL through DATABASE_URL"
        ) from error

    # Pony resolves relative SQLite paths against the calling module, not the working directory.
    path = Path(sqlite_path_from_url(database_url)).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    db.bind(provider="sqlite", filename=str(path), create_db=True)


@db.on_connect(provider="sqlite")
def configure_sqlite_connection(database, connection) -> None:
    # WAL lets the CLI read while a consumer writes; the busy timeout makes writers queue for
    # the lock instead of failing at once with "database is locked".
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 15000")
    cursor.execute("PRAGMA foreign_keys = ON")


@db_session(ddl=True)
def migrate_schema() -> None:
    """Create a new schema, or apply the upgrade steps an older one lacks."""
    if db.provider.dialect == "PostgreSQL":
        # Two consumers starting on an empty database must not both create tables.
        db.execute("SELECT pg_advisory_xact_lock(7426130)")

    version = read_schema_version()
    if version is None:
        # db.create_tables() opens a session of its own, so create the tables through this one.
        db.schema.create_tables(db.provider, db.get_connection())
        for statement in SCHEMA_V1_INDEXES:
            db.execute(statement)
        for step in range(2, SCHEMA_VERSION + 1):
            apply_upgrade(step)
        SchemaVersion(id=1, version=SCHEMA_VERSION, upgraded_at=utc_now())
        logger.info("Created database schema version %d", SCHEMA_VERSION)
        return

    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"the database has schema version {version}, newer than this release supports "
            f"({SCHEMA_VERSION}); upgrade regiojet-watch instead of running an older release on it"
        )
    for step in range(version + 1, SCHEMA_VERSION + 1):
        apply_upgrade(step)
    if version < SCHEMA_VERSION:
        SchemaVersion[1].set(version=SCHEMA_VERSION, upgraded_at=utc_now())
        logger.info("Upgraded database schema from version %d to %d", version, SCHEMA_VERSION)


def apply_upgrade(step: int) -> None:
    for statement in UPGRADES[step].get(db.provider.dialect, ()):
        db.execute(statement)


def read_schema_version() -> int | None:
    """Return the stored schema version, or None for a database with no tables of ours."""
    if db.provider.dialect == "PostgreSQL":
        exists = db.select("SELECT to_regclass('schema_version') IS NOT NULL")[0]
    else:
        exists = bool(db.select("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")[0])
    if not exists:
        return None
    row = SchemaVersion.get(id=1)
    return row.version if row else None

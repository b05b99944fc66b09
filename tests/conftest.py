"""Test set-up: one backend per pytest process, plus the servers the application talks to.

Pony binds its entities to one database per process, so a pytest process runs on one backend:
- `sqlite` (default): a temporary SQLite database and an SQLite Huey queue, no server needed.
- `services`: PostgreSQL from TEST_DATABASE_URL and Redis from TEST_REDIS_URL.
When both URLs are set, a default run finishes by running the suite again on `services` in a child
process, so one `pytest` covers both. A services run that cannot reach its servers fails; it never
skips.

The application reads its settings from the environment once, so the fake RegioJet server and the
SMTP server it uses are started here, before any test module imports it, and reset before each test
through the `fake_api` and `smtp_server` fixtures.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest_plugins = ["tests.fake_api", "tests.smtp_server"]

BACKENDS = ("sqlite", "services")


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="sqlite (default) or services (PostgreSQL and Redis from TEST_DATABASE_URL and TEST_REDIS_URL)",
    )


def services_configured() -> bool:
    return bool(os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL"))


def pytest_configure(config):
    backend = config.getoption("backend") or "sqlite"
    if backend == "services" and not services_configured():
        raise pytest.UsageError("--backend=services needs TEST_DATABASE_URL and TEST_REDIS_URL")
    config.backend = backend

    from fake_regiojet import FakeRegioJetServer
    from tests.smtp_server import SmtpTestServer

    workdir = Path(tempfile.mkdtemp(prefix="regiojet-watch-tests-"))
    config.app_fake_api = FakeRegioJetServer(port=0, seed=1).start()
    config.app_smtp = SmtpTestServer()
    config.app_smtp.start()

    environment = {
        "REGIOJET_API_URL": config.app_fake_api.base_url,
        "REGIOJET_LANG": "cs",
        "REGIOJET_CURRENCY": "CZK",
        "SMTP_HOST": config.app_smtp.host,
        "SMTP_PORT": str(config.app_smtp.port),
        "SMTP_SECURITY": "none",
        "EMAIL_FROM": "alerts@regiojet-watch.test",
        "CHECK_INTERVAL_SECONDS": "20",
        # A queue name of its own keeps a test run off any other run's Redis keys.
        "HUEY_NAME": f"regiojet-watch-test-{os.getpid()}",
        "TZ": "UTC",
    }
    if backend == "services":
        environment["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
        environment["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    else:
        environment["DATABASE_URL"] = f"sqlite:///{workdir / 'regiojet-watch.sqlite3'}"
        os.environ.pop("REDIS_URL", None)
    for name in ("SMTP_USER", "SMTP_PASSWORD"):
        os.environ.pop(name, None)
    os.environ.update(environment)
    time.tzset()

    import models

    models.setup_database(os.environ["DATABASE_URL"])


def pytest_collection_modifyitems(config, items):
    """Deselect (not skip) the services-only tests on SQLite: they need PostgreSQL and Redis, or
    are long multi-consumer runs that the services pass covers."""
    if config.backend == "services":
        return
    selected = [item for item in items if item.get_closest_marker("services_only") is None]
    deselected = [item for item in items if item.get_closest_marker("services_only") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def pytest_unconfigure(config):
    if hasattr(config, "app_fake_api"):
        config.app_fake_api.stop()
        config.app_smtp.stop()


def pytest_report_header(config):
    import huey_app

    return f"backend: {config.backend} (queue: {type(huey_app.huey).__name__})"


def pytest_sessionfinish(session, exitstatus):
    """After a default run, run the suite again on PostgreSQL and Redis when they are configured."""
    config = session.config
    if config.getoption("backend") is not None or not services_configured():
        return
    if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        return

    arguments = [arg for arg in config.invocation_params.args]
    print("\n\nRunning the suite again on PostgreSQL and Redis (--backend=services)\n", flush=True)
    child = subprocess.run([sys.executable, "-m", "pytest", "--backend=services", *arguments])
    if child.returncode != 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def fake_api(request):
    """The fake RegioJet server the application uses, reset to its starting state."""
    server = request.config.app_fake_api
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def smtp_server(request):
    """The SMTP server the application sends to, with no emails and no injected replies."""
    server = request.config.app_smtp
    server.reset()
    yield server
    server.reset()


@pytest.fixture(autouse=True)
def clean_state(request):
    """Empty every table and the Huey queue before each test, so tests never see each other's rows."""
    from pony.orm import db_session

    import huey_app
    import models

    with db_session:
        for table in ("notification", "watch", "watcher", "monitored_route", "service_state"):
            models.db.execute(f"DELETE FROM {table}")
    huey_app.huey.flush()
    yield


@pytest.fixture
def backend(request) -> str:
    return request.config.backend


@pytest.fixture
def consumer():
    """A real Huey consumer in this process: worker threads and a scheduler on the test backend."""
    import signal

    import huey_app

    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    instance = huey_app.huey.create_consumer(
        workers=4, periodic=False, initial_delay=0.02, max_delay=0.2, backoff=1.1, check_worker_health=False
    )
    instance.start()
    yield instance
    instance.stop(graceful=True)
    for signum, handler in handlers.items():
        signal.signal(signum, handler)

"""The Huey instance: Redis when REDIS_URL is set, else an SQLite queue file beside the database.

Run the worker with `huey_consumer huey_app.huey` (see the Procfile) or `regiojet-watch run`.
Huey keeps no results: nothing reads them, and on Redis they would pile up in one hash.
"""

import ipaddress
import logging
import sys
import threading
from urllib.parse import urlsplit

from huey import PriorityRedisHuey, SqliteHuey
from huey.api import Huey

import models
from config import ConfigError, Settings
from runtime import get_settings

logger = logging.getLogger(__name__)

# Keep Huey's blocking read well under redis-py's default socket timeout of 5 seconds.
REDIS_READ_TIMEOUT_SECONDS = 2


def create_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return PriorityRedisHuey(
            settings.huey_name,
            url=settings.redis_url,
            results=False,
            utc=True,
            blocking=True,
            read_timeout=REDIS_READ_TIMEOUT_SECONDS,
        )
    return SqliteHuey(
        settings.huey_name,
        filename=str(settings.queue_path.resolve()),
        results=False,
        utc=True,
        timeout=15,
    )


def configure_worker_logging() -> None:
    """Give this project's module loggers a handler when the consumer did not configure the root logger.

    huey_consumer sets up only the "huey" logger, so without this the tasks' own logs would be lost.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s:%(name)s:%(process)d:%(threadName)s:%(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # The consumer gives the "huey" logger its own handler; stop its lines from printing twice.
    logging.getLogger("huey").propagate = False


try:
    settings = get_settings()
except ConfigError as error:
    sys.exit(f"regiojet-watch: configuration error: {error}")

huey = create_huey(settings)


_startup_lock = threading.Lock()
_started = False


@huey.on_startup()
def prepare_worker() -> None:
    """Bind the database and log the settings; runs in every worker, does its work once."""
    global _started
    with _startup_lock:
        if _started:
            return
        configure_worker_logging()
        models.setup_database(settings.database_url)
        log_settings(settings)
        _started = True


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def log_settings(settings: Settings) -> None:
    summary = ", ".join(f"{name}={value}" for name, value in settings.describe().items())
    logger.info("regiojet-watch worker starting: %s", summary)
    if not settings.sends_email:
        logger.warning("SMTP_HOST is not set: emails are written to the log instead of sent")
    if is_loopback_url(settings.regiojet_api_url):
        logger.warning(
            "REGIOJET_API_URL is %s, a loopback address such as the fake server; set it to "
            "RegioJet's API to watch real connections",
            settings.regiojet_api_url,
        )


# Registers the tasks with `huey`; imported last because the tasks import `huey` from here.
import tasks  # noqa: E402,F401

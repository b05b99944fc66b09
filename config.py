"""Settings from environment variables, also read from a `.env` file in the working directory.

Every setting is validated once at start, so a typo stops the worker with a message that names the
variable and the expected form instead of failing on the first check or email.
"""

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

# The public RegioJet API is at https://brn-ybus-pubapi.sa.cz/restapi. The default is the project's
# fake server on loopback, so a fresh install never sends requests to RegioJet by accident. An
# operator sets REGIOJET_API_URL to watch real connections.
DEFAULT_REGIOJET_API_URL = "http://127.0.0.1:8765/restapi"
DEFAULT_DATABASE_FILE = "regiojet-watch.sqlite3"
QUEUE_FILE_NAME = "regiojet-watch-queue.sqlite3"

# RegioJet publishes no rate limit for its public API, so this default is an estimate. At one
# request per connection checked it covers 1,000 watched connections at the default 20 s interval.
# Connections beyond the budget are checked less often, because a check without a slot is postponed.
DEFAULT_MAX_REQUESTS_PER_SECOND = 50.0

SMTP_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
REGIOJET_LANGUAGES = ("cs", "sk", "en", "de", "hu", "pl", "uk")
REGIOJET_CURRENCIES = ("CZK", "EUR")

# A shape check only, because the CLI validates a watcher's address in full with email-validator.
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ConfigError(ValueError):
    """A missing or malformed setting. The message names the variable and the expected form."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    queue_path: Path
    regiojet_api_url: str
    regiojet_lang: str
    regiojet_currency: str
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_security: str
    email_from: str
    check_interval_seconds: int
    huey_name: str
    regiojet_max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path | None:
        """Path of the SQLite database file, or None on PostgreSQL."""
        if self.uses_postgres:
            return None
        return sqlite_path_from_url(self.database_url)

    @property
    def sends_email(self) -> bool:
        return self.smtp_host is not None

    def describe(self) -> dict[str, str]:
        """Summarize the settings for logs and `status`, with every credential masked."""
        return {
            "database": mask_url(self.database_url),
            "queue": mask_url(self.redis_url) if self.redis_url else f"sqlite:///{self.queue_path}",
            "regiojet_api_url": self.regiojet_api_url,
            "smtp": f"{self.smtp_host}:{self.smtp_port} ({self.smtp_security})"
            if self.smtp_host
            else "not configured: emails are written to the log",
            "check_interval_seconds": str(self.check_interval_seconds),
            "regiojet_max_requests_per_second": f"{self.regiojet_max_requests_per_second:g}",
        }


def mask_url(url: str) -> str:
    """Return the URL with any password replaced by `***`, safe to log or print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def sqlite_path_from_url(url: str) -> Path:
    """Turn `sqlite:///relative.db`, `sqlite:////absolute.db` or a bare path into a file path."""
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    return Path(url)


def load_settings(environ: Mapping[str, str] | None = None, env_file: str | Path = ".env") -> Settings:
    """Read and validate the settings; values in the environment win over the `.env` file."""
    values: dict[str, str] = {}
    if Path(env_file).is_file():
        values.update({key: value for key, value in dotenv_values(env_file).items() if value is not None})
    values.update(os.environ if environ is None else environ)
    return parse_settings(values)


def parse_settings(values: Mapping[str, str]) -> Settings:
    """Validate raw variable values into Settings, raising ConfigError on the first bad one."""

    def get(name: str) -> str | None:
        value = values.get(name, "").strip()
        return value or None

    database_url = parse_database_url(get("DATABASE_URL"))
    redis_url = parse_redis_url(get("REDIS_URL"))
    smtp_security = parse_choice("SMTP_SECURITY", get("SMTP_SECURITY") or "starttls", SMTP_DEFAULT_PORTS)
    smtp_host = get("SMTP_HOST")
    smtp_user = get("SMTP_USER")

    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        queue_path=queue_path_for(database_url),
        regiojet_api_url=parse_http_url("REGIOJET_API_URL", get("REGIOJET_API_URL") or DEFAULT_REGIOJET_API_URL),
        regiojet_lang=parse_choice("REGIOJET_LANG", get("REGIOJET_LANG") or "cs", REGIOJET_LANGUAGES),
        regiojet_currency=parse_choice(
            "REGIOJET_CURRENCY", (get("REGIOJET_CURRENCY") or "CZK").upper(), REGIOJET_CURRENCIES
        ),
        smtp_host=smtp_host,
        smtp_port=int(
            parse_number("SMTP_PORT", get("SMTP_PORT"), default=SMTP_DEFAULT_PORTS[smtp_security], minimum=1, maximum=65535, whole=True)
        ),
        smtp_user=smtp_user,
        smtp_password=get("SMTP_PASSWORD"),
        smtp_security=smtp_security,
        email_from=parse_email_from(get("EMAIL_FROM"), smtp_host, smtp_user),
        check_interval_seconds=int(
            parse_number("CHECK_INTERVAL_SECONDS", get("CHECK_INTERVAL_SECONDS"), default=20, minimum=5, maximum=3600, whole=True)
        ),
        huey_name=get("HUEY_NAME") or "regiojet-watch",
        regiojet_max_requests_per_second=parse_number(
            "REGIOJET_MAX_REQUESTS_PER_SECOND",
            get("REGIOJET_MAX_REQUESTS_PER_SECOND"),
            default=DEFAULT_MAX_REQUESTS_PER_SECOND,
            minimum=0.1,
            maximum=1000,
        ),
    )


def parse_database_url(value: str | None) -> str:
    if value is None:
        return f"sqlite:///{DEFAULT_DATABASE_FILE}"
    if value.startswith(("postgres://", "postgresql://")):
        if not urlsplit(value).hostname and "host=" not in value:
            raise ConfigError(
                f"DATABASE_URL {mask_url(value)!r} names no host; "
                "expected postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
            )
        return value
    if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
        return value
    raise ConfigError(
        f"DATABASE_URL {mask_url(value)!r} is not supported; expected sqlite:///PATH "
        "(sqlite:////absolute/path for an absolute path) or postgresql://USER@HOST:PORT/DATABASE"
    )


def parse_redis_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
        raise ConfigError(
            f"REDIS_URL {mask_url(value)!r} is not a Redis URL; expected redis://[:PASSWORD@]HOST:PORT/DB "
            "or rediss:// for TLS, or leave it unset to queue tasks in an SQLite file"
        )
    return value


def parse_http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} {value!r} is not an http(s) URL; expected for example {DEFAULT_REGIOJET_API_URL}")
    return value.rstrip("/")


def parse_choice(name: str, value: str, choices) -> str:
    if value not in choices:
        raise ConfigError(f"{name} {value!r} is invalid; expected one of: {', '.join(choices)}")
    return value


def parse_number(
    name: str,
    value: str | None,
    default: float,
    minimum: float,
    maximum: float | None = None,
    whole: bool = False,
) -> float:
    if value is None:
        return default
    kind = "a whole number" if whole else "a number"
    try:
        number = int(value) if whole else float(value)
    except ValueError:
        raise ConfigError(f"{name} {value!r} is not {kind}; expected {kind} such as {default:g}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{name} {value!r} is not a finite number; expected {kind} such as {default:g}")
    if number < minimum or (maximum is not None and number > maximum):
        upper = f" and at most {maximum:g}" if maximum is not None else ""
        raise ConfigError(f"{name} {value!r} is out of range; expected {kind} of at least {minimum:g}{upper}")
    return number


def parse_email_from(value: str | None, smtp_host: str | None, smtp_user: str | None) -> str:
    if value is None:
        if smtp_user and EMAIL_SHAPE.match(smtp_user):
            return smtp_user
        if smtp_host:
            raise ConfigError(
                "EMAIL_FROM is missing; set it to the sender address, for example EMAIL_FROM=alerts@example.com"
            )
        return "regiojet-watch@localhost"
    if "\n" in value or "\r" in value or not EMAIL_SHAPE.match(value):
        raise ConfigError(f"EMAIL_FROM {value!r} is not an email address; expected for example alerts@example.com")
    return value


def queue_path_for(database_url: str) -> Path:
    """Place the SQLite Huey queue beside the SQLite database, or in the working directory on PostgreSQL."""
    if database_url.startswith(("postgres://", "postgresql://")):
        return Path(QUEUE_FILE_NAME)
    return sqlite_path_from_url(database_url).parent / QUEUE_FILE_NAME

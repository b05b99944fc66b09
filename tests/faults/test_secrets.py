"""Credentials stay out of logs, errors and help; newlines cannot add email headers."""

import os
from urllib.parse import urlsplit, urlunsplit

import pytest
from click.testing import CliRunner
from pony.orm import count, db_session

from cli import cli
from config import ConfigError, parse_settings
from models import Watch
from tests.faults.harness import direct_connections, emails_per_recipient, free_up, watch
from tests.helpers import wait_until

SMTP_SECRET = "smtp-Secret-9f2c"
DATABASE_SECRET = "db-Secret-71ab"
REDIS_SECRET = "redis-Secret-c4d0"


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = parts.username or "user"
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def test_consumer_log_has_no_credentials(fake_api, smtp_server, consumers, backend):
    environment = {"SMTP_USER": "alerts", "SMTP_PASSWORD": SMTP_SECRET}
    if backend == "services":
        # The test PostgreSQL trusts loopback clients, so a password in the URL is sent and ignored.
        environment["DATABASE_URL"] = with_password(os.environ["DATABASE_URL"], DATABASE_SECRET)
    smtp_server.require_auth("alerts", SMTP_SECRET)
    (route,) = direct_connections(fake_api, 1)
    free_up(fake_api, route)
    watch(route, "secret@example.com")

    consumer = consumers("consumer", environment=environment)
    wait_until(lambda: emails_per_recipient(smtp_server)["secret@example.com"] == 1, timeout=60, message="the email")
    consumer.terminate()
    log = consumer.log()

    assert "regiojet-watch worker starting" in log
    assert SMTP_SECRET not in log
    assert DATABASE_SECRET not in log


@pytest.mark.parametrize(
    "variable, value",
    [
        ("DATABASE_URL", f"mysql://user:{DATABASE_SECRET}@db.example.com/app"),
        ("DATABASE_URL", f"postgresql://user:{DATABASE_SECRET}@/app"),
        ("REDIS_URL", f"http://:{REDIS_SECRET}@cache.example.com:6379/0"),
    ],
)
def test_config_error_masks_password(variable, value):
    with pytest.raises(ConfigError) as raised:
        parse_settings({variable: value})

    assert variable in str(raised.value)
    assert DATABASE_SECRET not in str(raised.value)
    assert REDIS_SECRET not in str(raised.value)


@pytest.mark.parametrize("command", [[], ["stations"], ["connections"], ["watch"], ["list"], ["cancel"], ["check"], ["run"], ["status"]])
def test_help_has_no_credentials(command, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_SECRET)

    result = CliRunner().invoke(cli, [*command, "--help"])

    assert result.exit_code == 0
    assert SMTP_SECRET not in result.output


@pytest.mark.parametrize("address", ["anna@example.com\nBcc: eve@example.com", "anna@example.com\r\nSubject: x"])
def test_watch_rejects_header_injection_in_address(fake_api, address):
    (route,) = direct_connections(fake_api, 1)
    departure = route["stops"][0]["time"][:16].replace("T", " ")

    result = CliRunner().invoke(
        cli, ["watch", route["stops"][0]["stationName"], route["stops"][-1]["stationName"], departure, "--email", address]
    )

    assert result.exit_code != 0
    assert "line break" in result.output
    assert "Traceback" not in result.output
    with db_session:
        assert count(w for w in Watch) == 0

"""Property tests: any CLI arguments and any setting values end in a message, never a traceback."""

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pony.orm import count, db_session

from cli import cli
from config import ConfigError, parse_settings
from models import MonitoredRoute, Watch, Watcher

VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "REGIOJET_API_URL",
    "REGIOJET_LANG",
    "REGIOJET_CURRENCY",
    "REGIOJET_MAX_REQUESTS_PER_SECOND",
    "CHECK_INTERVAL_SECONDS",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_SECURITY",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "EMAIL_FROM",
    "HUEY_NAME",
)

# Text without NUL: an environment variable cannot contain one.
values = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=40)
arguments = st.lists(values, min_size=1, max_size=5)
profile = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("variable", VARIABLES)
@profile
@given(value=values)
def test_settings_any_value_parses_or_names_variable(variable, value):
    environment = {variable: value}
    if variable in ("SMTP_HOST",):
        environment["EMAIL_FROM"] = "alerts@example.com"
    try:
        parse_settings(environment)
    except ConfigError as error:
        assert variable in str(error)


def stored_rows() -> tuple[int, int, int]:
    with db_session:
        return count(w for w in Watch), count(w for w in Watcher), count(r for r in MonitoredRoute)


@pytest.mark.parametrize("command", ["stations", "connections", "watch", "list", "cancel", "check", "run", "status"])
@profile
@given(args=arguments)
def test_cli_any_arguments_exit_with_message(command, args, fake_api):
    if command == "run" and (all(not arg.strip() for arg in args) or any(arg.startswith("-") for arg in args)):
        # Options of `run` could start a real worker that never returns.
        return
    before = stored_rows()

    result = CliRunner().invoke(cli, [command, *args])

    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code != 0:
        assert result.output.strip()
    if command == "watch":
        assert stored_rows() == before

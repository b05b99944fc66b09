"""Shared state of one CLI invocation: logging, settings, the RegioJet client and the database."""

import logging
import sys
from contextlib import contextmanager
from typing import Iterator

import click

from config import ConfigError, Settings

LOG_FORMAT = "[%(asctime)s] %(levelname)s:%(name)s:%(threadName)s:%(message)s"


class CurrentStderrHandler(logging.StreamHandler):
    """A stream handler that writes to whatever `sys.stderr` is at the time of each record.

    click's test runner replaces sys.stderr per invocation, so a handler holding the stream of the
    first invocation would write to a closed stream in the next one.
    """

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(level: int) -> None:
    """Give the root logger one stderr handler (unless one exists) and set its level."""
    root = logging.getLogger()
    if not any(isinstance(handler, CurrentStderrHandler) for handler in root.handlers):
        handler = CurrentStderrHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(level)


class AppContext:
    """State the commands share. Settings, client and database are set up on first use only.

    Loading lazily keeps `COMMAND --help` working with a broken configuration.
    """

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self._settings: Settings | None = None
        self._database_bound = False

    def configure_logging(self, default_level: int) -> None:
        configure_logging(logging.DEBUG if self.verbose else default_level)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings_or_fail()
        return self._settings

    def regiojet_client(self):
        """Return this thread's RegioJet client, built from the settings."""
        self.settings
        from runtime import get_regiojet_client

        return get_regiojet_client()

    def bind_database(self) -> None:
        if self._database_bound:
            return
        import models

        try:
            models.setup_database(self.settings.database_url)
        except models.SchemaError as error:
            raise click.ClickException(str(error)) from None
        self._database_bound = True


def load_settings_or_fail() -> Settings:
    """Load the settings once per process, turning a ConfigError into a click error."""
    from runtime import get_settings

    try:
        return get_settings()
    except ConfigError as error:
        raise click.ClickException(f"invalid configuration: {error}") from None


@contextmanager
def regiojet_errors(action: str) -> Iterator[None]:
    """Turn RegioJet client errors into click errors that say what failed and what to do."""
    from regiojet_client import PermanentRegioJetError, TemporaryRegioJetError
    from request_budget import RequestBudgetExceeded

    try:
        yield
    except RequestBudgetExceeded as error:
        raise click.ClickException(f"{error} while {action}. Nothing was stored; try again in a minute.") from None
    except TemporaryRegioJetError as error:
        if error.status is None:
            # No HTTP response at all, so most often the URL is wrong or the fake server is not running.
            api_url = load_settings_or_fail().regiojet_api_url
            raise click.ClickException(
                f"could not reach the RegioJet API at {api_url} while {action}: {error}. Nothing was stored. "
                "Check REGIOJET_API_URL; to use the fake server, start it with `python -m fake_regiojet`."
            ) from None
        raise click.ClickException(
            f"RegioJet is failing while {action}: {error}. Nothing was stored; try again later."
        ) from None
    except PermanentRegioJetError as error:
        raise click.ClickException(f"RegioJet rejected the request while {action}: {error}") from None

"""The `run` command: the Huey consumer in the foreground, with the periodic sweeps."""

import logging
import os
import time

import click
from huey.consumer_options import ConsumerConfig

from cli.context import AppContext

logger = logging.getLogger(__name__)

pass_app = click.make_pass_decorator(AppContext)

# A PaaS sends SIGTERM and kills about 30 s later, so running tasks get 25 s to finish.
SHUTDOWN_TIMEOUT_SECONDS = 25


@click.command("run")
@click.option("--workers", type=click.IntRange(1, 256), default=8, show_default=True, help="Number of worker threads.")
@click.option(
    "--no-periodic",
    is_flag=True,
    help="Do not run the periodic sweeps here, for extra consumers beside one that runs them.",
)
@pass_app
def run_command(app: AppContext, workers: int, no_periodic: bool) -> None:
    """Run the worker: check watched connections and send the emails, until SIGTERM or Ctrl-C.

    SIGTERM lets running tasks finish for up to 25 seconds.

    \b
    Example:
        regiojet-watch run
        regiojet-watch run --workers 4 --no-periodic
    """
    settings = app.settings
    # Huey stores naive UTC times but turns them into queue scores with the local zone.
    os.environ["TZ"] = "UTC"
    time.tzset()

    import huey_app

    consumer = huey_app.huey.create_consumer(
        workers=workers,
        worker_type="thread",
        periodic=not no_periodic,
        graceful_signal="TERM",
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
    )
    configure_huey_logger(app.verbose, workers)
    log_start(settings, workers, not no_periodic)
    consumer.run()


def configure_huey_logger(verbose: bool, workers: int) -> None:
    """Give the "huey" logger its own handler and level, as huey_consumer does."""
    config = ConsumerConfig(workers=workers, worker_type="thread", verbose=True if verbose else None)
    huey_logger = logging.getLogger("huey")
    if not huey_logger.handlers:
        config.setup_logger(huey_logger)
    # The root logger has a handler too, so without this every Huey line would print twice.
    huey_logger.propagate = False


def log_start(settings, workers: int, periodic: bool) -> None:
    # The settings and their warnings are logged by huey_app when the workers start.
    logger.info("starting worker: %d threads, periodic tasks %s", workers, "on" if periodic else "off")

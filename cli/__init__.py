"""The `regiojet-watch` command line: find connections, manage watches, run the worker.

Each command group lives in its own module; this module holds the click group and `main()`.
"""

import logging

import click

from cli.context import AppContext
from cli.stations import connections_command, stations_command
from cli.status import status_command
from cli.watches import cancel_command, check_command, list_command, watch_command
from cli.worker import run_command

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level to stderr.")
@click.version_option(package_name="regiojet-watch", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Watch sold-out RegioJet connections and email travellers when seats free up.

    Settings come from environment variables or a `.env` file in the working directory
    (DATABASE_URL, REDIS_URL, REGIOJET_API_URL, SMTP_HOST, ...).

    \b
    Example:
        regiojet-watch stations brno
        regiojet-watch connections Praha Brno 2026-12-05
        regiojet-watch watch "Praha hl.n." "Brno hl.n." "2026-12-06 10:09" --email jana@example.com
        regiojet-watch run
    """
    ctx.obj = AppContext(verbose=verbose)
    # The worker reports its progress in the log; other commands print results and log only trouble.
    ctx.obj.configure_logging(logging.INFO if ctx.invoked_subcommand == "run" else logging.WARNING)


for command in (
    stations_command,
    connections_command,
    watch_command,
    list_command,
    cancel_command,
    check_command,
    run_command,
    status_command,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="regiojet-watch")

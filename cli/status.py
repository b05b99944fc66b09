"""The `status` command: what the service is doing, from the database and the queue."""

from dataclasses import asdict, dataclass

import click
from pony.orm import count, db_session, desc, select

from cli.context import AppContext
from cli.output import print_json, print_table, utc_iso
from models import NOTIFICATION_STATUSES, ROUTE_STATUSES, MonitoredRoute, Notification, ServiceState, Watch

pass_app = click.make_pass_decorator(AppContext)

RECENT_ERRORS = 5


@dataclass
class StatusReport:
    routes: dict[str, int]
    active_watches: int
    tasks_pending: int
    tasks_scheduled: int
    notifications: dict[str, int]
    last_sweep_at: str | None
    last_sweep: str | None
    smtp_alert: str | None
    route_errors: list[dict]
    notification_errors: list[dict]
    settings: dict[str, str]


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of text.")
@pass_app
def status_command(app: AppContext, as_json: bool) -> None:
    """Show monitored routes, watches, queued tasks, emails, recent errors and the settings.

    Times are in UTC. Passwords in the settings are masked.

    \b
    Example:
        regiojet-watch status
        regiojet-watch status --json
    """
    app.bind_database()
    report = build_report(app)
    if as_json:
        print_json(asdict(report))
        return
    print_report(report)


def build_report(app: AppContext) -> StatusReport:
    from huey_app import huey

    database = read_database_figures()
    return StatusReport(
        tasks_pending=huey.pending_count(),
        tasks_scheduled=huey.scheduled_count(),
        settings=app.settings.describe(),
        **database,
    )


@db_session
def read_database_figures() -> dict:
    from tasks.notifications import SMTP_AUTH_ALERT_KEY
    from tasks.scheduling import LAST_SWEEP_KEY

    routes = dict.fromkeys(ROUTE_STATUSES, 0)
    routes.update(dict(select((r.status, count(r)) for r in MonitoredRoute)))
    notifications = dict.fromkeys(NOTIFICATION_STATUSES, 0)
    notifications.update(dict(select((n.status, count(n)) for n in Notification)))
    sweep = ServiceState.get(key=LAST_SWEEP_KEY)
    alert = ServiceState.get(key=SMTP_AUTH_ALERT_KEY)

    return {
        "routes": routes,
        "active_watches": count(w for w in Watch if w.cancelled_at is None and w.route.status == "active"),
        "notifications": notifications,
        "last_sweep_at": utc_iso(sweep.updated_at) if sweep else None,
        "last_sweep": sweep.value if sweep else None,
        "smtp_alert": alert.value if alert else None,
        "route_errors": recent_route_errors(),
        "notification_errors": recent_notification_errors(),
    }


def recent_route_errors() -> list[dict]:
    routes = (
        MonitoredRoute.select(lambda r: r.last_error is not None and r.last_error != "")
        .order_by(desc(MonitoredRoute.last_error_at))
        .limit(RECENT_ERRORS)
    )
    return [
        {"route_id": r.id, "status": r.status, "at": utc_iso(r.last_error_at), "error": r.last_error} for r in routes
    ]


def recent_notification_errors() -> list[dict]:
    notifications = (
        Notification.select(lambda n: n.last_error is not None and n.last_error != "")
        .order_by(desc(Notification.id))
        .limit(RECENT_ERRORS)
    )
    return [
        {"notification_id": n.id, "watch_id": n.watch.id, "status": n.status, "attempts": n.attempts, "error": n.last_error}
        for n in notifications
    ]


def print_report(report: StatusReport) -> None:
    if report.smtp_alert:
        click.echo(f"ALERT: SMTP login rejected, no email can be sent: {report.smtp_alert}")
        click.echo("")
    click.echo("Monitored routes: " + format_counts(report.routes))
    click.echo(f"Active watches: {report.active_watches}")
    click.echo(f"Tasks in the queue: {report.tasks_pending} waiting, {report.tasks_scheduled} scheduled")
    click.echo("Notifications: " + format_counts(report.notifications))
    if report.last_sweep_at:
        click.echo(f"Last sweep: {report.last_sweep_at} ({report.last_sweep})")
    else:
        click.echo("Last sweep: never (is `regiojet-watch run` running?)")

    print_errors("Recent route errors", ["ROUTE", "STATUS", "AT (UTC)", "ERROR"],
                 [(e["route_id"], e["status"], e["at"], e["error"]) for e in report.route_errors])
    print_errors("Recent notification errors", ["NOTIFICATION", "WATCH", "STATUS", "ATTEMPTS", "ERROR"],
                 [(e["notification_id"], e["watch_id"], e["status"], e["attempts"], e["error"])
                  for e in report.notification_errors])

    click.echo("")
    click.echo("Settings:")
    for key, value in report.settings.items():
        click.echo(f"  {key}: {value}")


def format_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{value} {key}" for key, value in counts.items())


def print_errors(title: str, headers: list[str], rows: list[tuple]) -> None:
    click.echo("")
    if not rows:
        click.echo(f"{title}: none")
        return
    click.echo(f"{title}:")
    print_table(headers, rows)

"""The `watch`, `list`, `cancel` and `check` commands."""

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import click
from email_validator import EmailNotValidError, validate_email

from cli.context import AppContext, regiojet_errors
from cli.lookup import resolve_endpoint, station_label, station_time_zone, validate_seat_classes, validate_tariffs
from cli.output import (
    describe_offers,
    format_money,
    local_iso,
    local_time_text,
    print_json,
    print_table,
    utc_iso,
)
from models import LANGUAGES
from timeutil import to_naive_utc, utc_now

logger = logging.getLogger(__name__)

pass_app = click.make_pass_decorator(AppContext)

DEPARTURE_FORMAT = "%Y-%m-%d %H:%M"


@click.command("watch")
@click.argument("from_query", metavar="FROM")
@click.argument("to_query", metavar="TO")
@click.argument("departure_text", metavar="DEPARTURE")
@click.option("--email", "email", required=True, metavar="ADDR", help="Address that gets the email when seats free up.")
@click.option(
    "--seat-class",
    "seat_classes",
    multiple=True,
    metavar="KEY",
    help="Seat class that counts, such as C0 or C1; repeat for several. Default: any class.",
)
@click.option(
    "--tariff",
    "tariffs",
    multiple=True,
    metavar="KEY",
    help="Passenger tariff, given once per passenger (default: one REGULAR). Seats must fit the whole party.",
)
@click.option("--lang", type=click.Choice(LANGUAGES), default="cs", show_default=True, help="Language of the email.")
@click.option("--route-id", metavar="ID", help="RegioJet route id, to pick one of several connections leaving at that time.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of text.")
@pass_app
def watch_command(
    app: AppContext,
    from_query: str,
    to_query: str,
    departure_text: str,
    email: str,
    seat_classes: tuple[str, ...],
    tariffs: tuple[str, ...],
    lang: str,
    route_id: str | None,
    as_json: bool,
) -> None:
    """Watch one connection and email ADDR once enough seats are free.

    DEPARTURE is "YYYY-MM-DD HH:MM" in the local time of the departure station. FROM and TO are
    names or ids from `stations`. Watching the same connection, seat classes and tariffs as someone
    else shares their checks.

    \b
    Example:
        regiojet-watch watch "Praha hl.n." "Brno hl.n." "2026-12-06 10:09" --email jana@example.com
        regiojet-watch watch "Praha hl.n." Kosice "2026-12-06 22:47" --email jana@example.com \\
            --seat-class C1 --tariff REGULAR --tariff CHILD_UNDER_12 --lang en
    """
    address = parse_email(email)
    departure_local = parse_departure(departure_text)

    client = app.regiojet_client()
    with regiojet_errors("looking up the connection"):
        passengers = validate_tariffs(client, tariffs)
        classes = validate_seat_classes(client, seat_classes)
        locations = client.get_locations()
        origin = resolve_endpoint(locations, from_query, "'FROM'")
        destination = resolve_endpoint(locations, to_query, "'TO'")
        check_not_departed(departure_local, origin.time_zone, departure_text)
        routes = client.search_routes(
            origin.id, origin.kind, destination.id, destination.kind, departure_local.date(), passengers
        )
        summary = pick_connection(routes, departure_local, origin, destination, route_id)
        offers = request_offers(client, summary, classes, passengers, app.settings.regiojet_currency)

    connection = build_connection(locations, summary, origin.time_zone, destination.time_zone)
    app.bind_database()
    from watches import create_watch

    interval = timedelta(seconds=app.settings.check_interval_seconds)
    created = create_watch(connection, address, lang, classes, passengers, now=utc_now(), interval=interval)
    report_created_watch(created, connection, offers, as_json)


def parse_email(email: str) -> str:
    if "\r" in email or "\n" in email:
        raise click.BadParameter(f"{email!r} contains a line break; give one address", param_hint="'--email'")
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise click.BadParameter(f"{email!r} is not a valid email address: {error}", param_hint="'--email'") from None


def parse_departure(text: str) -> datetime:
    try:
        return datetime.strptime(text.strip(), DEPARTURE_FORMAT)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a departure time; expected YYYY-MM-DD HH:MM, for example \"2026-12-05 14:50\"",
            param_hint="'DEPARTURE'",
        ) from None


def check_not_departed(departure_local: datetime, time_zone: str, text: str) -> None:
    departure = departure_local.replace(tzinfo=ZoneInfo(time_zone))
    if to_naive_utc(departure) <= utc_now():
        raise click.BadParameter(
            f"{text} ({time_zone}) is in the past; give a future departure", param_hint="'DEPARTURE'"
        )


def pick_connection(routes, departure_local: datetime, origin, destination, route_id: str | None):
    """Pick the one connection that leaves FROM at the given minute, or explain what is there."""
    leaving = [route for route in routes if leaves_at(route, departure_local) and serves(route, origin, destination)]
    if route_id is not None:
        leaving = [route for route in leaving if route.route_id == route_id]

    if len(leaving) == 1:
        return leaving[0]
    time_text = departure_local.strftime(DEPARTURE_FORMAT)
    if not leaving:
        wanted = f" with route id {route_id}" if route_id else ""
        raise click.ClickException(
            f"no connection{wanted} from {origin.label} to {destination.label} leaves at {time_text}. "
            f"That day's departures: {list_departures(routes)}"
        )
    raise click.ClickException(
        f"{len(leaving)} connections leave {origin.label} at {time_text}: {list_departures(leaving)}. "
        "Pass --route-id ID to pick one."
    )


def leaves_at(route, departure_local: datetime) -> bool:
    # RegioJet sends times with the departure station's offset, so the wall-clock part is local time.
    return route.departure_time.replace(tzinfo=None, second=0, microsecond=0) == departure_local


def serves(route, origin, destination) -> bool:
    if origin.kind == "STATION" and route.departure_station_id != origin.id:
        return False
    if destination.kind == "STATION" and route.arrival_station_id != destination.id:
        return False
    return True


def list_departures(routes) -> str:
    if not routes:
        return "none"
    return ", ".join(
        f"{route.departure_time:%H:%M} (route id {route.route_id}{', support' if route.support else ''})"
        for route in routes
    )


def request_offers(client, summary, seat_classes: list[str], tariffs: list[str], currency: str):
    """Request the segment's price classes once and return the offers that already satisfy the watch."""
    from availability import find_offers
    from regiojet_client import SoldOutError

    try:
        detail = client.get_route_detail(
            summary.route_id, summary.departure_station_id, summary.arrival_station_id, tariffs
        )
    except SoldOutError:
        return []
    return find_offers(detail, seat_classes, len(tariffs), currency)


def build_connection(locations, summary, origin_zone: str, destination_zone: str):
    from watches import Connection

    return Connection(
        regiojet_route_id=summary.route_id,
        from_station_id=summary.departure_station_id,
        to_station_id=summary.arrival_station_id,
        from_station_name=station_label(locations, summary.departure_station_id),
        to_station_name=station_label(locations, summary.arrival_station_id),
        from_time_zone=station_time_zone(locations, summary.departure_station_id, origin_zone),
        to_time_zone=station_time_zone(locations, summary.arrival_station_id, destination_zone),
        departure_at=to_naive_utc(summary.departure_time),
        arrival_at=to_naive_utc(summary.arrival_time),
    )


def report_created_watch(created, connection, offers, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "watch_id": created.watch_id,
                "route_id": created.route_id,
                "regiojet_route_id": connection.regiojet_route_id,
                "already_watching": created.already_watching,
                "joined_existing_route": created.joined_existing_route,
                "departure": local_iso(connection.departure_at, connection.from_time_zone),
                "departure_utc": utc_iso(connection.departure_at),
                "seats_free_now": bool(offers),
                "offers": [offer.to_json() for offer in offers],
            }
        )
        return

    if created.already_watching:
        click.echo(f"already watching: watch {created.watch_id}")
        return
    departure = local_time_text(connection.departure_at, connection.from_time_zone)
    click.echo(
        f"Watch {created.watch_id} created: {connection.from_station_name} -> {connection.to_station_name}, "
        f"departure {departure}."
    )
    if offers:
        click.echo(f"Seats are free now: {describe_offers(offers)}. The first check will send the email.")
    else:
        click.echo("No seats fit the watch now; an email goes out once they do.")


@click.command("list")
@click.option("--email", metavar="ADDR", help="Show only the watches of this address.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@pass_app
def list_command(app: AppContext, email: str | None, as_json: bool) -> None:
    """List watches, newest first.

    \b
    Example:
        regiojet-watch list
        regiojet-watch list --email jana@example.com --json
    """
    app.bind_database()
    from watches import list_watches

    rows = list_watches(email)
    if as_json:
        print_json([watch_row_to_json(row) for row in rows])
        return
    if not rows:
        click.echo("No watches.")
        return
    print_table(
        ["ID", "STATUS", "EMAIL", "FROM -> TO", "DEPARTURE", "SEAT CLASSES", "TARIFFS", "LAST CHECK", "FOUND AT", "LAST ERROR"],
        [
            (
                row.watch_id,
                row.status,
                row.email,
                f"{row.from_station_name} -> {row.to_station_name}",
                local_time_text(row.departure_at, row.from_time_zone),
                ",".join(row.seat_classes) or "any",
                ",".join(row.tariffs),
                local_time_text(row.last_checked_at, row.from_time_zone),
                local_time_text(row.found_at, row.from_time_zone),
                row.last_error or None,
            )
            for row in rows
        ],
    )


def watch_row_to_json(row) -> dict:
    zone = row.from_time_zone
    return {
        "watch_id": row.watch_id,
        "status": row.status,
        "email": row.email,
        "language": row.language,
        "route_id": row.route_id,
        "regiojet_route_id": row.regiojet_route_id,
        "from_station": row.from_station_name,
        "to_station": row.to_station_name,
        "time_zone": zone,
        "departure": local_iso(row.departure_at, zone),
        "departure_utc": utc_iso(row.departure_at),
        "seat_classes": list(row.seat_classes),
        "tariffs": list(row.tariffs),
        "passengers": len(row.tariffs),
        "created_at": local_iso(row.created_at, zone),
        "created_at_utc": utc_iso(row.created_at),
        "last_checked_at": local_iso(row.last_checked_at, zone),
        "last_checked_at_utc": utc_iso(row.last_checked_at),
        "found_at": local_iso(row.found_at, zone),
        "found_at_utc": utc_iso(row.found_at),
        "last_error": row.last_error or None,
    }


@click.command("cancel")
@click.argument("watch_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of text.")
@pass_app
def cancel_command(app: AppContext, watch_id: int, as_json: bool) -> None:
    """Cancel a watch, and stop checking its monitored route when no other active watch remains.

    \b
    Example:
        regiojet-watch cancel 12
    """
    app.bind_database()
    from watches import WatchError, cancel_watch

    try:
        row = cancel_watch(watch_id, utc_now())
    except WatchError as error:
        raise click.ClickException(str(error)) from None
    route_status = read_route_status(row.route_id)

    if as_json:
        print_json({"watch_id": row.watch_id, "status": row.status, "route_id": row.route_id, "route_status": route_status})
        return
    click.echo(f"Cancelled watch {row.watch_id} ({row.from_station_name} -> {row.to_station_name}).")
    if route_status == "cancelled":
        click.echo(f"Nobody else watches monitored route {row.route_id}; its checks have stopped.")


def read_route_status(route_id: int) -> str:
    from pony.orm import db_session

    from models import MonitoredRoute

    with db_session:
        return MonitoredRoute[route_id].status


@click.command("check")
@click.argument("watch_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of text.")
@pass_app
def check_command(app: AppContext, watch_id: int, as_json: bool) -> None:
    """Check a watch's connection now, as the worker would, and print the price classes.

    When the watch is satisfied, the route is marked found and one email per watcher is queued
    for the worker (`regiojet-watch run`) to send.

    \b
    Example:
        regiojet-watch check 12
    """
    app.bind_database()
    from watches import WatchError, get_watch

    try:
        row = get_watch(watch_id)
    except WatchError as error:
        raise click.ClickException(str(error)) from None
    if row.status != "active":
        raise click.ClickException(
            f"watch {watch_id} has ended (status {row.status}); only an active watch can be checked"
        )

    results = run_check(app, row.route_id)
    queued = queue_notifications(results)
    result = next(result for result in results if result.route_id == row.route_id)
    report_check(row, result, queued, app.settings.regiojet_currency, as_json)


def run_check(app: AppContext, route_id: int):
    from checking import check_route

    settings = app.settings
    return check_route(
        route_id,
        app.regiojet_client(),
        currency=settings.regiojet_currency,
        interval=timedelta(seconds=settings.check_interval_seconds),
        now=utc_now(),
    )


def queue_notifications(results) -> int:
    """Queue one email task per notification.

    check_route has committed the notification rows already, so a worker always finds them.
    """
    notification_ids = [notification_id for result in results for notification_id in result.notification_ids]
    if not notification_ids:
        return 0
    from tasks.notifications import send_notification_email

    for notification_id in notification_ids:
        send_notification_email(notification_id)
    return len(notification_ids)


def report_check(row, result, queued: int, currency: str, as_json: bool) -> None:
    price_classes = list(result.detail.price_classes) if result.detail is not None else []
    if as_json:
        print_json(
            {
                "watch_id": row.watch_id,
                "route_id": row.route_id,
                "outcome": result.outcome,
                "price_classes": [price_class_to_json(pc, currency) for pc in price_classes],
                "offers": [offer.to_json() for offer in result.offers],
                "emails_queued": queued,
                "error": result.error,
            }
        )
    else:
        print_check_text(row, result, price_classes, queued, currency)

    if result.outcome in ("temporary_error", "permanent_error", "postponed"):
        raise click.ClickException(f"check of watch {row.watch_id} failed: {result.error}")


def print_check_text(row, result, price_classes, queued: int, currency: str) -> None:
    click.echo(f"Watch {row.watch_id}: {row.from_station_name} -> {row.to_station_name}, "
               f"departure {local_time_text(row.departure_at, row.from_time_zone)}")
    if price_classes:
        print_table(
            ["SEAT CLASS", "FREE SEATS", "PRICE", "BOOKABLE"],
            [(pc.seat_class, pc.free_seats, format_money(pc.price, currency), "yes" if pc.bookable else "no")
             for pc in price_classes],
        )
    elif result.outcome in ("found", "no_seats"):
        click.echo("RegioJet lists no seat class with free seats.")

    if result.outcome == "found":
        click.echo(f"Seats found: {describe_offers(result.offers)}. {queued} {'email' if queued == 1 else 'emails'} queued for the worker.")
    elif result.outcome == "no_seats":
        wanted = ",".join(row.seat_classes) or "any class"
        passengers = len(row.tariffs)
        noun = "passenger" if passengers == 1 else "passengers"
        click.echo(f"Not enough seats yet for {passengers} {noun} in {wanted}; the watch stays active.")
    elif result.outcome == "skipped":
        click.echo("The monitored route is no longer active; nothing was checked.")


def price_class_to_json(price_class, currency: str) -> dict:
    return {
        "seat_class": price_class.seat_class,
        "free_seats": price_class.free_seats,
        "price": str(price_class.price),
        "currency": currency,
        "bookable": price_class.bookable,
    }

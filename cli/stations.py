"""The `stations` and `connections` commands: look up places and a day's connections."""

from datetime import date, datetime

import click

from cli.context import AppContext, regiojet_errors
from cli.lookup import resolve_endpoint, station_label, validate_tariffs
from cli.output import format_money, print_json, print_table, utc_iso
from stations import search_locations

pass_app = click.make_pass_decorator(AppContext)


@click.command("stations")
@click.argument("query")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True, help="Maximum number of matches.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@pass_app
def stations_command(app: AppContext, query: str, limit: int, as_json: bool) -> None:
    """List cities and stations whose names match QUERY, ignoring case and diacritics.

    Use the printed id, or an unambiguous name, as FROM or TO in other commands.

    \b
    Example:
        regiojet-watch stations brno
        regiojet-watch stations "praha hl"
        regiojet-watch stations Kosice --json
    """
    client = app.regiojet_client()
    with regiojet_errors("downloading the list of stations"):
        locations = client.get_locations()
    matches = search_locations(locations, query, limit=limit)

    if as_json:
        print_json([{"kind": m.kind, "id": m.id, "label": m.label, "time_zone": m.time_zone} for m in matches])
        return
    if not matches:
        raise click.ClickException(f"no city or station matches {query!r}; try a shorter part of the name")
    print_table(["KIND", "ID", "LABEL", "TIME ZONE"], [(m.kind, m.id, m.label, m.time_zone) for m in matches])


@click.command("connections")
@click.argument("from_query", metavar="FROM")
@click.argument("to_query", metavar="TO")
@click.argument("day", metavar="DATE", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option(
    "--tariff",
    "tariffs",
    multiple=True,
    metavar="KEY",
    help="Passenger tariff, given once per passenger (default: one REGULAR). Prices are for the whole party.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@pass_app
def connections_command(app: AppContext, from_query: str, to_query: str, day: datetime, tariffs: tuple[str, ...], as_json: bool) -> None:
    """List the connections from FROM to TO that leave on DATE (YYYY-MM-DD, local time).

    FROM and TO are names or ids from `stations`; a city searches all of its stations.

    \b
    Example:
        regiojet-watch connections Praha Brno 2026-12-05
        regiojet-watch connections 372825000 "Brno hl.n." 2026-12-05 --tariff REGULAR --tariff CHILD_UNDER_12
    """
    client = app.regiojet_client()
    with regiojet_errors("searching connections"):
        passengers = validate_tariffs(client, tariffs)
        locations = client.get_locations()
        origin = resolve_endpoint(locations, from_query, "'FROM'")
        destination = resolve_endpoint(locations, to_query, "'TO'")
        routes = client.search_routes(origin.id, origin.kind, destination.id, destination.kind, day.date(), passengers)

    currency = app.settings.regiojet_currency
    rows = [connection_row(locations, route, currency) for route in routes]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(f"No connections from {origin.label} to {destination.label} on {day.date().isoformat()}.")
        return
    print_table(
        ["DEPARTURE", "ARRIVAL", "FROM", "TO", "TRANSFERS", "FREE SEATS", "PRICE FROM", "ROUTE ID"],
        [
            (
                row["departure"][11:16],
                arrival_text(row, day.date()),
                row["from_station"],
                row["to_station"],
                row["transfers"],
                row["free_seats"],
                format_money(row["price_from"], currency),
                row["route_id"] + (" (support)" if row["support"] else ""),
            )
            for row in rows
        ],
    )


def connection_row(locations, route, currency: str) -> dict:
    """Describe one search result with local times (the offsets RegioJet sent) and UTC times."""
    return {
        "route_id": route.route_id,
        "departure": route.departure_time.isoformat(),
        "departure_utc": utc_iso(route.departure_time),
        "arrival": route.arrival_time.isoformat(),
        "arrival_utc": utc_iso(route.arrival_time),
        "from_station_id": route.departure_station_id,
        "from_station": station_label(locations, route.departure_station_id),
        "to_station_id": route.arrival_station_id,
        "to_station": station_label(locations, route.arrival_station_id),
        "transfers": route.transfers_count,
        "free_seats": route.free_seats,
        "price_from": route.price_from,
        "currency": currency,
        "bookable": route.bookable,
        "support": route.support,
        "travel_time": route.travel_time,
    }


def arrival_text(row: dict, day: date) -> str:
    """Show the arrival time, with its date when the connection arrives on a later day."""
    arrival = datetime.fromisoformat(row["arrival"])
    if arrival.date() == day:
        return arrival.strftime("%H:%M")
    return arrival.strftime("%Y-%m-%d %H:%M")

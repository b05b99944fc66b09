"""Printing for the commands: aligned text tables, JSON, and time formatting."""

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Sequence

import click

from timeutil import to_local


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=json_default))


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows under headers with columns padded to their widest cell."""
    cells = [[format_cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row)]

    click.echo(format_row(headers, widths))
    click.echo(format_row(["-" * width for width in widths], widths))
    for row in cells:
        click.echo(format_row(row, widths))


def format_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()


def format_cell(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def format_money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return "-"
    return f"{amount} {currency}"


def local_time_text(moment: datetime | None, time_zone: str) -> str | None:
    """Format a naive UTC datetime as wall-clock time in `time_zone`, e.g. `2026-12-05 14:50`."""
    if moment is None:
        return None
    return to_local(moment, time_zone).strftime("%Y-%m-%d %H:%M")


def local_iso(moment: datetime | None, time_zone: str) -> str | None:
    """Format a naive UTC datetime as ISO 8601 with the offset of `time_zone`."""
    if moment is None:
        return None
    return to_local(moment, time_zone).isoformat()


def utc_iso(moment: datetime | None) -> str | None:
    """Format a naive UTC or an aware datetime as ISO 8601 in UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def describe_offers(offers) -> str:
    """Summarize offers in one line: `C1: 3 free, 398 CZK; C0: 12 free, 298 CZK`."""
    return "; ".join(
        f"{offer.seat_class}: {offer.free_seats} free, {format_money(offer.price, offer.currency)}" for offer in offers
    )

"""Lookups against RegioJet that several commands share: locations, tariffs, seat classes."""

from typing import Sequence

import click

from regiojet_client import Locations, RegioJetClient, Station
from stations import LocationError, LocationMatch, resolve_location

DEFAULT_TARIFF = "REGULAR"


def resolve_endpoint(locations: Locations, query: str, param_name: str) -> LocationMatch:
    """Resolve a FROM or TO argument to a city or station, or raise a usage error naming it."""
    try:
        return resolve_location(locations, query)
    except LocationError as error:
        raise click.BadParameter(str(error), param_hint=param_name) from None


def validate_tariffs(client: RegioJetClient, tariffs: Sequence[str]) -> list[str]:
    """Return the tariffs, one per passenger (default one REGULAR), after checking each key."""
    # RegioJet's keys are upper case; accept `regular` as a user would type it.
    keys = [tariff.strip().upper() for tariff in tariffs] or [DEFAULT_TARIFF]
    valid = [tariff.key for tariff in client.get_tariffs()]
    check_keys(keys, valid, "--tariff", "tariff")
    return keys


def validate_seat_classes(client: RegioJetClient, seat_classes: Sequence[str]) -> list[str]:
    keys = [seat_class.strip().upper() for seat_class in seat_classes]
    if keys:
        valid = [seat_class.key for seat_class in client.get_seat_classes()]
        check_keys(keys, valid, "--seat-class", "seat class")
    return keys


def check_keys(keys: Sequence[str], valid: Sequence[str], option: str, noun: str) -> None:
    for key in keys:
        if key not in valid:
            raise click.BadParameter(
                f"unknown {noun} {key!r}; valid keys: {', '.join(valid)}", param_hint=f"'{option}'"
            )


def station_label(locations: Locations, station_id: int) -> str:
    """Return a station's display label such as `Praha hl.n.`, or its id if the tree lacks it."""
    station = locations.station(station_id)
    if station is None:
        return str(station_id)
    return LocationMatch("STATION", station.id, locations.city(station.city_id), station).label


def station_time_zone(locations: Locations, station_id: int, fallback: str) -> str:
    station: Station | None = locations.station(station_id)
    return station.time_zone if station is not None else fallback

"""Generate the fake timetable: sections (one train or bus run) and connections with transfers.

Everything derives from the seed and the first service day, so two servers with the same seed
started on the same day serve the same ids and seats.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fake_regiojet import data

DAYS = 30
# Share of sections that start sold out in every class, and of classes sold out on other sections.
SOLD_OUT_SECTION_SHARE = 0.12
SOLD_OUT_CLASS_SHARE = 0.15

STATIONS: dict[int, data.FakeStation] = {
    station.id: station
    for country in data.COUNTRIES
    for city in country.cities
    for station in city.stations
}
CITY_OF_STATION: dict[int, data.FakeCity] = {
    station.id: city for country in data.COUNTRIES for city in country.cities for station in city.stations
}
CITIES: dict[int, data.FakeCity] = {city.id: city for country in data.COUNTRIES for city in country.cities}


@dataclass
class Stop:
    station_id: int
    time: datetime  # aware, in the station's zone; arrival and departure are the same in the fake


@dataclass
class Section:
    """One run of a line on one day; its id is also the route id of every direct connection on it."""

    id: int
    line: data.Line
    stops: list[Stop]
    capacity: dict[str, int]
    free_seats: dict[str, int] = field(default_factory=dict)

    def stop_index(self, station_id: int) -> int | None:
        for index, stop in enumerate(self.stops):
            if stop.station_id == station_id:
                return index
        return None


@dataclass
class Connection:
    """A route id with its sections; a direct connection has one section."""

    route_id: str
    sections: list[Section]

    @property
    def first_stop(self) -> Stop:
        return self.sections[0].stops[0]

    @property
    def last_stop(self) -> Stop:
        return self.sections[-1].stops[-1]


def local_today() -> date:
    return datetime.now(ZoneInfo(data.PRAGUE)).date()


def _section_stops(line: data.Line, day: date, departure: str) -> list[Stop]:
    hours, minutes = (int(part) for part in departure.split(":"))
    first_zone = ZoneInfo(STATIONS[line.stops[0][0]].time_zone)
    start = datetime.combine(day, time(hours, minutes), first_zone)
    stops = []
    for station_id, offset in line.stops:
        zone = ZoneInfo(STATIONS[station_id].time_zone)
        # Add the offset in UTC so a run across a DST change keeps its real duration.
        stops.append(Stop(station_id, (start.astimezone(ZoneInfo("UTC")) + timedelta(minutes=offset)).astimezone(zone)))
    return stops


def _initial_seats(rng: random.Random, capacity: dict[str, int]) -> dict[str, int]:
    if rng.random() < SOLD_OUT_SECTION_SHARE:
        return {key: 0 for key in capacity}
    seats = {}
    for key, size in capacity.items():
        seats[key] = 0 if rng.random() < SOLD_OUT_CLASS_SHARE else rng.randint(1, size)
    return seats


def _transfer_connections(sections: list[Section], by_line_day: dict) -> list[Connection]:
    connections = []
    for first_code, first_departure, second_code, minimum_change in data.TRANSFERS:
        for (code, day, departure), first in by_line_day.items():
            if code != first_code or departure != first_departure:
                continue
            change_station = first.stops[-1].station_id
            ready_at = first.stops[-1].time + timedelta(minutes=minimum_change)
            candidates = [
                section
                for section in sections
                if section.line.code == second_code
                and section.stops[0].station_id == change_station
                and section.stops[0].time >= ready_at
            ]
            if candidates:
                second = min(candidates, key=lambda section: section.stops[0].time)
                connections.append(Connection(f"{first.id},{second.id}", [first, second]))
    return connections


def bench_departures(line: data.Line, every_minutes: int) -> tuple[str, ...]:
    """Departures every `every_minutes` through the day, on the minute of the line's first departure."""
    first_minute = int(line.departures[0].split(":")[1]) % every_minutes
    return tuple(f"{minute // 60:02d}:{minute % 60:02d}" for minute in range(first_minute, 24 * 60, every_minutes))


def generate(
    seed: int,
    first_day: date | None = None,
    departure_every_minutes: int | None = None,
    all_sold_out: bool = False,
) -> dict[str, Connection]:
    """Build every connection of DAYS days from `first_day` (today in Prague by default).

    `departure_every_minutes` replaces each line's departures with a denser plan, for benchmarks
    that need tens of thousands of connections; `all_sold_out` starts every class with no free seat.
    """
    rng = random.Random(seed)
    first_day = first_day or local_today()
    next_id = 5_500_000_000 + rng.randrange(0, 400_000_000, 1000)

    sections: list[Section] = []
    by_line_day: dict[tuple[str, date, str], Section] = {}
    for day_index in range(DAYS):
        day = first_day + timedelta(days=day_index)
        for line in data.LINES:
            departures = line.departures
            if departure_every_minutes is not None:
                departures = bench_departures(line, departure_every_minutes)
            for departure in departures:
                capacity = {key: size for key, (size, _) in line.seat_classes.items()}
                next_id += rng.randint(3, 97)
                section = Section(next_id, line, _section_stops(line, day, departure), capacity)
                section.free_seats = _initial_seats(rng, capacity)
                if all_sold_out:
                    section.free_seats = {key: 0 for key in capacity}
                sections.append(section)
                by_line_day[(line.code, day, departure)] = section

    connections = {str(section.id): Connection(str(section.id), [section]) for section in sections}
    for connection in _transfer_connections(sections, by_line_day):
        connections[connection.route_id] = connection
    return connections

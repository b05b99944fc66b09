"""The fake RegioJet API without the network: state, request routing and response bodies.

`FakeApi.handle` turns one parsed request into a `Reply`; the HTTP layer in `server.py` only
reads requests and writes replies. All state changes go through one lock, because the control
methods are called from test threads while the server loop serves requests.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from fake_regiojet import data
from fake_regiojet.timetable import CITIES, CITY_OF_STATION, STATIONS, Connection, Section, generate

logger = logging.getLogger(__name__)

API_PREFIX = "/restapi"
CONTROL_PREFIX = "/_fake"
CZK_PER_EUR = Decimal(25)
FAULT_KINDS = ("timeout", "close", "status", "malformed_json", "html_error", "vanish", "sold_out_400")
DEFAULT_TIMEOUT_HOLD_SECONDS = 60.0
# Origins of RegioJet's own web sites; any other Origin header is rejected as the real API does.
ALLOWED_ORIGIN = re.compile(r"^https://([a-z0-9-]+\.)*regiojet\.(cz|com|sk|de|at|hu|pl|ua)$")
ROUTE_ID = re.compile(r"^\d+(,\d+)*$")
# The Czech text that older RegioJet versions sent with a 400 for a sold-out connection.
SOLD_OUT_MESSAGE = "Vybraná místa již nejsou k dispozici. Zvolte prosím jiný spoj."


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)
    # "close": drop the connection without a reply; "timeout": hold it, then drop it.
    action: str | None = None
    hold_seconds: float = 0.0


@dataclass
class Fault:
    target: str
    kind: str
    remaining: int | None
    status: int | None = None
    retry_after: str | None = None
    hold_seconds: float = DEFAULT_TIMEOUT_HOLD_SECONDS

    def matches(self, path: str) -> bool:
        if ROUTE_ID.match(self.target):
            return path in (f"/routes/{self.target}/simple", f"{API_PREFIX}/routes/{self.target}/simple")
        relative = path[len(API_PREFIX):] if path.startswith(API_PREFIX) else path
        return fnmatch.fnmatchcase(relative, self.target) or fnmatch.fnmatchcase(path, self.target)

    def as_json(self) -> dict:
        return {
            "target": self.target,
            "kind": self.kind,
            "count": self.remaining,
            "status": self.status,
            "retryAfter": self.retry_after,
            "holdSeconds": self.hold_seconds,
        }


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, default=_json_default).encode("utf-8")
    return Reply(status, body, headers=headers or {})


def error_reply(status: int, message: str, fields: dict[str, Any] | None = None) -> Reply:
    error_fields = [{"key": key, "value": str(value)} for key, value in (fields or {}).items()]
    return json_reply(status, {"message": message, "errorFields": error_fields})


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


class BadRequest(Exception):
    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.reply = error_reply(400, message, fields)


def _lang_is_czech(lang: str) -> bool:
    return lang in data.CZECH_NAME_LANGS


def _station_name(station_id: int, lang: str) -> str:
    station = STATIONS[station_id]
    return station.name_cs if _lang_is_czech(lang) else station.name_en


def _city_name(city: data.FakeCity, lang: str) -> str:
    return city.name_cs if _lang_is_czech(lang) else city.name_en


def _time(value) -> str:
    return value.isoformat(timespec="milliseconds")


def _travel_time(duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}\u00a0h"


class FakeApi:
    """State and request handling of the fake RegioJet API."""

    def __init__(
        self,
        seed: int = 1,
        latency_ms: float = 0,
        first_day: date | None = None,
        departure_every_minutes: int | None = None,
        all_sold_out: bool = False,
        record_request_times: bool = False,
    ) -> None:
        self.seed = seed
        # Off by default: the times of every request grow without bound in a long-running server.
        self.record_request_times = record_request_times
        self.departure_every_minutes = departure_every_minutes
        self.all_sold_out = all_sold_out
        self.initial_latency_ms = latency_ms
        self.first_day = first_day
        self._lock = threading.Lock()
        self._constants_cache: dict[tuple[str, str], bytes] = {}
        self.reset()

    # -- control -------------------------------------------------------------

    def reset(self) -> None:
        """Restore the start state: seats, vanished routes, faults, latency and request counts."""
        connections = generate(self.seed, self.first_day, self.departure_every_minutes, self.all_sold_out)
        with self._lock:
            self.connections = connections
            self._by_first_day: dict[date, list[Connection]] = {}
            for connection in connections.values():
                self._by_first_day.setdefault(connection.first_stop.time.date(), []).append(connection)
            self.vanished: set[str] = set()
            self.faults: list[Fault] = []
            self.latency_ms = self.initial_latency_ms
            self.request_counts: Counter[str] = Counter()
            self.request_times: defaultdict[str, list[float]] = defaultdict(list)

    def reset_requests(self) -> None:
        with self._lock:
            self.request_counts = Counter()
            self.request_times = defaultdict(list)

    def set_latency(self, ms: float) -> None:
        if ms < 0:
            raise ValueError(f"Invalid latency {ms!r} ms: use 0 or more")
        with self._lock:
            self.latency_ms = float(ms)

    def connection(self, route_id: str) -> Connection:
        connection = self.connections.get(str(route_id))
        if connection is None:
            raise KeyError(f"Unknown fake route id {route_id!r}: list ids with routes() or GET /_fake/routes")
        return connection

    def set_free_seats(self, route_id: str, seats: dict[str, int]) -> dict[str, int]:
        """Set free seats per seat class on every section of a connection; other classes keep theirs."""
        connection = self.connection(route_id)
        for key, count in seats.items():
            if not isinstance(count, int) or count < 0:
                raise ValueError(f"Invalid seat count {count!r} for {key}: use an integer of 0 or more")
            for section in connection.sections:
                if key not in section.capacity:
                    raise ValueError(
                        f"Seat class {key!r} does not exist on route {route_id}: "
                        f"use one of {sorted(section.capacity)}"
                    )
        with self._lock:
            for section in connection.sections:
                section.free_seats.update(seats)
        return self.free_seats(route_id)

    def sell_out(self, route_id: str) -> dict[str, int]:
        connection = self.connection(route_id)
        return self.set_free_seats(route_id, {key: 0 for key in connection.sections[0].capacity})

    def free_seats(self, route_id: str) -> dict[str, int]:
        """Free seats per class of a connection, each capped by its tightest section."""
        return _connection_seats(self.connection(route_id))

    def vanish(self, route_id: str) -> None:
        self.connection(route_id)
        with self._lock:
            self.vanished.add(str(route_id))

    def set_fault(
        self,
        target: str,
        kind: str,
        count: int | None = None,
        status: int | None = None,
        retry_after: str | float | None = None,
        hold_seconds: float = DEFAULT_TIMEOUT_HOLD_SECONDS,
    ) -> None:
        """Make requests matching `target` (a route id or a path glob) fail in the given way.

        `count` limits how many requests fail; None means every one until clear_faults().
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"Invalid fault kind {kind!r}: use one of {', '.join(FAULT_KINDS)}")
        if kind == "status" and (status is None or not 100 <= int(status) <= 599):
            raise ValueError(f"Invalid status {status!r} for a 'status' fault: give an HTTP code such as 503")
        if kind == "vanish":
            self.vanish(target)
            return
        fault = Fault(
            target=str(target),
            kind=kind,
            remaining=count,
            status=int(status) if status is not None else None,
            retry_after=None if retry_after is None else str(retry_after),
            hold_seconds=float(hold_seconds),
        )
        with self._lock:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults = []

    def requests_made(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self.request_counts)
            times = {path: list(values) for path, values in self.request_times.items()}
        summary: dict[str, Any] = {"total": sum(counts.values()), "paths": counts}
        if self.record_request_times:
            # Unix times of each path's requests, for measuring how often each connection is requested.
            summary["times"] = times
        return summary

    def routes(self, day: date | None = None) -> list[dict]:
        """Describe connections (ids, stops, times, seats) so a test can pick one."""
        with self._lock:
            connections = list(self.connections.values())
        if day is not None:
            connections = [c for c in connections if c.first_stop.time.date() == day]
        connections.sort(key=lambda connection: (connection.first_stop.time, connection.route_id))
        return [self._describe(connection) for connection in connections]

    def _describe(self, connection: Connection) -> dict:
        return {
            "id": connection.route_id,
            "sectionIds": [section.id for section in connection.sections],
            "lineCodes": [section.line.code for section in connection.sections],
            "vehicleTypes": sorted({section.line.vehicle_type for section in connection.sections}),
            "support": any(section.line.support for section in connection.sections),
            "transfersCount": len(connection.sections) - 1,
            "vanished": connection.route_id in self.vanished,
            "freeSeats": _connection_seats(connection),
            "stops": [
                {
                    "stationId": stop.station_id,
                    "stationName": f"{CITY_OF_STATION[stop.station_id].name_cs} {_station_name(stop.station_id, 'cs')}",
                    "time": _time(stop.time),
                }
                for section in connection.sections
                for stop in section.stops
            ],
        }

    # -- dispatch ------------------------------------------------------------

    def latency_seconds(self, path: str) -> float:
        if path.startswith(CONTROL_PREFIX):
            return 0.0
        return self.latency_ms / 1000

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Build the reply to one request; `headers` has lower-case names."""
        split = urlsplit(target)
        path = unquote(split.path)
        query = parse_qsl(split.query, keep_blank_values=True)

        if path.startswith(CONTROL_PREFIX + "/") or path == CONTROL_PREFIX:
            return self._handle_control(method, path, query, body)

        with self._lock:
            self.request_counts[path] += 1
            if self.record_request_times:
                self.request_times[path].append(time.time())
        origin = headers.get("origin")
        if origin and not ALLOWED_ORIGIN.match(origin):
            return error_reply(403, f"Origin {origin} is not allowed")

        fault_reply = self._take_fault(path)
        if fault_reply is not None:
            return fault_reply

        if not path.startswith(API_PREFIX + "/"):
            return error_reply(404, f"No endpoint at {path}")
        if method != "GET":
            return error_reply(405, f"Method {method} is not allowed on {path}")
        try:
            return self._handle_api(path[len(API_PREFIX):], query, headers)
        except BadRequest as error:
            return error.reply

    def _handle_control(self, method: str, path: str, query: list[tuple[str, str]], body: bytes) -> Reply:
        """Serve the JSON control API under /_fake/ that tests in other processes use."""
        try:
            payload = json.loads(body) if body else {}
        except ValueError as error:
            return error_reply(400, f"Control request body is not valid JSON: {error}")
        try:
            return self._control(method, path, dict(query), payload)
        except (KeyError, ValueError, TypeError) as error:
            message = error.args[0] if error.args else str(error)
            return error_reply(404 if isinstance(error, KeyError) else 400, str(message))

    def _control(self, method: str, path: str, params: dict[str, str], payload: Any) -> Reply:
        seats = re.fullmatch(CONTROL_PREFIX + r"/routes/([^/]+)/seats", path)
        if seats and method == "PUT":
            return json_reply(200, self.set_free_seats(seats.group(1), payload))
        if seats and method == "GET":
            return json_reply(200, self.free_seats(seats.group(1)))
        sold_out = re.fullmatch(CONTROL_PREFIX + r"/routes/([^/]+)/sell-out", path)
        if sold_out and method == "POST":
            return json_reply(200, self.sell_out(sold_out.group(1)))

        if path == CONTROL_PREFIX + "/routes" and method == "GET":
            day = date.fromisoformat(params["date"]) if params.get("date") else None
            return json_reply(200, self.routes(day))
        if path == CONTROL_PREFIX + "/requests" and method == "GET":
            return json_reply(200, self.requests_made())
        if path == CONTROL_PREFIX + "/requests" and method == "DELETE":
            self.reset_requests()
            return json_reply(200, self.requests_made())
        if path == CONTROL_PREFIX + "/reset" and method == "POST":
            self.reset()
            return json_reply(200, {"reset": True})
        if path == CONTROL_PREFIX + "/latency" and method == "PUT":
            self.set_latency(float(payload["ms"]))
            return json_reply(200, {"ms": self.latency_ms})
        if path == CONTROL_PREFIX + "/faults":
            return self._control_faults(method, payload)
        return error_reply(404, f"No control endpoint {method} {path}")

    def _control_faults(self, method: str, payload: Any) -> Reply:
        if method == "POST":
            options = {
                "status": payload.get("status"),
                "retry_after": payload.get("retryAfter"),
                "hold_seconds": float(payload.get("holdSeconds", DEFAULT_TIMEOUT_HOLD_SECONDS)),
            }
            self.set_fault(payload["target"], payload["kind"], payload.get("count"), **options)
        elif method == "DELETE":
            self.clear_faults()
        elif method != "GET":
            return error_reply(405, f"Method {method} is not allowed on {CONTROL_PREFIX}/faults")
        with self._lock:
            faults = [fault.as_json() for fault in self.faults]
        return json_reply(200, faults)

    def _take_fault(self, path: str) -> Reply | None:
        with self._lock:
            fault = next((fault for fault in self.faults if fault.matches(path)), None)
            if fault is None:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
        return _fault_reply(fault)

    def _handle_api(self, path: str, query: list[tuple[str, str]], headers: dict[str, str]) -> Reply:
        lang = headers.get("x-lang", "en").lower()
        currency = headers.get("x-currency", "EUR").upper()
        if currency not in ("CZK", "EUR"):
            raise BadRequest(f"Unsupported currency {currency}", currency=currency)

        if path == "/consts/locations":
            return self._constant("locations", lang, _locations_payload)
        if path == "/consts/tariffs":
            return self._constant("tariffs", lang, _tariffs_payload)
        if path == "/consts/seatClasses":
            return self._constant("seatClasses", lang, _seat_classes_payload)
        if path == "/routes/search/simple":
            return json_reply(200, self._search(query, lang, currency))

        match = re.fullmatch(r"/routes/([^/]+)/simple", path)
        if match:
            return self._detail(match.group(1), query, lang, currency)
        return error_reply(404, f"No endpoint at {API_PREFIX}{path}")

    def _constant(self, name: str, lang: str, build) -> Reply:
        body = self._constants_cache.get((name, lang))
        if body is None:
            body = json.dumps(build(lang), ensure_ascii=False).encode("utf-8")
            self._constants_cache[(name, lang)] = body
        return Reply(200, body)

    # -- route search --------------------------------------------------------

    def _search(self, query: list[tuple[str, str]], lang: str, currency: str) -> dict:
        params = dict(query)
        tariffs = _tariffs_from(query)
        departure_date = _date_param(params, "departureDate")
        from_stations = _location_stations(params, "from")
        to_stations = _location_stations(params, "to")

        routes = []
        days = {departure_date, departure_date + timedelta(days=1)}
        with self._lock:
            for day in (departure_date - timedelta(days=1), departure_date, departure_date + timedelta(days=1)):
                for connection in self._by_first_day.get(day, ()):
                    if connection.route_id in self.vanished:
                        continue
                    segment = _find_segment(connection, from_stations, to_stations)
                    if segment is None or segment[0].time.date() not in days:
                        continue
                    routes.append(_search_route(connection, segment, tariffs, currency))
        routes.sort(key=lambda route: (route["departureTime"], route["id"]))
        return {"routes": routes, "routesMessage": None, "bannerBubbles": [], "textBubbles": []}

    # -- route detail --------------------------------------------------------

    def _detail(self, route_id: str, query: list[tuple[str, str]], lang: str, currency: str) -> Reply:
        connection = self.connections.get(route_id)
        if connection is None or route_id in self.vanished:
            return error_reply(404, f"Connection {route_id} not found.")

        params = dict(query)
        tariffs = _tariffs_from(query)
        from_id = _int_param(params, "fromStationId")
        to_id = _int_param(params, "toStationId")
        segment = _find_segment(connection, {from_id}, {to_id})
        if segment is None:
            raise BadRequest(
                f"Stations {from_id} and {to_id} are not stops of connection {route_id} in this order.",
                fromStationId=from_id,
                toStationId=to_id,
            )
        with self._lock:
            payload = _detail_payload(connection, segment, tariffs, lang, currency)
        return json_reply(200, payload)


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------


def _fault_reply(fault: Fault) -> Reply:
    if fault.kind == "timeout":
        return Reply(0, action="timeout", hold_seconds=fault.hold_seconds)
    if fault.kind == "close":
        return Reply(0, action="close")
    if fault.kind == "malformed_json":
        return Reply(200, b'{"routes": [{"id": "55', headers={})
    if fault.kind == "html_error":
        status = fault.status or 503
        page = f"<html><head><title>{status}</title></head><body><h1>Service unavailable</h1></body></html>"
        return Reply(status, page.encode("utf-8"), content_type="text/html; charset=utf-8")
    if fault.kind == "sold_out_400":
        return error_reply(400, SOLD_OUT_MESSAGE)
    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
    reply = error_reply(fault.status, f"Fake fault: HTTP {fault.status}")
    reply.headers.update(headers)
    return reply


# ---------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------


def _tariffs_from(query: list[tuple[str, str]]) -> list[str]:
    tariffs = [value for key, value in query if key == "tariffs"] or ["REGULAR"]
    for tariff in tariffs:
        if tariff not in data.TARIFF_SHARES:
            raise BadRequest(f"Unknown tariff {tariff}.", tariffs=tariff)
    return tariffs


def _int_param(params: dict[str, str], name: str) -> int:
    value = params.get(name)
    if value is None or not value.isdigit():
        raise BadRequest(f"Parameter {name} is missing or not a number.", **{name: value})
    return int(value)


def _date_param(params: dict[str, str], name: str) -> date:
    value = params.get(name)
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise BadRequest(f"Parameter {name} is missing or not a YYYY-MM-DD date.", **{name: value}) from None


def _location_stations(params: dict[str, str], prefix: str) -> set[int]:
    location_id = _int_param(params, f"{prefix}LocationId")
    location_type = params.get(f"{prefix}LocationType", "")
    if location_type == "CITY" and location_id in CITIES:
        return {station.id for station in CITIES[location_id].stations}
    if location_type == "STATION" and location_id in STATIONS:
        return {location_id}
    if location_type not in ("CITY", "STATION"):
        raise BadRequest(
            f"Parameter {prefix}LocationType must be CITY or STATION.",
            **{f"{prefix}LocationType": location_type},
        )
    raise BadRequest(f"Unknown location {location_id}.", **{f"{prefix}LocationId": location_id})


# ---------------------------------------------------------------------------
# Segments, seats and prices
# ---------------------------------------------------------------------------


def _find_segment(connection: Connection, from_stations: set[int], to_stations: set[int]):
    """Return (departure stop, arrival stop, per-section stop ranges) or None.

    A direct connection allows any ordered pair of its stops. A connection with a transfer
    allows departure from a stop of its first section and arrival at a stop of its last.
    """
    sections = connection.sections
    first, last = sections[0], sections[-1]
    start = next((i for i, stop in enumerate(first.stops[:-1]) if stop.station_id in from_stations), None)
    if start is None:
        return None
    lowest_end = start + 1 if len(sections) == 1 else 1
    end = next(
        (i for i in range(lowest_end, len(last.stops)) if last.stops[i].station_id in to_stations), None
    )
    if end is None:
        return None

    ranges = []
    for index, section in enumerate(sections):
        begin = start if index == 0 else 0
        finish = end if index == len(sections) - 1 else len(section.stops) - 1
        ranges.append((section, begin, finish))
    return first.stops[start], last.stops[end], ranges


def _connection_seats(connection: Connection) -> dict[str, int]:
    keys = set(connection.sections[0].capacity)
    for section in connection.sections[1:]:
        keys &= set(section.capacity)
    return {
        key: min(section.free_seats.get(key, 0) for section in connection.sections)
        for key in connection.sections[0].capacity
        if key in keys
    }


def _class_price_czk(ranges, key: str, tariffs: list[str]) -> Decimal:
    per_person = Decimal(0)
    for section, begin, finish in ranges:
        minutes = (section.stops[finish].time - section.stops[begin].time).total_seconds() / 60
        factor = section.line.seat_classes[key][1]
        per_person += Decimal(str(round(minutes * section.line.czk_per_minute * factor)))
    total = sum(
        (per_person * Decimal(str(data.TARIFF_SHARES[tariff])) for tariff in tariffs), Decimal(0)
    )
    # RegioJet's CZK fares end in 9; the fake copies that look.
    whole = int(total.to_integral_value(ROUND_HALF_UP))
    return Decimal(whole - whole % 10 + 9) if whole else Decimal(0)


def _price(czk: Decimal, currency: str) -> Decimal:
    if currency == "EUR":
        return (czk / CZK_PER_EUR).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return czk


def _price_classes(connection: Connection, ranges, tariffs: list[str], currency: str) -> list[dict]:
    classes = []
    for key, free in _connection_seats(connection).items():
        if free <= 0:
            continue  # RegioJet leaves a sold-out class out instead of listing it with zero.
        price = _price(_class_price_czk(ranges, key, tariffs), currency)
        classes.append(
            {
                "seatClassKey": key,
                "freeSeatsCount": free,
                "price": price,
                "creditPrice": max(price - (Decimal("0.2") if currency == "EUR" else Decimal(5)), Decimal(0)),
                "priceSource": f"{connection.sections[0].id}<{ranges[0][0].stops[ranges[0][1]].station_id}>",
                "customerNotifications": [],
                "actionPrice": None,
                "tariffs": list(tariffs),
                "tariffNotifications": None,
                "bookable": True,
                "services": [],
            }
        )
    return classes


def _all_prices(connection: Connection, ranges, tariffs: list[str], currency: str) -> list[Decimal]:
    return [
        _price(_class_price_czk(ranges, key, tariffs), currency) for key in _connection_seats(connection)
    ]


def _search_route(connection: Connection, segment, tariffs: list[str], currency: str) -> dict:
    departure, arrival, ranges = segment
    price_classes = _price_classes(connection, ranges, tariffs, currency)
    prices = [item["price"] for item in price_classes] or _all_prices(connection, ranges, tariffs, currency)
    free = sum(item["freeSeatsCount"] for item in price_classes)
    return {
        "id": connection.route_id,
        "departureStationId": departure.station_id,
        "departureTime": _time(departure.time),
        "arrivalStationId": arrival.station_id,
        "arrivalTime": _time(arrival.time),
        "vehicleTypes": sorted({section.line.vehicle_type for section in connection.sections}),
        "transfersCount": len(connection.sections) - 1,
        "freeSeatsCount": free,
        "priceFrom": min(prices),
        "priceTo": max(prices),
        "creditPriceFrom": min(prices),
        "creditPriceTo": max(prices),
        "pricesCount": len(price_classes),
        "actionPrice": False,
        "surcharge": False,
        "notices": False,
        "support": any(section.line.support for section in connection.sections),
        "nationalTrip": _national(departure.station_id, arrival.station_id),
        "bookable": free > 0,
        "delay": None,
        "travelTime": _travel_time(arrival.time - departure.time),
        "vehicleStandardKey": "YELLOW",
    }


def _national(from_station: int, to_station: int) -> bool:
    return CITY_OF_STATION[from_station].country_code == CITY_OF_STATION[to_station].country_code


def _place(station_id: int, lang: str, prefix: str) -> dict:
    city = CITY_OF_STATION[station_id]
    return {
        f"{prefix}StationId": station_id,
        f"{prefix}StationName": _station_name(station_id, lang),
        f"{prefix}CityId": city.id,
        f"{prefix}CityName": _city_name(city, lang),
    }


def _section_payload(section: Section, begin: int, finish: int, lang: str) -> dict:
    departure, arrival = section.stops[begin], section.stops[finish]
    first_city = CITY_OF_STATION[section.stops[0].station_id]
    last_city = CITY_OF_STATION[section.stops[-1].station_id]
    return {
        "id": section.id,
        "vehicleStandardKey": "YELLOW",
        "support": section.line.support,
        "supportCode": "P" if section.line.support else "",
        "vehicleType": section.line.vehicle_type,
        "fixedSeatReservation": True,
        "line": {"id": 5_507_000_000 + data.LINES.index(section.line), "code": section.line.code,
                 "from": _city_name(first_city, lang), "to": _city_name(last_city, lang)},
        **_place(departure.station_id, lang, "departure"),
        "departureTime": _time(departure.time),
        "departurePlatform": None,
        **_place(arrival.station_id, lang, "arrival"),
        "arrivalTime": _time(arrival.time),
        "arrivalPlatform": None,
        "freeSeatsCount": sum(section.free_seats.values()),
        "notices": None,
        "services": [],
        "delay": None,
        "travelTime": _travel_time(arrival.time - departure.time),
        "estimatedArrivalTime": _time(arrival.time),
    }


def _detail_payload(connection: Connection, segment, tariffs: list[str], lang: str, currency: str) -> dict:
    departure, arrival, ranges = segment
    price_classes = _price_classes(connection, ranges, tariffs, currency)
    prices = [item["price"] for item in price_classes]
    transfers = None
    if len(connection.sections) > 1:
        transfers = [
            {"duration": _travel_time(nxt.stops[0].time - prev.stops[-1].time), "stationId": prev.stops[-1].station_id}
            for prev, nxt in zip(connection.sections, connection.sections[1:])
        ]
    return {
        "id": connection.route_id,
        "mainSectionId": connection.sections[0].id,
        **_place(departure.station_id, lang, "departure"),
        "departureTime": _time(departure.time),
        **_place(arrival.station_id, lang, "arrival"),
        "arrivalTime": _time(arrival.time),
        "freeSeatsCount": sum(item["freeSeatsCount"] for item in price_classes),
        "priceFrom": min(prices) if prices else None,
        "priceTo": max(prices) if prices else None,
        "creditPriceFrom": min(prices) if prices else None,
        "creditPriceTo": max(prices) if prices else None,
        "vehicleTypes": sorted({section.line.vehicle_type for section in connection.sections}),
        "priceClasses": price_classes,
        "surcharge": None,
        "sections": [_section_payload(section, begin, finish, lang) for section, begin, finish in ranges],
        "notices": False,
        "transfersInfo": transfers,
        "nationalTrip": _national(departure.station_id, arrival.station_id),
        "bookable": bool(price_classes),
        "delay": None,
        "travelTime": _travel_time(arrival.time - departure.time),
    }


# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------


def _locations_payload(lang: str) -> list[dict]:
    countries = []
    for country in data.COUNTRIES:
        cities = []
        for city in country.cities:
            city_name = _city_name(city, lang)
            aliases = [city.aliases] if isinstance(city.aliases, str) else list(city.aliases)
            stations = [
                {
                    "id": station.id,
                    "name": _station_name(station.id, lang),
                    "fullname": f"{city_name} - {_station_name(station.id, lang)}",
                    "aliases": list(station.aliases),
                    "address": None,
                    "stationsTypes": list(station.types),
                    "iataCode": None,
                    "stationUrl": None,
                    "stationTimeZoneCode": station.time_zone,
                    "wheelChairPlatform": None,
                    "significance": station.significance,
                    "longitude": None,
                    "latitude": None,
                    "imageUrl": None,
                    "cisNumber": None,
                    "sr70Number": None,
                }
                for station in city.stations
            ]
            types = sorted({kind for station in city.stations for kind in station.types})
            cities.append(
                {"id": city.id, "name": city_name, "aliases": aliases, "stationsTypes": types, "stations": stations}
            )
        name = country.name_cs if _lang_is_czech(lang) else country.name_en
        countries.append({"country": name, "code": country.code, "cities": cities})
    return countries


def _tariffs_payload(lang: str) -> list[dict]:
    return [{"key": key, "value": title_cs if _lang_is_czech(lang) else title_en} for key, title_cs, title_en, _ in data.TARIFFS]


def _seat_classes_payload(lang: str) -> list[dict]:
    return [
        {
            "key": key,
            "vehicleClass": vehicle_class,
            "title": title_cs if _lang_is_czech(lang) else title_en,
            "shortDescription": None,
            "description": None,
            "imageUrl": None,
            "galleryUrl": None,
        }
        for key, vehicle_class, title_cs, title_en in data.SEAT_CLASSES
    ]

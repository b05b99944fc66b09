"""Client for RegioJet's public REST API: locations, tariffs, seat classes, route search and detail.

The base URL is always passed in by the caller, so nothing here points at a real host by default.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from importlib import metadata
from typing import Any
from urllib.parse import quote

import requests

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (3.05, 10)
PROJECT_URL = "https://github.com/regiojet-watch/regiojet-watch"


def _package_version() -> str:
    try:
        return metadata.version("regiojet-watch")
    except metadata.PackageNotFoundError:
        return "dev"


USER_AGENT = f"regiojet-watch/{_package_version()} (+{PROJECT_URL})"


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class RegioJetError(Exception):
    """A failed RegioJet request, with the HTTP status and RegioJet's own message when present."""

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        api_message: str | None = None,
        url_path: str = "",
    ) -> None:
        self.description = description
        self.status = status
        self.api_message = api_message
        self.url_path = url_path
        super().__init__(str(self))

    def __str__(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no HTTP status"
        text = f"RegioJet request {self.url_path} failed ({status}): {self.description}"
        if self.api_message:
            text += f"; RegioJet says: {self.api_message}"
        return " ".join(text.split())


class TemporaryRegioJetError(RegioJetError):
    """A failure worth retrying later: timeout, connection error, 5xx, 429 or an unreadable body."""

    def __init__(self, description: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(description, **kwargs)


class PermanentRegioJetError(RegioJetError):
    """A 4xx other than 429: the request is invalid or the connection no longer exists."""


class SoldOutError(RegioJetError):
    """A 400 whose message states that the seats are no longer available, so the connection has no seats."""


# Sold-out wording of a route-detail 400, matched after casefolding and stripping diacritics.
# The Czech form is "Místa již nejsou k dispozici" and the Slovak one "Miesta už nie sú k
# dispozícii". The other patterns cover "vyprodáno"/"vypredané", "sold out" and English texts.
SOLD_OUT_PATTERNS = tuple(
    re.compile(pattern)
    for pattern in (
        r"\bvyprodan",  # cs: vyprodáno, vyprodaný
        r"\bvypredan",  # sk: vypredané
        r"\bsold[ -]?out\b",
        r"\b(mist[oa]?|miest[oa]?|sedadl[oa]?|sedadiel)\b.{0,40}"
        r"\b(nejsou|neni|nie su|nie je|uz nie)\b.{0,40}\b(k dispozici|k dispozicii|voln|dostupn)",
        r"\b(nedostatek|nedostatok)\b.{0,20}\b(mist|miest|sedadel|sedadiel)\b",
        r"\b(seats?|places?)\b.{0,40}\b(no longer|not|un)\s*available\b",
        r"\bno (free |available )?(seats?|places?)\b",
        r"\bnot enough (free )?(seats?|places?)\b",
    )
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def is_sold_out_message(message: str | None) -> bool:
    """Check whether a RegioJet error message reports sold-out seats (Czech, Slovak or English)."""
    if not message:
        return False
    folded = " ".join(_fold(message).split())
    return any(pattern.search(folded) for pattern in SOLD_OUT_PATTERNS)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Station:
    id: int
    name: str
    fullname: str
    city_id: int
    city_name: str
    country_code: str
    aliases: tuple[str, ...]
    time_zone: str
    significance: int


@dataclass(frozen=True)
class City:
    id: int
    name: str
    country_code: str
    aliases: tuple[str, ...]
    stations: tuple[Station, ...]


@dataclass(frozen=True)
class Locations:
    """RegioJet's whole location tree, flattened to cities, with lookup by id."""

    cities: tuple[City, ...]

    def __post_init__(self) -> None:
        # The dataclass is frozen, so the indexes are set through object.__setattr__.
        object.__setattr__(self, "_cities_by_id", {city.id: city for city in self.cities})
        stations = {station.id: station for city in self.cities for station in city.stations}
        object.__setattr__(self, "_stations_by_id", stations)

    def station(self, station_id: int) -> Station | None:
        return self._stations_by_id.get(int(station_id))

    def city(self, city_id: int) -> City | None:
        return self._cities_by_id.get(int(city_id))

    def stations(self) -> Iterator[Station]:
        for city in self.cities:
            yield from city.stations


@dataclass(frozen=True)
class Tariff:
    key: str
    title: str


@dataclass(frozen=True)
class SeatClass:
    key: str
    title: str
    vehicle_class: str


@dataclass(frozen=True)
class RouteSummary:
    """One connection from a route search."""

    route_id: str
    departure_station_id: int
    arrival_station_id: int
    departure_time: datetime
    arrival_time: datetime
    transfers_count: int
    free_seats: int
    price_from: Decimal | None
    price_to: Decimal | None
    bookable: bool
    vehicle_types: tuple[str, ...]
    support: bool
    travel_time: str


@dataclass(frozen=True)
class PriceClass:
    """One seat class on sale for a segment; `price` is for all passengers together."""

    seat_class: str
    free_seats: int
    price: Decimal
    bookable: bool
    tariffs: tuple[str, ...]


@dataclass(frozen=True)
class RouteDetail:
    """One connection's segment with the seat classes on sale; sold-out classes are absent."""

    route_id: str
    departure_station_id: int
    arrival_station_id: int
    departure_time: datetime
    arrival_time: datetime
    free_seats: int
    bookable: bool
    price_classes: tuple[PriceClass, ...]
    departure_city_name: str
    departure_station_name: str
    arrival_city_name: str
    arrival_station_name: str
    transfers_count: int


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


def _split_aliases(raw: Any) -> tuple[str, ...]:
    # RegioJet sometimes packs several aliases into one comma-joined string.
    if not raw:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    aliases = []
    for item in items:
        aliases.extend(part.strip() for part in str(item).split(",") if part.strip())
    return tuple(aliases)


def _decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _text(value: Any) -> str:
    return "" if value is None else str(value).replace("\xa0", " ")


def parse_station(raw: dict, city_id: int, city_name: str, country_code: str) -> Station:
    return Station(
        id=int(raw["id"]),
        name=_text(raw.get("name")),
        fullname=_text(raw.get("fullname")) or f"{city_name} - {_text(raw.get('name'))}",
        city_id=city_id,
        city_name=city_name,
        country_code=country_code,
        aliases=_split_aliases(raw.get("aliases")),
        time_zone=raw.get("stationTimeZoneCode") or "",
        significance=int(raw.get("significance") or 0),
    )


def parse_locations(raw: list) -> Locations:
    """Parse the `/consts/locations` tree (countries, cities, stations)."""
    cities = []
    for country in raw:
        country_code = country.get("code") or ""
        for raw_city in country.get("cities") or ():
            city_id = int(raw_city["id"])
            city_name = _text(raw_city.get("name"))
            stations = tuple(
                parse_station(raw_station, city_id, city_name, country_code)
                for raw_station in raw_city.get("stations") or ()
            )
            cities.append(
                City(
                    id=city_id,
                    name=city_name,
                    country_code=country_code,
                    aliases=_split_aliases(raw_city.get("aliases")),
                    stations=stations,
                )
            )
    return Locations(cities=tuple(cities))


def parse_tariffs(raw: list) -> tuple[Tariff, ...]:
    # RegioJet names the title field `value`; `title` is accepted too.
    return tuple(Tariff(key=item["key"], title=_text(item.get("value", item.get("title")))) for item in raw)


def parse_seat_classes(raw: list) -> tuple[SeatClass, ...]:
    return tuple(
        SeatClass(
            key=item["key"],
            title=_text(item.get("title")).strip(),
            vehicle_class=str(item.get("vehicleClass") or ""),
        )
        for item in raw
    )


def parse_route_summary(raw: dict) -> RouteSummary:
    return RouteSummary(
        route_id=str(raw["id"]),
        departure_station_id=int(raw["departureStationId"]),
        arrival_station_id=int(raw["arrivalStationId"]),
        departure_time=datetime.fromisoformat(raw["departureTime"]),
        arrival_time=datetime.fromisoformat(raw["arrivalTime"]),
        transfers_count=int(raw.get("transfersCount") or 0),
        free_seats=int(raw.get("freeSeatsCount") or 0),
        price_from=_decimal_or_none(raw.get("priceFrom")),
        price_to=_decimal_or_none(raw.get("priceTo")),
        bookable=bool(raw.get("bookable")),
        vehicle_types=tuple(raw.get("vehicleTypes") or ()),
        support=bool(raw.get("support")),
        travel_time=_text(raw.get("travelTime")),
    )


def parse_route_search(raw: dict) -> list[RouteSummary]:
    """Parse a `/routes/search/simple` body into summaries, every day it spans included."""
    return [parse_route_summary(route) for route in raw.get("routes") or ()]


def parse_price_class(raw: dict) -> PriceClass:
    return PriceClass(
        seat_class=raw["seatClassKey"],
        free_seats=int(raw.get("freeSeatsCount") or 0),
        price=Decimal(str(raw["price"])),
        bookable=bool(raw.get("bookable")),
        tariffs=tuple(raw.get("tariffs") or ()),
    )


def parse_route_detail(raw: dict) -> RouteDetail:
    """Parse a `/routes/{id}/simple` body."""
    sections = raw.get("sections") or ()
    return RouteDetail(
        route_id=str(raw["id"]),
        departure_station_id=int(raw["departureStationId"]),
        arrival_station_id=int(raw["arrivalStationId"]),
        departure_time=datetime.fromisoformat(raw["departureTime"]),
        arrival_time=datetime.fromisoformat(raw["arrivalTime"]),
        free_seats=int(raw.get("freeSeatsCount") or 0),
        bookable=bool(raw.get("bookable")),
        price_classes=tuple(parse_price_class(item) for item in raw.get("priceClasses") or ()),
        departure_city_name=_text(raw.get("departureCityName")),
        departure_station_name=_text(raw.get("departureStationName")),
        arrival_city_name=_text(raw.get("arrivalCityName")),
        arrival_station_name=_text(raw.get("arrivalStationName")),
        transfers_count=max(len(sections) - 1, 0),
    )


def loads(text: str | bytes) -> Any:
    """Decode a RegioJet JSON body, keeping every number that has a fraction as a Decimal."""
    return json.loads(text, parse_float=Decimal)


# ---------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Convert a Retry-After header (seconds or an HTTP date) to seconds from `now`."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - now).total_seconds(), 0.0)


class RegioJetClient:
    """Talk to one RegioJet API base URL in one language and currency.

    Constants (locations, tariffs, seat classes) are cached in memory for `cache_ttl`.
    `clock` returns the aware UTC now and exists so tests can move time.
    """

    def __init__(
        self,
        base_url: str,
        lang: str = "cs",
        currency: str = "CZK",
        timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        cache_ttl: timedelta = timedelta(days=1),
        clock: Callable[[], datetime] | None = None,
        before_request: Callable[[], object] | None = None,
    ) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"Invalid RegioJet base URL {base_url!r}: give a full http(s) URL ending in /restapi"
            )
        self.base_url = base_url.rstrip("/")
        self.lang = lang
        self.currency = currency
        self.timeout = timeout
        self.cache_ttl = cache_ttl
        self.clock = clock or _utc_now
        # Called before every request. It may wait for a shared request budget or raise a RegioJetError.
        self.before_request = before_request
        if session is None:
            session = requests.Session()
            # requests reads proxy, netrc and CA bundle variables from the environment on every
            # request, which took about a sixth of a worker's CPU at 500 checks a second (py-spy
            # profile, requests 2.34). Read the proxy and CA bundle settings for the base URL once
            # here instead. Without trust_env, ~/.netrc is not read: RegioJet's API takes no login.
            environment = session.merge_environment_settings(self.base_url, {}, None, None, None)
            session.proxies.update(environment["proxies"])
            session.verify = environment["verify"]
            session.trust_env = False
        self.session = session
        self.session.headers.update(
            {
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "X-Lang": lang,
                "X-Currency": currency,
            }
        )
        self._cache: dict[str, tuple[datetime, Any]] = {}

    def __enter__(self) -> RegioJetClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    # -- constants ---------------------------------------------------------

    def get_locations(self) -> Locations:
        return self._cached("locations", lambda: parse_locations(self._get_json("/consts/locations")))

    def get_tariffs(self) -> tuple[Tariff, ...]:
        return self._cached("tariffs", lambda: parse_tariffs(self._get_json("/consts/tariffs")))

    def get_seat_classes(self) -> tuple[SeatClass, ...]:
        return self._cached(
            "seat_classes", lambda: parse_seat_classes(self._get_json("/consts/seatClasses"))
        )

    def _cached(self, key: str, fetch: Callable[[], Any]) -> Any:
        now = self.clock()
        entry = self._cache.get(key)
        if entry is not None and now - entry[0] < self.cache_ttl:
            return entry[1]

        value = fetch()
        self._cache[key] = (now, value)
        return value

    # -- routes ------------------------------------------------------------

    def search_routes(
        self,
        from_location_id: int,
        from_location_type: str,
        to_location_id: int,
        to_location_type: str,
        departure_date: date,
        tariffs: Sequence[str],
    ) -> list[RouteSummary]:
        """Search connections and keep those leaving on `departure_date` in local station time.

        RegioJet's results often run into the next day or two, so they are filtered here on the
        date of each departure in its own UTC offset.
        """
        for location_type in (from_location_type, to_location_type):
            if location_type not in ("CITY", "STATION"):
                raise ValueError(f"Invalid location type {location_type!r}: use 'CITY' or 'STATION'")
        params = [
            ("departureDate", departure_date.isoformat()),
            ("fromLocationId", str(int(from_location_id))),
            ("fromLocationType", from_location_type),
            ("toLocationId", str(int(to_location_id))),
            ("toLocationType", to_location_type),
            *self._tariff_params(tariffs),
        ]

        routes = parse_route_search(self._get_json("/routes/search/simple", params))

        return [route for route in routes if route.departure_time.date() == departure_date]

    def get_route_detail(
        self, route_id: str, from_station_id: int, to_station_id: int, tariffs: Sequence[str]
    ) -> RouteDetail:
        """Fetch one connection's segment with its price classes.

        Raises SoldOutError when RegioJet responds 400 with a sold-out message (older API versions).
        """
        route_id = str(route_id)
        # Public clients put transfer ids ("5526910231,5478291772") into the path with literal
        # commas, so only characters outside a plain id get percent-encoded.
        path = f"/routes/{quote(route_id, safe=',')}/simple"
        params = [
            ("fromStationId", str(int(from_station_id))),
            ("toStationId", str(int(to_station_id))),
            *self._tariff_params(tariffs),
        ]

        return parse_route_detail(self._get_json(path, params, detect_sold_out=True))

    @staticmethod
    def _tariff_params(tariffs: Sequence[str]) -> list[tuple[str, str]]:
        if isinstance(tariffs, str) or not tariffs:
            raise ValueError(
                f"Invalid tariffs {tariffs!r}: give a list with one tariff key per passenger, "
                "for example ['REGULAR']"
            )
        return [("tariffs", tariff) for tariff in tariffs]

    # -- HTTP --------------------------------------------------------------

    def _get_json(
        self, path: str, params: list[tuple[str, str]] | None = None, detect_sold_out: bool = False
    ) -> Any:
        url = self.base_url + path
        if self.before_request is not None:
            self.before_request()
        started = time.monotonic()
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.Timeout as error:
            raise self._log(
                TemporaryRegioJetError(f"timed out: {_without_url(error)}", url_path=path)
            ) from error
        except requests.ConnectionError as error:
            raise self._log(
                TemporaryRegioJetError(f"connection failed: {_without_url(error)}", url_path=path)
            ) from error
        except requests.RequestException as error:
            raise self._log(
                TemporaryRegioJetError(f"request failed: {_without_url(error)}", url_path=path)
            ) from error

        elapsed_ms = (time.monotonic() - started) * 1000
        logger.debug("GET %s -> %s in %.0f ms", path, response.status_code, elapsed_ms)

        if response.status_code >= 400:
            raise self._log(self._error_for(response, path, detect_sold_out))
        return self._decode(response, path)

    def _decode(self, response: requests.Response, path: str) -> Any:
        try:
            return loads(response.content)
        except ValueError as error:
            content_type = response.headers.get("Content-Type", "unknown")
            raise self._log(
                TemporaryRegioJetError(
                    f"body is not valid JSON (Content-Type {content_type}): {error}",
                    status=response.status_code,
                    url_path=path,
                )
            ) from error

    def _error_for(self, response: requests.Response, path: str, detect_sold_out: bool) -> RegioJetError:
        status = response.status_code
        api_message = _api_message(response)

        if detect_sold_out and status == 400 and is_sold_out_message(api_message):
            return SoldOutError("the connection is sold out", status=status, api_message=api_message, url_path=path)

        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self.clock())
            return TemporaryRegioJetError(
                "RegioJet is overloaded or failing, retry later",
                status=status,
                api_message=api_message,
                url_path=path,
                retry_after=retry_after,
            )
        return PermanentRegioJetError(
            "RegioJet rejected the request; the connection no longer exists or a parameter is invalid",
            status=status,
            api_message=api_message,
            url_path=path,
        )

    @staticmethod
    def _log(error: RegioJetError) -> RegioJetError:
        logger.warning("%s", error)
        return error


def _without_url(error: Exception) -> str:
    # urllib3 messages repeat the whole URL; a search query with many tariffs makes them long.
    return re.sub(r"url: \S+", "url: (omitted)", str(error))


def _api_message(response: requests.Response) -> str | None:
    try:
        body = loads(response.content)
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return None

"""Match what a traveller types ("brno", "Praha hl.n.", "Kosice", an id) to RegioJet cities and stations."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from regiojet_client import City, Locations, Station

logger = logging.getLogger(__name__)

MAX_LISTED_CANDIDATES = 8

# Letters that NFKD does not split into a base letter plus a combining mark.
_EXTRA_FOLDS = str.maketrans({"ß": "ss", "ł": "l", "đ": "d", "ø": "o", "æ": "ae", "œ": "oe", "ı": "i"})
_NON_WORD = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Fold text for matching: casefold, strip diacritics, punctuation to spaces, collapse spaces.

    "Praha hl.n." becomes "praha hl n", "Košice" becomes "kosice", "Preßburg" becomes "pressburg".
    """
    folded = text.casefold().translate(_EXTRA_FOLDS)
    decomposed = unicodedata.normalize("NFKD", folded)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_NON_WORD.sub(" ", stripped).split())


class LocationError(ValueError):
    """A location query that does not name exactly one city or station."""


class LocationNotFound(LocationError):
    def __init__(self, query: str) -> None:
        self.query = query
        super().__init__(
            f"No RegioJet city or station matches {query!r}: check the spelling, "
            "try the city name alone (for example 'Praha'), or give a numeric city or station id"
        )


class AmbiguousLocation(LocationError):
    def __init__(self, query: str, candidates: list[LocationMatch]) -> None:
        self.query = query
        self.candidates = candidates
        listed = "; ".join(
            f"{match.kind} {match.id} {match.label}" for match in candidates[:MAX_LISTED_CANDIDATES]
        )
        more = len(candidates) - MAX_LISTED_CANDIDATES
        if more > 0:
            listed += f"; and {more} more"
        super().__init__(
            f"{query!r} matches {len(candidates)} RegioJet locations ({listed}): "
            "give a longer name or one of these ids"
        )


@dataclass(frozen=True)
class LocationMatch:
    """A city or one of its stations, as a search result or a resolved query."""

    kind: Literal["CITY", "STATION"]
    id: int
    city: City
    station: Station | None

    @property
    def label(self) -> str:
        """Readable name: "Praha" for a city, "Praha hl.n." for a station."""
        if self.station is None:
            return self.city.name
        # Some station names already carry the city ("Ostrava Svinov"); don't repeat it.
        if normalize(self.station.name).startswith(normalize(self.city.name)):
            return self.station.name
        return f"{self.city.name} {self.station.name}".strip()

    @property
    def time_zone(self) -> str:
        """IANA zone name; a city takes the zone of its most significant station."""
        if self.station is not None:
            return self.station.time_zone
        if not self.city.stations:
            return ""
        return max(self.city.stations, key=lambda station: station.significance).time_zone


def _city_texts(city: City) -> list[str]:
    return [city.name, *city.aliases]


def _station_texts(station: Station) -> list[str]:
    return [station.name, station.fullname, *station.aliases]


def _tokens(texts: list[str]) -> set[str]:
    return {token for text in texts for token in normalize(text).split()}


def _matches(query_tokens: list[str], candidate_tokens: set[str]) -> bool:
    return all(
        any(token.startswith(query_token) for token in candidate_tokens) for query_token in query_tokens
    )


def _is_exact_city(city: City, normalized_query: str) -> bool:
    return any(normalize(text) == normalized_query for text in _city_texts(city))


def search_locations(locations: Locations, query: str, limit: int | None = 20) -> list[LocationMatch]:
    """Find cities and stations whose names contain every query word as a word prefix.

    `limit=None` returns every match.

    Ranking: cities whose name or alias equals the query, then stations by significance
    (highest first), then other cities, each group by name.
    """
    normalized_query = normalize(query)
    query_tokens = normalized_query.split()
    if not query_tokens:
        return []

    exact_cities: list[LocationMatch] = []
    other_cities: list[LocationMatch] = []
    stations: list[LocationMatch] = []
    for city in locations.cities:
        city_tokens = _tokens(_city_texts(city))
        if _matches(query_tokens, city_tokens):
            match = LocationMatch("CITY", city.id, city, None)
            (exact_cities if _is_exact_city(city, normalized_query) else other_cities).append(match)
        for station in city.stations:
            # A station also matches through its city's names, so "praha hl" finds Praha hl.n.
            if _matches(query_tokens, city_tokens | _tokens(_station_texts(station))):
                stations.append(LocationMatch("STATION", station.id, city, station))

    exact_cities.sort(key=lambda match: normalize(match.label))
    stations.sort(key=lambda match: (-match.station.significance, normalize(match.label)))
    other_cities.sort(key=lambda match: normalize(match.label))
    return (exact_cities + stations + other_cities)[:limit]


def _resolve_id(locations: Locations, query: str) -> LocationMatch:
    location_id = int(query)
    city = locations.city(location_id)
    if city is not None:
        return LocationMatch("CITY", city.id, city, None)

    station = locations.station(location_id)
    if station is not None:
        return LocationMatch("STATION", station.id, locations.city(station.city_id), station)
    raise LocationNotFound(query)


def resolve_location(locations: Locations, query: str) -> LocationMatch:
    """Resolve a query to exactly one city or station, or raise a LocationError.

    Digits are an id. Otherwise a query equal to a city's name or alias is that city, and a
    query that matches exactly one station is that station.
    """
    query = query.strip()
    if query.isdigit():
        return _resolve_id(locations, query)

    normalized_query = normalize(query)
    exact_cities = [city for city in locations.cities if _is_exact_city(city, normalized_query)]
    if len(exact_cities) == 1:
        return LocationMatch("CITY", exact_cities[0].id, exact_cities[0], None)

    matches = search_locations(locations, query, limit=None)
    if len(exact_cities) > 1:
        raise AmbiguousLocation(query, [match for match in matches if match.kind == "CITY"])

    station_matches = [match for match in matches if match.kind == "STATION"]
    if len(station_matches) == 1:
        return station_matches[0]
    if not matches:
        raise LocationNotFound(query)
    raise AmbiguousLocation(query, matches)

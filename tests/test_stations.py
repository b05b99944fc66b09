"""Station and city matching over a small Czech-language locations tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from regiojet_client import City, Locations, Station, parse_locations
from stations import (
    AmbiguousLocation,
    LocationError,
    LocationNotFound,
    normalize,
    resolve_location,
    search_locations,
)

FIXTURES = Path(__file__).parent / "fixtures" / "regiojet"


@pytest.fixture(scope="module")
def locations() -> Locations:
    return parse_locations(json.loads((FIXTURES / "locations_cs.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Praha hl.n.", "praha hl n"),
        ("KOŠICE", "kosice"),
        ("Preßburg", "pressburg"),
        ("Łódź", "lodz"),
        ("Đakovo", "dakovo"),
        ("Søborg", "soborg"),
        ("  Brno -  ÚAN   u hotelu Grand ", "brno uan u hotelu grand"),
        ("žel. st.", "zel st"),
    ],
)
def test_normalize_folds_text(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("query", ["brno", "Brno", "BRNO", "Brünn", "brunn"])
def test_search_puts_exact_city_first(locations, query):
    first = search_locations(locations, query)[0]

    assert first.kind == "CITY"
    assert first.id == 10202002


@pytest.mark.parametrize("query", ["Kosice", "Košice", "košice", "KOSICE"])
def test_search_ignores_diacritics(locations, query):
    first = search_locations(locations, query)[0]

    assert first.id == 10202033
    assert first.label == "Košice"


@pytest.mark.parametrize("query", ["praha hl", "PRAHA HL.N.", "Praha hl.n.", "prag hlav", "pra hl"])
def test_search_finds_main_station(locations, query):
    stations = [match for match in search_locations(locations, query) if match.kind == "STATION"]

    assert stations[0].id == 372825000
    assert stations[0].label == "Praha hl.n."


def test_search_ranks_stations_by_significance(locations):
    matches = search_locations(locations, "Praha")

    assert [match.id for match in matches] == [10202003, 372825000, 10204003, 17797000]


def test_search_matches_station_alias(locations):
    matches = search_locations(locations, "florenc")

    assert [match.id for match in matches] == [10204003]


def test_search_respects_limit(locations):
    assert len(search_locations(locations, "p", limit=2)) == 2


def test_search_empty_query_returns_nothing(locations):
    assert search_locations(locations, " .. ") == []


def test_label_keeps_station_name_with_city(locations):
    match = resolve_location(locations, "372825007")

    assert match.label == "Ostrava Svinov"


def test_city_time_zone_is_main_station_zone(locations):
    match = resolve_location(locations, "Bratislava")

    assert match.time_zone == "Europe/Bratislava"


def test_resolve_city_by_alias(locations):
    match = resolve_location(locations, "Prague")

    assert match.kind == "CITY"
    assert match.id == 10202003
    assert match.station is None


def test_resolve_city_by_comma_joined_alias(locations):
    assert resolve_location(locations, "Pressburg").id == 10202001


def test_resolve_single_station(locations):
    match = resolve_location(locations, "praha hl.n.")

    assert match.kind == "STATION"
    assert match.id == 372825000
    assert match.city.id == 10202003


def test_resolve_city_id(locations):
    match = resolve_location(locations, "10202033")

    assert match.kind == "CITY"
    assert match.label == "Košice"


def test_resolve_station_id(locations):
    match = resolve_location(locations, " 3088864001 ")

    assert match.kind == "STATION"
    assert match.label == "Brno hl.n."
    assert match.time_zone == "Europe/Prague"


def test_resolve_unknown_id_raises_not_found(locations):
    with pytest.raises(LocationNotFound, match="'123'"):
        resolve_location(locations, "123")


def test_resolve_unknown_name_raises_not_found(locations):
    with pytest.raises(LocationNotFound) as caught:
        resolve_location(locations, "Hogwarts")

    assert "'Hogwarts'" in str(caught.value)
    assert "numeric city or station id" in str(caught.value)
    assert isinstance(caught.value, LocationError)
    assert isinstance(caught.value, ValueError)


def test_resolve_ambiguous_station_lists_candidates(locations):
    with pytest.raises(AmbiguousLocation) as caught:
        resolve_location(locations, "hl")

    message = str(caught.value)
    candidate_ids = {match.id for match in caught.value.candidates}
    assert {372825000, 3088864001, 372842000, 1841058000} <= candidate_ids
    assert "STATION 372825000 Praha hl.n." in message
    assert "longer name" in message
    assert caught.value.query == "hl"


def test_resolve_ambiguous_lists_at_most_eight():
    villages = Locations(
        cities=tuple(
            City(100 + index, f"Lhota {index}", "CZ", (), (
                Station(200 + index, "nádraží", f"Lhota {index} - nádraží", 100 + index, f"Lhota {index}",
                        "CZ", (), "Europe/Prague", 1),
            ))
            for index in range(10)
        )
    )

    with pytest.raises(AmbiguousLocation) as caught:
        resolve_location(villages, "lhota nadr")

    assert len(caught.value.candidates) == 10
    assert str(caught.value).count("STATION ") == 8
    assert "and 2 more" in str(caught.value)

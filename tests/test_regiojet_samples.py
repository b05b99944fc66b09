"""Parse real saved RegioJet responses, so the parsers keep up with what RegioJet actually sends.

The samples folder is `REGIOJET_SAMPLES_DIR`, else `<repo>/../shared/regiojet-samples`. Without it
the tests skip, unless `TEST_REQUIRE_SAMPLES=1` makes a missing folder a failure.
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import responses

from regiojet_client import (
    RegioJetClient,
    loads,
    parse_locations,
    parse_route_detail,
    parse_route_search,
    parse_seat_classes,
    parse_tariffs,
)

REPO = Path(__file__).resolve().parent.parent
BASE_URL = "http://127.0.0.1:9/restapi"


def samples_dir() -> Path:
    configured = os.environ.get("REGIOJET_SAMPLES_DIR")
    folder = Path(configured) if configured else REPO.parent / "shared" / "regiojet-samples"
    if folder.is_dir():
        return folder
    if os.environ.get("TEST_REQUIRE_SAMPLES") == "1":
        pytest.fail(f"RegioJet samples folder {folder} is missing; set REGIOJET_SAMPLES_DIR to it")
    pytest.skip(f"RegioJet samples folder {folder} is missing; set REGIOJET_SAMPLES_DIR to run these tests")


def sample_kind(body) -> str | None:
    """Name the endpoint a body came from by its shape, or None for one this client does not read."""
    if isinstance(body, dict) and isinstance(body.get("routes"), list):
        return "route_search"
    if isinstance(body, dict) and "priceClasses" in body and "id" in body:
        return "route_detail"
    if isinstance(body, list) and body and all(isinstance(item, dict) for item in body):
        first = body[0]
        if "cities" in first:
            return "locations"
        if "vehicleClass" in first and "key" in first:
            return "seat_classes"
        if set(first) == {"key", "value"}:
            return "tariffs"
    return None


PARSERS = {
    "route_search": parse_route_search,
    "route_detail": parse_route_detail,
    "locations": parse_locations,
    "seat_classes": parse_seat_classes,
    "tariffs": parse_tariffs,
}


@pytest.fixture(scope="module")
def samples() -> dict[str, tuple[str, object]]:
    """Parse every sample file; map file name to (kind, parsed value)."""
    parsed = {}
    for path in sorted(samples_dir().glob("*.json")):
        kind = sample_kind(loads(path.read_text(encoding="utf-8")))
        if kind is None:
            continue
        try:
            parsed[path.name] = (kind, PARSERS[kind](loads(path.read_text(encoding="utf-8"))))
        except (KeyError, TypeError, ValueError) as error:
            pytest.fail(f"Sample {path.name} looks like {kind} but does not parse: {error!r}")
    print("parsed samples:", ", ".join(f"{name} as {kind}" for name, (kind, _) in parsed.items()))
    return parsed


def parsed(samples, name: str):
    return samples[name][1]


def test_samples_every_kind_parsed(samples):
    kinds = {kind for kind, _ in samples.values()}

    assert kinds == {"route_search", "route_detail", "locations", "seat_classes", "tariffs"}


def test_samples_non_client_files_skipped(samples):
    assert "free-seats_praha-kosice_2026-08-01_whole-train.json" not in samples
    assert "timetable-connection_praha-kosice_2020-12.json" not in samples


def test_sample_kosice_detail_classes_add_up(samples):
    detail = parsed(samples, "route-detail-simple_praha-kosice_2020-12-20_cs-czk.json")

    assert len(detail.price_classes) == 4
    assert sum(pc.free_seats for pc in detail.price_classes) == 121
    assert detail.free_seats == 121
    assert detail.route_id == "5525907902"
    assert detail.arrival_station_name == "žel. st."
    assert detail.transfers_count == 0


def test_sample_eur_detail_keeps_decimals(samples):
    detail = parsed(samples, "route-detail-simple_brno-praha_2025-04-16_default-en-eur.json")

    prices = {pc.seat_class: pc.price for pc in detail.price_classes}
    assert prices["TRAIN_LOW_COST"] == Decimal("8.6")
    assert prices["C2"] == Decimal("14.7")
    assert detail.departure_city_name == "Brno"
    assert detail.arrival_city_name == "Prague"


def test_sample_search_parses_summer_offsets(samples):
    routes = parsed(samples, "route-search-simple_brno-praha_2025-04-16_cs-czk.json")

    assert len(routes) == 10
    assert routes[0].route_id == "7677718237"
    assert routes[0].departure_time.isoformat() == "2025-04-16T05:03:00+02:00"
    assert routes[0].price_from == Decimal(149)


def test_sample_search_travel_time_plain_space(samples):
    routes = parsed(samples, "route-search-simple_praha-kosice_2020-12-20_czk.json")

    assert all("\u00a0" not in route.travel_time for route in routes)
    assert routes[0].travel_time.endswith(" h")


def test_sample_multi_day_search_filtered_to_local_date():
    folder = samples_dir()
    body = (folder / "route-search-simple_praha-kosice_2020-12-20_czk.json").read_text(encoding="utf-8")
    all_days = {route.departure_time.date() for route in parse_route_search(loads(body))}

    with responses.RequestsMock() as mock, RegioJetClient(BASE_URL) as client:
        mock.add(responses.GET, f"{BASE_URL}/routes/search/simple", body=body)
        routes = client.search_routes(372825000, "STATION", 1763018007, "STATION", date(2020, 12, 20), ["REGULAR"])

    assert len(all_days) > 1
    assert routes
    assert {route.departure_time.date() for route in routes} == {date(2020, 12, 20)}


def test_sample_full_search_with_transfer_parses(samples):
    routes = parsed(samples, "route-search-full_brno-praha_2025-01-21_city_en-eur.json")

    assert len(routes) == 25
    assert any("," in route.route_id for route in routes)
    assert all(isinstance(route.route_id, str) for route in routes)


def test_sample_locations_2025(samples):
    locations = parsed(samples, "locations-excerpt_2025-01_en.json")

    assert locations.station(372825000).city_name == "Prague"
    assert locations.station(372825000).significance == 6
    assert "Pressburg" in locations.city(10202001).aliases
    assert locations.station(5990046025).time_zone == "Europe/Kiev"


def test_sample_locations_2020(samples):
    locations = parsed(samples, "locations-excerpt_2020-12_en.json")

    assert locations.station(1763018007).city_id == 10202033
    assert locations.city(10202000).name == "Ostrava"


def test_sample_tariffs(samples):
    tariffs = parsed(samples, "consts-tariffs_2025-01_en.json")

    assert len(tariffs) == 10
    assert {tariff.key: tariff.title for tariff in tariffs}["ISIC"] == "Senior from 65 years"


def test_sample_seat_classes(samples):
    english = parsed(samples, "consts-seatclasses_2025-01_en.json")
    slovak = parsed(samples, "consts-seatclasses_2026-08_sk.json")

    assert len(english) == 23
    assert {seat_class.key for seat_class in slovak} == {seat_class.key for seat_class in english}
    assert {seat_class.key: seat_class.vehicle_class for seat_class in english}["C2"] == "1"


def test_samples_dir_missing_fails_when_required(monkeypatch, tmp_path):
    monkeypatch.setenv("REGIOJET_SAMPLES_DIR", str(tmp_path / "missing"))
    monkeypatch.setenv("TEST_REQUIRE_SAMPLES", "1")

    with pytest.raises(pytest.fail.Exception, match="missing"):
        samples_dir()


def test_samples_dir_missing_skips_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("REGIOJET_SAMPLES_DIR", str(tmp_path / "missing"))
    monkeypatch.delenv("TEST_REQUIRE_SAMPLES", raising=False)

    with pytest.raises(pytest.skip.Exception):
        samples_dir()

"""RegioJetClient against recorded-shape bodies served by `responses`."""

from __future__ import annotations

import http.server
import json
import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from regiojet_client import (
    PermanentRegioJetError,
    RegioJetClient,
    RegioJetError,
    SoldOutError,
    TemporaryRegioJetError,
    is_sold_out_message,
)

BASE_URL = "http://127.0.0.1:9/restapi"
FIXTURES = Path(__file__).parent / "fixtures" / "regiojet"
SEARCH_URL = f"{BASE_URL}/routes/search/simple"
DETAIL_URL = f"{BASE_URL}/routes/7955213101/simple"
TRANSFER_ID = "7955213103,7955218844"
CZECH_SOLD_OUT = "Vybraná místa již nejsou k dispozici. Zvolte prosím jiný spoj."


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client():
    with RegioJetClient(BASE_URL) as regiojet:
        yield regiojet


def search(client: RegioJetClient, day: date, tariffs=("REGULAR",)):
    return client.search_routes(372825000, "STATION", 3088864001, "STATION", day, tariffs)


def add_detail_error(mocked, status: int, **kwargs) -> None:
    mocked.add(responses.GET, DETAIL_URL, status=status, **kwargs)


def detail(client: RegioJetClient):
    return client.get_route_detail("7955213101", 372825000, 3088864001, ["REGULAR"])


# -- search ---------------------------------------------------------------


def test_search_keeps_only_requested_local_date(mocked, client):
    mocked.add(responses.GET, SEARCH_URL, body=fixture_text("search_praha_brno_winter_czk.json"))

    routes = search(client, date(2026, 12, 5))

    ids = [route.route_id for route in routes]
    assert ids == ["7955213101", "7955213102", TRANSFER_ID, "7955213104"]


def test_search_filters_on_offset_not_utc(mocked, client):
    # 00:05+02:00 on 15 July is 22:05 UTC on 14 July; its local date is the 15th.
    mocked.add(responses.GET, SEARCH_URL, body=fixture_text("search_praha_brno_summer_eur.json"))

    routes = search(client, date(2026, 7, 15))

    assert [route.route_id for route in routes] == ["7712000002", "7712000003"]


def test_search_keeps_offset_of_departure(mocked, client):
    mocked.add(responses.GET, SEARCH_URL, body=fixture_text("search_praha_brno_summer_eur.json"))

    route = search(client, date(2026, 7, 15))[0]

    assert route.departure_time.utcoffset() == timedelta(hours=2)
    assert route.departure_time.hour == 0


def test_search_parses_winter_offset(mocked, client):
    mocked.add(responses.GET, SEARCH_URL, body=fixture_text("search_praha_brno_winter_czk.json"))

    route = search(client, date(2026, 12, 5))[0]

    assert route.departure_time == datetime(2026, 12, 5, 5, 9, tzinfo=timezone.utc)
    assert route.arrival_time.utcoffset() == timedelta(hours=1)


def test_search_parses_eur_decimals(mocked, client):
    mocked.add(responses.GET, SEARCH_URL, body=fixture_text("search_praha_brno_summer_eur.json"))

    route = search(client, date(2026, 7, 15))[0]

    assert route.price_from == Decimal("8.6")
    assert route.price_to == Decimal("14.7")


def test_search_parses_summary_fields(mocked, client):
    mocked.add(responses.GET, SEARCH_URL, body=fixture_text("search_praha_brno_winter_czk.json"))

    routes = {route.route_id: route for route in search(client, date(2026, 12, 5))}

    assert routes["7955213101"].route_id == "7955213101"
    assert routes["7955213101"].free_seats == 120
    assert routes["7955213101"].price_from == Decimal(249)
    assert routes["7955213101"].vehicle_types == ("TRAIN",)
    assert routes["7955213102"].support is True
    assert routes["7955213104"].bookable is False
    assert routes[TRANSFER_ID].transfers_count == 1


def test_search_replaces_non_breaking_space(mocked, client):
    mocked.add(responses.GET, SEARCH_URL, body=fixture_text("search_praha_brno_winter_czk.json"))

    route = search(client, date(2026, 12, 5))[0]

    assert route.travel_time == "02:30 h"


def test_search_repeats_tariffs_per_passenger(mocked, client):
    mocked.add(responses.GET, SEARCH_URL, body=fixture_text("search_praha_brno_winter_czk.json"))

    search(client, date(2026, 12, 5), tariffs=("REGULAR", "REGULAR", "CZECH_STUDENT_PASS_26"))

    query = parse_qs(urlsplit(mocked.calls[0].request.url).query)
    assert query["tariffs"] == ["REGULAR", "REGULAR", "CZECH_STUDENT_PASS_26"]
    assert query["departureDate"] == ["2026-12-05"]
    assert query["fromLocationId"] == ["372825000"]
    assert query["fromLocationType"] == ["STATION"]
    assert query["toLocationId"] == ["3088864001"]
    assert query["toLocationType"] == ["STATION"]


def test_search_rejects_unknown_location_type(client):
    with pytest.raises(ValueError, match="CITY"):
        client.search_routes(1, "TOWN", 2, "CITY", date(2026, 12, 5), ["REGULAR"])


def test_search_rejects_tariffs_as_string(client):
    with pytest.raises(ValueError, match="one tariff key per passenger"):
        search(client, date(2026, 12, 5), tariffs="REGULAR")


# -- headers --------------------------------------------------------------


def test_request_sends_identifying_headers(mocked):
    mocked.add(responses.GET, f"{BASE_URL}/consts/tariffs", body=fixture_text("tariffs_en.json"))

    with RegioJetClient(BASE_URL, lang="en", currency="EUR") as regiojet:
        regiojet.get_tariffs()

    headers = mocked.calls[0].request.headers
    assert headers["X-Lang"] == "en"
    assert headers["X-Currency"] == "EUR"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("regiojet-watch/")
    assert "(+https://github.com/regiojet-watch/regiojet-watch)" in headers["User-Agent"]
    assert "Origin" not in headers


def test_client_sends_through_proxy_from_environment(monkeypatch):
    # The client reads proxy variables once, when it is created; a loopback server plays the proxy.
    seen = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            body = fixture_text("tariffs_en.json").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        with RegioJetClient(BASE_URL) as regiojet:
            tariffs = regiojet.get_tariffs()
    finally:
        proxy.shutdown()
        proxy.server_close()

    assert seen == [f"{BASE_URL}/consts/tariffs"]
    assert tariffs


def test_client_rejects_base_url_without_scheme():
    with pytest.raises(ValueError, match="full http"):
        RegioJetClient("127.0.0.1/restapi")


# -- detail ---------------------------------------------------------------


def test_detail_parses_eur_decimals(mocked):
    url = f"{BASE_URL}/routes/7712000003/simple"
    mocked.add(responses.GET, url, body=fixture_text("detail_praha_brno_summer_en_eur.json"))

    with RegioJetClient(BASE_URL, lang="en", currency="EUR") as regiojet:
        route = regiojet.get_route_detail("7712000003", 372825000, 3088864001, ["REGULAR"])

    prices = {price_class.seat_class: price_class.price for price_class in route.price_classes}
    assert prices["TRAIN_LOW_COST"] == Decimal("8.6")
    assert isinstance(prices["C0"], Decimal)
    assert route.departure_city_name == "Prague"
    assert route.departure_station_name == "MS"


def test_detail_omits_sold_out_class(mocked, client):
    url = f"{BASE_URL}/routes/7712000003/simple"
    mocked.add(responses.GET, url, body=fixture_text("detail_praha_brno_summer_en_eur.json"))

    route = client.get_route_detail("7712000003", 372825000, 3088864001, ["REGULAR"])

    assert [price_class.seat_class for price_class in route.price_classes] == ["TRAIN_LOW_COST", "C0", "C2"]
    assert route.free_seats == 65


def test_detail_quotes_transfer_id_with_literal_comma(mocked, client):
    url = f"{BASE_URL}/routes/{TRANSFER_ID}/simple"
    mocked.add(responses.GET, url, body=fixture_text("detail_transfer_cs_czk.json"))

    client.get_route_detail(TRANSFER_ID, 372825000, 3088864001, ["REGULAR", "CZECH_STUDENT_PASS_26"])

    request_url = mocked.calls[0].request.url
    assert urlsplit(request_url).path == f"/restapi/routes/{TRANSFER_ID}/simple"
    assert parse_qs(urlsplit(request_url).query)["tariffs"] == ["REGULAR", "CZECH_STUDENT_PASS_26"]


def test_detail_counts_transfer_sections(mocked, client):
    url = f"{BASE_URL}/routes/{TRANSFER_ID}/simple"
    mocked.add(responses.GET, url, body=fixture_text("detail_transfer_cs_czk.json"))

    route = client.get_route_detail(TRANSFER_ID, 372825000, 3088864001, ["REGULAR", "CZECH_STUDENT_PASS_26"])

    assert route.route_id == TRANSFER_ID
    assert route.transfers_count == 1
    assert route.free_seats == 9
    assert route.price_classes[0].tariffs == ("REGULAR", "CZECH_STUDENT_PASS_26")
    assert route.price_classes[0].price == Decimal(578)


def test_detail_czech_sold_out_400_raises_sold_out(mocked, client):
    add_detail_error(mocked, 400, json={"message": CZECH_SOLD_OUT, "errorFields": []})

    with pytest.raises(SoldOutError) as caught:
        detail(client)

    assert caught.value.status == 400
    assert caught.value.api_message == CZECH_SOLD_OUT
    assert not isinstance(caught.value, (TemporaryRegioJetError, PermanentRegioJetError))


@pytest.mark.parametrize(
    "message",
    [
        "Místa již nejsou k dispozici.",
        "MISTA JIZ NEJSOU K DISPOZICI",
        "Miesta už nie sú k dispozícii.",
        "Spoj je vyprodán.",
        "Spoj je vypredaný.",
        "The selected seats are no longer available.",
        "Sold out",
        "Nedostatek volných míst.",
    ],
)
def test_sold_out_message_matches(message):
    assert is_sold_out_message(message)


@pytest.mark.parametrize(
    "message",
    ["Spoj nebyl nalezen.", "Parametr fromStationId chybí.", "Route not found", "", None],
)
def test_sold_out_message_rejects_other_errors(message):
    assert not is_sold_out_message(message)


# -- errors ---------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 404, 410, 403])
def test_detail_client_error_is_permanent(mocked, client, status):
    add_detail_error(mocked, status, json={"message": "Spoj nebyl nalezen.", "errorFields": []})

    with pytest.raises(PermanentRegioJetError) as caught:
        detail(client)

    assert caught.value.status == status
    assert caught.value.api_message == "Spoj nebyl nalezen."
    assert caught.value.url_path == "/routes/7955213101/simple"


def test_error_str_names_status_and_message(mocked, client):
    add_detail_error(mocked, 404, json={"message": "Spoj nebyl nalezen.", "errorFields": []})

    with pytest.raises(RegioJetError) as caught:
        detail(client)

    text = str(caught.value)
    assert "HTTP 404" in text
    assert "Spoj nebyl nalezen." in text
    assert "\n" not in text


@pytest.mark.parametrize("status", [500, 502, 503])
def test_detail_server_error_is_temporary(mocked, client, status):
    add_detail_error(mocked, status, json={"message": "Internal error", "errorFields": []})

    with pytest.raises(TemporaryRegioJetError) as caught:
        detail(client)

    assert caught.value.status == status
    assert caught.value.retry_after is None


def test_detail_429_reads_retry_after_seconds(mocked, client):
    add_detail_error(mocked, 429, headers={"Retry-After": "30"}, body="")

    with pytest.raises(TemporaryRegioJetError) as caught:
        detail(client)

    assert caught.value.status == 429
    assert caught.value.retry_after == 30.0


def test_detail_429_reads_retry_after_http_date(mocked):
    clock = FakeClock()
    add_detail_error(mocked, 429, headers={"Retry-After": "Fri, 04 Dec 2026 12:02:00 GMT"}, body="")

    with RegioJetClient(BASE_URL, clock=clock) as regiojet, pytest.raises(TemporaryRegioJetError) as caught:
        detail(regiojet)

    assert caught.value.retry_after == 120.0


def test_detail_429_without_retry_after(mocked, client):
    add_detail_error(mocked, 429, body="")

    with pytest.raises(TemporaryRegioJetError) as caught:
        detail(client)

    assert caught.value.retry_after is None


def test_detail_html_body_on_200_is_temporary(mocked, client):
    mocked.add(responses.GET, DETAIL_URL, body="<html><body>Údržba</body></html>", content_type="text/html")

    with pytest.raises(TemporaryRegioJetError, match="not valid JSON"):
        detail(client)


def test_detail_html_body_on_502_is_temporary(mocked, client):
    add_detail_error(mocked, 502, body="<html><body>Bad Gateway</body></html>", content_type="text/html")

    with pytest.raises(TemporaryRegioJetError) as caught:
        detail(client)

    assert caught.value.api_message is None


def test_detail_malformed_json_is_temporary(mocked, client):
    mocked.add(responses.GET, DETAIL_URL, body='{"id": "79552', content_type="application/json")

    with pytest.raises(TemporaryRegioJetError):
        detail(client)


def test_detail_timeout_is_temporary(mocked, client):
    mocked.add(responses.GET, DETAIL_URL, body=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(TemporaryRegioJetError, match="timed out") as caught:
        detail(client)

    assert caught.value.status is None


def test_detail_connection_error_is_temporary(mocked, client):
    mocked.add(responses.GET, DETAIL_URL, body=requests.exceptions.ConnectionError("refused"))

    with pytest.raises(TemporaryRegioJetError, match="connection failed"):
        detail(client)


def test_connection_error_hides_query():
    # Port 9 (discard) on loopback is closed here, so the connection is refused.
    with RegioJetClient("http://127.0.0.1:9/restapi") as regiojet, pytest.raises(TemporaryRegioJetError) as caught:
        search(regiojet, date(2026, 12, 5))

    assert "departureDate" not in str(caught.value)
    assert "/routes/search/simple" in str(caught.value)


# -- constants and cache --------------------------------------------------


def test_locations_cached_within_ttl(mocked):
    clock = FakeClock()
    mocked.add(responses.GET, f"{BASE_URL}/consts/locations", body=fixture_text("locations_cs.json"))

    with RegioJetClient(BASE_URL, clock=clock) as regiojet:
        first = regiojet.get_locations()
        clock.now += timedelta(hours=23)
        second = regiojet.get_locations()

    assert second is first
    assert len(mocked.calls) == 1


def test_locations_refetched_after_ttl(mocked):
    clock = FakeClock()
    mocked.add(responses.GET, f"{BASE_URL}/consts/locations", body=fixture_text("locations_cs.json"))

    with RegioJetClient(BASE_URL, clock=clock) as regiojet:
        regiojet.get_locations()
        clock.now += timedelta(days=1, seconds=1)
        regiojet.get_locations()

    assert len(mocked.calls) == 2


def test_locations_parse_ids_and_zones(mocked, client):
    mocked.add(responses.GET, f"{BASE_URL}/consts/locations", body=fixture_text("locations_cs.json"))

    locations = client.get_locations()

    station = locations.station(1763018007)
    assert station.city_id == 10202033
    assert station.city_name == "Košice"
    assert station.country_code == "SK"
    assert station.time_zone == "Europe/Bratislava"
    assert station.fullname == "Košice - žel. st."
    assert locations.city(10202003).name == "Praha"
    assert locations.city(1) is None
    assert len(list(locations.stations())) == 11


def test_locations_split_comma_joined_aliases(mocked, client):
    mocked.add(responses.GET, f"{BASE_URL}/consts/locations", body=fixture_text("locations_cs.json"))

    city = client.get_locations().city(10202001)

    assert city.aliases == ("Blava", "Brtislava", "Preßburg", "Pressburg", "Pozsony")


def test_tariffs_and_seat_classes_parse_titles(mocked, client):
    mocked.add(responses.GET, f"{BASE_URL}/consts/tariffs", body=fixture_text("tariffs_en.json"))
    mocked.add(responses.GET, f"{BASE_URL}/consts/seatClasses", body=fixture_text("seat_classes_en.json"))

    tariffs = client.get_tariffs()
    seat_classes = client.get_seat_classes()
    client.get_tariffs()

    assert tariffs[1].key == "CZECH_STUDENT_PASS_26"
    assert tariffs[1].title == "Student 18-25 years"
    assert seat_classes[0].title == "Low cost (2nd cl.)"
    assert seat_classes[2].vehicle_class == "undefined"
    assert len(mocked.calls) == 2


def test_fixtures_are_valid_json():
    for path in FIXTURES.glob("*.json"):
        assert json.loads(path.read_text(encoding="utf-8")) is not None, path.name

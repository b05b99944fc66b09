"""The real RegioJetClient against the running fake server, so both keep the same shapes."""

from __future__ import annotations

import json
import os
import http.client
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from fake_regiojet import FakeRegioJetServer
from fake_regiojet.timetable import local_today
from regiojet_client import (
    PermanentRegioJetError,
    RegioJetClient,
    SoldOutError,
    TemporaryRegioJetError,
)

PRAHA_CITY = 10202003
BRNO_CITY = 10202002
PRAHA_HLN = 372825000
BRNO_HLN = 3088864001
OSTRAVA_HLN = 372842000
OLOMOUC_HLN = 372825004
BRATISLAVA_HLST = 1841058000
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def client(fake_api):
    with RegioJetClient(fake_api.base_url, timeout=(2, 5)) as regiojet:
        yield regiojet


def control_url(server: FakeRegioJetServer, path: str) -> str:
    return server.base_url.replace("/restapi", "/_fake") + path


def tomorrow():
    return local_today() + timedelta(days=1)


def first_train(server: FakeRegioJetServer, line_code: str) -> dict:
    day = tomorrow()
    return next(
        route
        for route in server.routes(day)
        if route["lineCodes"] == [line_code] and not route["support"]
    )


def detail_of(client: RegioJetClient, route: dict, tariffs=("REGULAR",)):
    stops = route["stops"]
    return client.get_route_detail(route["id"], stops[0]["stationId"], stops[-1]["stationId"], list(tariffs))


# -- search and detail ----------------------------------------------------


def test_search_city_to_city_keeps_requested_day(client):
    routes = client.search_routes(PRAHA_CITY, "CITY", BRNO_CITY, "CITY", tomorrow(), ["REGULAR"])

    assert len(routes) == 12
    assert {route.departure_time.date() for route in routes} == {tomorrow()}
    assert {route.vehicle_types for route in routes} == {("TRAIN",), ("BUS",)}


def test_search_response_spans_two_days(fake_api):
    params = {
        "departureDate": tomorrow().isoformat(),
        "fromLocationId": PRAHA_HLN,
        "fromLocationType": "STATION",
        "toLocationId": BRNO_HLN,
        "toLocationType": "STATION",
        "tariffs": "REGULAR",
    }

    body = requests.get(fake_api.base_url + "/routes/search/simple", params=params, timeout=5).json()

    days = {route["departureTime"][:10] for route in body["routes"]}
    assert days == {tomorrow().isoformat(), (tomorrow() + timedelta(days=1)).isoformat()}
    assert "\u00a0" in body["routes"][0]["travelTime"]


def test_search_segment_of_longer_train(client):
    routes = client.search_routes(OLOMOUC_HLN, "STATION", OSTRAVA_HLN, "STATION", tomorrow(), ["REGULAR"])

    route = routes[0]
    assert route.departure_station_id == OLOMOUC_HLN
    assert route.arrival_station_id == OSTRAVA_HLN
    assert route.travel_time == "01:08 h"


def test_search_support_train_shares_departure(client):
    routes = client.search_routes(PRAHA_HLN, "STATION", OSTRAVA_HLN, "STATION", tomorrow(), ["REGULAR"])

    support = [route for route in routes if route.support]
    regular_times = {route.departure_time for route in routes if not route.support}
    assert len(support) == 2
    assert all(route.departure_time in regular_times for route in support)


def test_search_finds_transfer_connection(client):
    routes = client.search_routes(BRATISLAVA_HLST, "STATION", PRAHA_HLN, "STATION", tomorrow(), ["REGULAR"])

    assert len(routes) == 1
    assert routes[0].transfers_count == 1
    assert "," in routes[0].route_id


def test_detail_free_seats_is_sum_of_classes(fake_api, client):
    route = first_train(fake_api, "RJ 1000")
    fake_api.set_free_seats(route["id"], {"TRAIN_LOW_COST": 4, "C0": 10, "C1": 0, "C2": 1})

    detail = detail_of(client, route)

    assert {pc.seat_class: pc.free_seats for pc in detail.price_classes} == {"TRAIN_LOW_COST": 4, "C0": 10, "C2": 1}
    assert detail.free_seats == 15
    assert detail.bookable is True


def test_detail_price_counts_every_passenger(fake_api, client):
    route = first_train(fake_api, "RJ 1000")
    fake_api.set_free_seats(route["id"], {"C0": 10})

    single = detail_of(client, route)
    double = detail_of(client, route, ("REGULAR", "REGULAR"))

    single_c0 = next(pc for pc in single.price_classes if pc.seat_class == "C0")
    double_c0 = next(pc for pc in double.price_classes if pc.seat_class == "C0")
    assert double_c0.price > single_c0.price
    assert double_c0.tariffs == ("REGULAR", "REGULAR")


def test_detail_seats_changed_through_http_control(fake_api, client):
    route = first_train(fake_api, "RJ 1010")
    fake_api.sell_out(route["id"])

    reply = requests.put(control_url(fake_api, f"/routes/{route['id']}/seats"), json={"C1": 3}, timeout=5)
    detail = detail_of(client, route)

    assert reply.status_code == 200
    assert [(pc.seat_class, pc.free_seats) for pc in detail.price_classes] == [("C1", 3)]


def test_detail_sold_out_has_no_price_classes(fake_api, client):
    route = first_train(fake_api, "RJ 1021")
    fake_api.sell_out(route["id"])

    detail = detail_of(client, route)

    assert detail.price_classes == ()
    assert detail.free_seats == 0
    assert detail.bookable is False


def test_detail_transfer_capped_by_tightest_section(fake_api, client):
    route = next(route for route in fake_api.routes(tomorrow()) if route["transfersCount"] == 1)
    first_section, second_section = (str(section_id) for section_id in route["sectionIds"])
    fake_api.set_free_seats(first_section, {"C1": 9, "C0": 0})
    fake_api.set_free_seats(second_section, {"C1": 2, "C0": 30})

    detail = detail_of(client, route)

    seats = {pc.seat_class: pc.free_seats for pc in detail.price_classes}
    assert seats["C1"] == 2
    assert "C0" not in seats
    assert detail.transfers_count == 1


def test_detail_in_english_and_eur(fake_api):
    route = first_train(fake_api, "RJ 1000")
    fake_api.set_free_seats(route["id"], {"C0": 5})

    with RegioJetClient(fake_api.base_url, lang="en", currency="EUR") as regiojet:
        detail = detail_of(regiojet, route)

    price = next(pc.price for pc in detail.price_classes if pc.seat_class == "C0")
    assert price == price.quantize(Decimal("0.1"))
    assert price < 50
    assert detail.departure_city_name == "Prague"
    assert detail.departure_station_name == "MS"


def test_detail_wrong_station_order_is_permanent(fake_api, client):
    route = first_train(fake_api, "RJ 1000")

    with pytest.raises(PermanentRegioJetError) as caught:
        client.get_route_detail(route["id"], BRNO_HLN, PRAHA_HLN, ["REGULAR"])

    assert caught.value.status == 400


def test_detail_unknown_route_is_404(client):
    with pytest.raises(PermanentRegioJetError) as caught:
        client.get_route_detail("1", PRAHA_HLN, BRNO_HLN, ["REGULAR"])

    assert caught.value.status == 404
    assert caught.value.api_message


def test_bad_parameter_gives_error_fields(fake_api):
    reply = requests.get(fake_api.base_url + "/routes/search/simple", params={"departureDate": "zítra"}, timeout=5)

    assert reply.status_code == 400
    assert set(reply.json()) == {"message", "errorFields"}
    assert reply.json()["errorFields"][0]["key"]


def test_foreign_origin_is_forbidden(fake_api):
    reply = requests.get(
        fake_api.base_url + "/consts/tariffs", headers={"Origin": "https://example.org"}, timeout=5
    )

    assert reply.status_code == 403


def test_constants_are_localized(fake_api):
    with RegioJetClient(fake_api.base_url, lang="en") as english, RegioJetClient(fake_api.base_url) as czech:
        assert english.get_locations().city(PRAHA_CITY).name == "Prague"
        assert czech.get_locations().city(PRAHA_CITY).name == "Praha"
        assert "Prague" in czech.get_locations().city(PRAHA_CITY).aliases
        assert english.get_tariffs()[0].title == "Adult 18-64 years"
        assert {seat_class.key for seat_class in czech.get_seat_classes()} >= {"C0", "C1", "NO", "BUS_RELAX"}


# -- control, latency, faults ---------------------------------------------


def test_request_counts_and_reset(fake_api, client):
    client.get_tariffs()
    client.search_routes(PRAHA_CITY, "CITY", BRNO_CITY, "CITY", tomorrow(), ["REGULAR"])
    counts = requests.get(control_url(fake_api, "/requests"), timeout=5).json()

    requests.post(control_url(fake_api, "/reset"), timeout=5)
    after = requests.get(control_url(fake_api, "/requests"), timeout=5).json()

    assert counts["paths"] == {"/restapi/consts/tariffs": 1, "/restapi/routes/search/simple": 1}
    assert counts["total"] == 2
    assert after["total"] == 0


def test_request_times_listed_only_when_recorded(fake_api, client):
    client.get_tariffs()
    assert "times" not in fake_api.requests_made()

    server = FakeRegioJetServer(record_request_times=True).start()
    try:
        before = time.time()
        for _ in range(2):
            requests.get(f"{server.base_url}/consts/tariffs", timeout=5).raise_for_status()
        times = requests.get(f"http://127.0.0.1:{server.port}/_fake/requests", timeout=5).json()["times"]
    finally:
        server.stop()

    assert list(times) == ["/restapi/consts/tariffs"]
    assert len(times["/restapi/consts/tariffs"]) == 2
    assert all(before <= moment <= time.time() for moment in times["/restapi/consts/tariffs"])


def test_latency_is_injected(fake_api, client):
    fake_api.set_latency(300)

    started = time.monotonic()
    client.get_tariffs()

    assert time.monotonic() - started >= 0.3


def test_latency_does_not_serialize_requests(fake_api):
    fake_api.set_latency(200)
    url = fake_api.base_url + "/consts/tariffs"

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: requests.get(url, timeout=5).status_code, range(40)))
    elapsed = time.monotonic() - started

    assert statuses == [200] * 40
    assert elapsed < 2.0  # 40 requests at 0.2 s each would take 8 s one after another


def test_fault_timeout(fake_api):
    route = first_train(fake_api, "RJ 1000")
    fake_api.set_fault(route["id"], "timeout", hold_seconds=3)

    with RegioJetClient(fake_api.base_url, timeout=(1, 0.3)) as regiojet:
        with pytest.raises(TemporaryRegioJetError, match="timed out"):
            detail_of(regiojet, route)


def test_fault_close(fake_api, client):
    route = first_train(fake_api, "RJ 1000")
    fake_api.set_fault(route["id"], "close")

    with pytest.raises(TemporaryRegioJetError) as caught:
        detail_of(client, route)

    assert caught.value.status is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_fault_status_is_temporary(fake_api, client, status):
    fake_api.set_fault("/routes/search/simple", "status", status=status)

    with pytest.raises(TemporaryRegioJetError) as caught:
        client.search_routes(PRAHA_CITY, "CITY", BRNO_CITY, "CITY", tomorrow(), ["REGULAR"])

    assert caught.value.status == status


def test_fault_429_with_retry_after(fake_api, client):
    route = first_train(fake_api, "RJ 1000")
    fake_api.set_fault(route["id"], "status", status=429, retry_after=7)

    with pytest.raises(TemporaryRegioJetError) as caught:
        detail_of(client, route)

    assert caught.value.status == 429
    assert caught.value.retry_after == 7.0


def test_fault_count_limits_failures(fake_api, client):
    route = first_train(fake_api, "RJ 1000")
    requests.post(
        control_url(fake_api, "/faults"),
        json={"target": route["id"], "kind": "status", "status": 503, "count": 1},
        timeout=5,
    )

    with pytest.raises(TemporaryRegioJetError):
        detail_of(client, route)
    detail = detail_of(client, route)

    assert detail.route_id == route["id"]


def test_fault_malformed_json(fake_api, client):
    fake_api.set_fault("/consts/*", "malformed_json")

    with pytest.raises(TemporaryRegioJetError, match="not valid JSON"):
        client.get_tariffs()


@pytest.mark.parametrize("status", [200, 502])
def test_fault_html_error(fake_api, client, status):
    fake_api.set_fault("/consts/locations", "html_error", status=status)

    with pytest.raises(TemporaryRegioJetError):
        client.get_locations()


def test_fault_vanish_gives_404(fake_api, client):
    route = first_train(fake_api, "RJ 1000")
    requests.post(control_url(fake_api, "/faults"), json={"target": route["id"], "kind": "vanish"}, timeout=5)

    with pytest.raises(PermanentRegioJetError) as caught:
        detail_of(client, route)

    assert caught.value.status == 404


def test_fault_sold_out_400(fake_api, client):
    route = first_train(fake_api, "RJ 1000")
    fake_api.set_fault(route["id"], "sold_out_400")

    with pytest.raises(SoldOutError):
        detail_of(client, route)


def test_fault_rejects_unknown_kind(fake_api):
    reply = requests.post(control_url(fake_api, "/faults"), json={"target": "*", "kind": "explode"}, timeout=5)

    assert reply.status_code == 400
    assert "explode" in reply.json()["message"]


# -- server lifecycle -----------------------------------------------------


def test_default_state_mixes_sold_out_and_free(fake_api):
    routes = fake_api.routes(tomorrow())

    sold_out = [route for route in routes if not any(route["freeSeats"].values())]
    assert 0 < len(sold_out) < len(routes) / 2


def test_same_seed_gives_same_timetable(fake_api):
    other = FakeRegioJetServer(seed=1)

    assert [route["id"] for route in other.routes()] == [route["id"] for route in fake_api.routes()]


def test_stop_closes_keep_alive_connections():
    server = FakeRegioJetServer().start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/restapi/consts/tariffs")
    reply = connection.getresponse()
    reply.read()

    server.stop()

    assert reply.getheader("Connection") == "keep-alive"
    assert connection.sock.recv(1024) == b""
    connection.close()


def test_module_runs_standalone():
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "fake_regiojet", "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        env=environment,
        text=True,
    )
    try:
        announced = json.loads(process.stdout.readline())
        reply = requests.get(announced["base_url"] + "/consts/tariffs", timeout=5)
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert announced["base_url"].startswith("http://127.0.0.1:")
    assert reply.status_code == 200
    assert process.returncode == 0


def test_fake_server_port_in_use_hint():
    import socket
    import subprocess
    import sys

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "fake_regiojet", "--port", str(port)], capture_output=True, text=True, timeout=30
        )

    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port N" in result.stderr
    assert "Traceback" not in result.stderr

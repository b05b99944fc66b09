"""The watch, list, cancel and check commands against the fake RegioJet server and a real database."""

import json
import re
from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from pony.orm import count, db_session

from cli import cli
from models import MonitoredRoute, Notification, Watch, Watcher

PRAHA_HLN = 372825000
BRNO_HLN = 3088864001
OSTRAVA_HLN = 372842000


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def travel_day() -> date:
    return date.today() + timedelta(days=3)


def stop_time(route: dict, station_id: int) -> str:
    """Return a route's local departure at a station as `YYYY-MM-DD HH:MM`."""
    stop = next(stop for stop in route["stops"] if stop["stationId"] == station_id)
    return stop["time"][:16].replace("T", " ")


def pick_route(fake_api, from_id: int = PRAHA_HLN, to_id: int = BRNO_HLN) -> dict:
    """Pick a direct, regular train that is the only one leaving `from_id` at its minute."""
    routes = [route for route in fake_api.routes(travel_day()) if serves(route, from_id, to_id)]
    for route in routes:
        if route["support"] or route["transfersCount"] or "TRAIN" not in route["vehicleTypes"]:
            continue
        same_minute = [other for other in routes if stop_time(other, from_id) == stop_time(route, from_id)]
        if len(same_minute) == 1:
            return route
    raise AssertionError(f"the fake timetable has no single train from {from_id} to {to_id} on {travel_day()}")


def serves(route: dict, from_id: int, to_id: int) -> bool:
    ids = [stop["stationId"] for stop in route["stops"]]
    return from_id in ids and to_id in ids and ids.index(from_id) < ids.index(to_id)


def watch_args(route: dict, email: str = "jana@example.com", *extra: str) -> list[str]:
    return [
        "watch", str(PRAHA_HLN), str(BRNO_HLN), stop_time(route, PRAHA_HLN), "--email", email, *extra
    ]


def add_watch(route: dict, email: str = "jana@example.com", *extra: str) -> dict:
    result = invoke(*watch_args(route, email, *extra, "--json"))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@db_session
def row_counts() -> dict[str, int]:
    return {
        "routes": count(r for r in MonitoredRoute),
        "watchers": count(w for w in Watcher),
        "watches": count(w for w in Watch),
    }


@db_session
def route_status(route_id: int) -> str:
    return MonitoredRoute[route_id].status


def test_watch_creates_watch_and_route(fake_api):
    route = pick_route(fake_api)
    fake_api.sell_out(route["id"])

    result = invoke(*watch_args(route))

    assert result.exit_code == 0, result.output
    assert re.match(r"Watch \d+ created: Praha hl\.n\. -> Brno hl\.n\., departure ", result.output)
    assert "No seats fit the watch now" in result.output
    assert row_counts() == {"routes": 1, "watchers": 1, "watches": 1}


def test_watch_accepts_station_names(fake_api):
    route = pick_route(fake_api)

    result = invoke("watch", "Praha hl.n.", "brno hl n", stop_time(route, PRAHA_HLN), "--email", "jana@example.com")

    assert result.exit_code == 0, result.output
    assert "Praha hl.n. -> Brno hl.n." in result.output


def test_watch_json_reports_free_seats(fake_api):
    route = pick_route(fake_api)
    fake_api.set_free_seats(route["id"], {"C0": 0, "C1": 4, "C2": 0, "TRAIN_LOW_COST": 0})

    result = invoke(*watch_args(route, "jana@example.com", "--seat-class", "C1", "--json"))

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert isinstance(data["watch_id"], int)
    assert data["regiojet_route_id"] == route["id"]
    assert data["joined_existing_route"] is False
    assert data["seats_free_now"] is True
    assert [offer["seat_class"] for offer in data["offers"]] == ["C1"]
    assert data["offers"][0]["free_seats"] == 4
    assert data["departure"] == stop_time(route, PRAHA_HLN).replace(" ", "T") + ":00" + route["stops"][0]["time"][-6:]


def test_watch_two_watchers_share_one_route(fake_api):
    route = pick_route(fake_api)

    first = invoke(*watch_args(route, "jana@example.com", "--json"))
    second = invoke(*watch_args(route, "petr@example.com", "--json"))

    assert json.loads(second.output)["joined_existing_route"] is True
    assert json.loads(second.output)["route_id"] == json.loads(first.output)["route_id"]
    assert row_counts() == {"routes": 1, "watchers": 2, "watches": 2}


def test_watch_same_person_again_is_already_watching(fake_api):
    route = pick_route(fake_api)
    watch_id = add_watch(route)["watch_id"]

    result = invoke(*watch_args(route, "jana@EXAMPLE.com"))

    assert result.exit_code == 0
    assert result.output == f"already watching: watch {watch_id}\n"
    assert row_counts() == {"routes": 1, "watchers": 1, "watches": 1}


def test_watch_tariffs_one_per_passenger(fake_api):
    route = pick_route(fake_api)

    result = invoke(*watch_args(route, "jana@example.com", "--tariff", "REGULAR", "--tariff", "CHILD_UNDER_12"))

    assert result.exit_code == 0, result.output
    with db_session:
        assert MonitoredRoute.select().first().tariff_list == ["CHILD_UNDER_12", "REGULAR"]


@pytest.mark.parametrize(
    "change, named_value",
    [
        (lambda args: swap(args, "jana@example.com", "jana@@example"), "jana@@example"),
        (lambda args: swap(args, "jana@example.com", "jana@example.com\r\nBcc: x@example.com"), "line break"),
        (lambda args: args + ["--lang", "de"], "'de'"),
        (lambda args: args[:3] + ["07.12.2026 08:09"] + args[4:], "07.12.2026 08:09"),
        (lambda args: args[:3] + ["2020-01-06 08:09"] + args[4:], "2020-01-06 08:09"),
        (lambda args: args + ["--tariff", "ADULT"], "'ADULT'"),
        (lambda args: args + ["--seat-class", "C_BUSINESS"], "'C_BUSINESS'"),
        (lambda args: args[:1] + ["Atlantis"] + args[2:], "'Atlantis'"),
        (lambda args: args[:3] + [args[3][:11] + "03:01"] + args[4:], "03:01"),
        (lambda args: args + ["--route-id", "123"], "route id 123"),
    ],
    ids=["email", "email-crlf", "lang", "departure-format", "departure-past", "tariff", "seat-class",
         "station", "no-connection", "route-id"],
)
def test_watch_bad_input_stores_nothing(fake_api, change, named_value):
    route = pick_route(fake_api)

    result = CliRunner().invoke(cli, change(watch_args(route)))

    assert result.exit_code in (1, 2), result.output
    assert named_value in result.output
    assert "Traceback" not in result.output
    assert row_counts() == {"routes": 0, "watchers": 0, "watches": 0}


def swap(args: list[str], old: str, new: str) -> list[str]:
    return [new if arg == old else arg for arg in args]


def test_watch_unknown_tariff_lists_valid_keys(fake_api):
    route = pick_route(fake_api)

    result = invoke(*watch_args(route, "jana@example.com", "--tariff", "ADULT"))

    assert result.exit_code == 2
    assert "valid keys: REGULAR, CHILD_UNDER_12" in result.output


def test_watch_no_connection_lists_departures(fake_api):
    route = pick_route(fake_api)
    args = watch_args(route)
    args[3] = args[3][:11] + "03:01"

    result = invoke(*args)

    assert result.exit_code == 1
    assert f"leaves at {args[3]}" in result.output
    assert f"route id {route['id']}" in result.output


def test_watch_shared_departure_needs_route_id(fake_api):
    support = next(r for r in fake_api.routes(travel_day()) if r["support"] and serves(r, PRAHA_HLN, OSTRAVA_HLN))
    departure = stop_time(support, PRAHA_HLN)
    args = ["watch", str(PRAHA_HLN), str(OSTRAVA_HLN), departure, "--email", "jana@example.com"]

    ambiguous = invoke(*args)
    picked = invoke(*args, "--route-id", support["id"], "--json")

    assert ambiguous.exit_code == 1
    assert "Pass --route-id ID to pick one" in ambiguous.output
    assert f"route id {support['id']}, support" in ambiguous.output
    assert picked.exit_code == 0, picked.output
    assert json.loads(picked.output)["regiojet_route_id"] == support["id"]


def test_watch_regiojet_unavailable_stores_nothing(fake_api):
    route = pick_route(fake_api)
    fake_api.set_fault("*routes/search/simple*", "status", status=503)

    result = CliRunner().invoke(cli, watch_args(route))

    assert result.exit_code == 1
    assert "RegioJet is failing" in result.output
    assert "Nothing was stored" in result.output
    assert row_counts() == {"routes": 0, "watchers": 0, "watches": 0}


def test_list_shows_watch_columns(fake_api):
    route = pick_route(fake_api)
    watch_id = add_watch(route, "jana@example.com", "--seat-class", "C1", "--tariff", "REGULAR", "--tariff", "ISIC")["watch_id"]

    result = invoke("list")

    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "EMAIL", "FROM", "->", "TO", "DEPARTURE", "SEAT", "CLASSES",
                                "TARIFFS", "LAST", "CHECK", "FOUND", "AT", "LAST", "ERROR"]
    assert lines[2].split()[:6] == [str(watch_id), "active", "jana@example.com", "Praha", "hl.n.", "->"]
    assert stop_time(route, PRAHA_HLN) in lines[2]
    assert "C1" in lines[2]
    assert "ISIC,REGULAR" in lines[2]


def test_list_json_filters_by_email(fake_api):
    route = pick_route(fake_api)
    invoke(*watch_args(route, "jana@example.com"))
    invoke(*watch_args(route, "petr@example.com"))

    result = invoke("list", "--email", "petr@example.com", "--json")

    rows = json.loads(result.output)
    assert [row["email"] for row in rows] == ["petr@example.com"]
    assert rows[0]["status"] == "active"
    assert rows[0]["departure_utc"].endswith("+00:00")
    assert rows[0]["last_checked_at"] is None


def test_list_without_watches(fake_api):
    result = invoke("list")

    assert result.output == "No watches.\n"


def test_cancel_last_watch_cancels_route(fake_api):
    route = pick_route(fake_api)
    created = add_watch(route)

    result = invoke("cancel", str(created["watch_id"]))

    assert result.exit_code == 0
    assert f"Cancelled watch {created['watch_id']} (Praha hl.n. -> Brno hl.n.)." in result.output
    assert "its checks have stopped" in result.output
    assert route_status(created["route_id"]) == "cancelled"


def test_cancel_keeps_route_of_other_watchers(fake_api):
    route = pick_route(fake_api)
    created = add_watch(route, "jana@example.com")
    add_watch(route, "petr@example.com")

    result = invoke("cancel", str(created["watch_id"]), "--json")

    assert json.loads(result.output) == {
        "watch_id": created["watch_id"],
        "status": "cancelled",
        "route_id": created["route_id"],
        "route_status": "active",
    }
    assert route_status(created["route_id"]) == "active"


def test_cancel_unknown_watch_names_id(fake_api):
    result = invoke("cancel", "424242")

    assert result.exit_code == 1
    assert "Error: watch 424242 not found" in result.output


def test_cancel_twice_is_an_error(fake_api):
    route = pick_route(fake_api)
    watch_id = str(add_watch(route)["watch_id"])
    invoke("cancel", watch_id)

    result = invoke("cancel", watch_id)

    assert result.exit_code == 1
    assert f"Error: watch {watch_id} is already cancelled" in result.output


def test_check_find_queues_one_email_per_watcher(fake_api):
    from huey_app import huey

    route = pick_route(fake_api)
    fake_api.sell_out(route["id"])
    created = add_watch(route, "jana@example.com", "--seat-class", "C1")
    add_watch(route, "petr@example.com", "--seat-class", "C1")
    fake_api.set_free_seats(route["id"], {"C1": 2})

    result = invoke("check", str(created["watch_id"]))

    assert result.exit_code == 0, result.output
    assert "Seats found: C1: 2 free" in result.output
    assert "2 emails queued for the worker." in result.output
    assert route_status(created["route_id"]) == "found"
    with db_session:
        assert sorted(n.watch.watcher.email for n in Notification.select()) == ["jana@example.com", "petr@example.com"]
        assert {n.status for n in Notification.select()} == {"pending"}
    assert huey.pending_count() == 2


def test_check_without_seats_keeps_route_active(fake_api):
    from huey_app import huey

    route = pick_route(fake_api)
    fake_api.set_free_seats(route["id"], {"C0": 5, "C1": 0, "C2": 0, "TRAIN_LOW_COST": 0})
    created = add_watch(route, "jana@example.com", "--seat-class", "C1")

    result = invoke("check", str(created["watch_id"]), "--json")

    data = json.loads(result.output)
    assert data["outcome"] == "no_seats"
    assert [(pc["seat_class"], pc["free_seats"]) for pc in data["price_classes"]] == [("C0", 5)]
    assert data["emails_queued"] == 0
    assert route_status(created["route_id"]) == "active"
    with db_session:
        assert MonitoredRoute[created["route_id"]].last_checked_at is not None
    assert huey.pending_count() == 0


def test_check_ended_watch_is_an_error(fake_api):
    route = pick_route(fake_api)
    watch_id = str(add_watch(route)["watch_id"])
    invoke("cancel", watch_id)

    result = invoke("check", watch_id)

    assert result.exit_code == 1
    assert f"watch {watch_id} has ended (status cancelled)" in result.output

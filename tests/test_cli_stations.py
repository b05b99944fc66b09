"""The stations and connections commands against the fake RegioJet server."""

import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from cli import cli


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(
    "query, expected_label",
    [("brno", "Brno hl.n."), ("Kosice", "Košice"), ("praha hl", "Praha hl.n."), ("PRAHA HL.N.", "Praha hl.n.")],
)
def test_stations_match_ignores_case_and_diacritics(fake_api, query, expected_label):
    result = invoke("stations", query)

    assert result.exit_code == 0, result.output
    assert expected_label in result.output


def test_stations_table_columns(fake_api):
    result = invoke("stations", "brno", "--limit", "1")

    lines = result.output.splitlines()
    assert lines[0].split() == ["KIND", "ID", "LABEL", "TIME", "ZONE"]
    assert lines[2].split() == ["CITY", "10202002", "Brno", "Europe/Prague"]
    assert len(lines) == 3


def test_stations_json_parses(fake_api):
    result = invoke("stations", "Kosice", "--json")

    data = json.loads(result.output)
    assert data[0] == {"kind": "CITY", "id": 10202033, "label": "Košice", "time_zone": "Europe/Bratislava"}


def test_stations_unknown_name_is_an_error(fake_api):
    result = invoke("stations", "Atlantis")

    assert result.exit_code == 1
    assert "no city or station matches 'Atlantis'" in result.output


def test_connections_lists_day(fake_api):
    day = date.today() + timedelta(days=3)
    expected = [r for r in fake_api.routes(day) if r["stops"][0]["stationId"] == 372825000
                and 3088864001 in [s["stationId"] for s in r["stops"]]][0]

    result = invoke("connections", "Praha", "Brno", day.isoformat())

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == [
        "DEPARTURE", "ARRIVAL", "FROM", "TO", "TRANSFERS", "FREE", "SEATS", "PRICE", "FROM", "ROUTE", "ID"
    ]
    assert expected["id"] in result.output
    assert expected["stops"][0]["time"][11:16] in result.output


def test_connections_json_has_local_and_utc_times(fake_api):
    day = date.today() + timedelta(days=3)

    result = invoke("connections", "Praha", "Brno", day.isoformat(), "--tariff", "REGULAR", "--tariff", "REGULAR", "--json")

    rows = json.loads(result.output)
    assert rows
    assert all(row["departure"].startswith(day.isoformat()) for row in rows)
    assert rows[0]["departure"][-6:] in ("+01:00", "+02:00")
    assert rows[0]["departure_utc"].endswith("+00:00")
    assert rows[0]["currency"] == "CZK"


@pytest.mark.parametrize(
    "args, named_value, exit_code",
    [
        (["Atlantis", "Brno", "2030-01-01"], "'Atlantis'", 2),
        (["Praha", "Brno", "01.01.2030"], "01.01.2030", 2),
        (["Praha", "Brno", "2030-01-01", "--tariff", "ADULT"], "'ADULT'", 2),
    ],
)
def test_connections_bad_input_names_value(fake_api, args, named_value, exit_code):
    result = invoke("connections", *args)

    assert result.exit_code == exit_code
    assert named_value in result.output


def test_connections_regiojet_down_is_an_error(fake_api):
    fake_api.set_fault("*routes/search/simple*", "status", status=502)
    day = date.today() + timedelta(days=3)

    result = invoke("connections", "Praha", "Brno", day.isoformat())

    assert result.exit_code == 1
    assert "RegioJet is failing while searching connections" in result.output


def test_stations_unreachable_api_names_the_url(monkeypatch):
    import socket

    import runtime

    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        closed_port = placeholder.getsockname()[1]
        url = f"http://127.0.0.1:{closed_port}/restapi"
        monkeypatch.setenv("REGIOJET_API_URL", url)
        runtime.get_settings.cache_clear()
        monkeypatch.setattr(runtime, "_thread_local", type(runtime._thread_local)())
        try:
            result = CliRunner().invoke(cli, ["stations", "brno"])
        finally:
            monkeypatch.undo()
            runtime.get_settings.cache_clear()

    assert result.exit_code == 1
    assert f"could not reach the RegioJet API at {url}" in result.output
    assert "python -m fake_regiojet" in result.output

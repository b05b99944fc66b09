"""The fake timetable's benchmark options: a dense plan and sold-out seats, defaults unchanged."""

from datetime import date

from fake_regiojet import data
from fake_regiojet.timetable import bench_departures, generate

FIRST_DAY = date(2026, 5, 4)


def test_bench_departures_keep_line_minute():
    line = data.LINES[0]

    departures = bench_departures(line, 10)

    assert len(departures) == 144
    assert {departure[-1] for departure in departures} == {line.departures[0][-1]}


def test_generate_dense_plan_is_sold_out():
    connections = generate(1, FIRST_DAY, departure_every_minutes=10, all_sold_out=True)

    direct = [c for c in connections.values() if len(c.sections) == 1]
    assert len(direct) > 40_000
    assert all(count == 0 for c in direct for count in c.sections[0].free_seats.values())


def test_generate_default_plan_unchanged_by_options():
    default = generate(1, FIRST_DAY)
    explicit = generate(1, FIRST_DAY, departure_every_minutes=None, all_sold_out=False)

    assert list(default) == list(explicit)
    assert any(count > 0 for c in default.values() for count in c.sections[0].free_seats.values())

"""The shared RegioJet request budget, on the selected backend's real queue storage."""

import threading
import time

import pytest

import huey_app
from config import parse_settings
from regiojet_client import RegioJetClient, TemporaryRegioJetError
from request_budget import RequestBudget, RequestBudgetExceeded
from runtime import take_request_slot


class FakeClock:
    def __init__(self, start: float = 1_000_000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def budget(rate: float, clock: FakeClock, name: str = "test-budget", max_wait: float = 10.0) -> RequestBudget:
    return RequestBudget(huey_app.huey.storage, name, rate, max_wait_seconds=max_wait, clock=clock, sleep=clock.sleep)


def test_budget_two_consumers_share_one_window():
    clock = FakeClock()
    first, second = budget(5, clock), budget(5, clock)

    waits = [first.acquire() if i % 2 else second.acquire() for i in range(5)]
    sixth_wait = first.acquire()

    assert waits == [0, 0, 0, 0, 0]
    assert sixth_wait == pytest.approx(1.0)
    assert clock.sleeps == [pytest.approx(1.0)]


def test_budget_rate_below_one_uses_longer_window():
    clock = FakeClock()
    slow = budget(0.5, clock)

    slow.acquire()
    second_wait = slow.acquire()

    assert slow.window_seconds == 2
    assert second_wait == pytest.approx(2.0)


def test_budget_gives_up_after_max_wait():
    clock = FakeClock()
    tight = budget(1, clock, max_wait=0.5)
    tight.acquire()

    with pytest.raises(RequestBudgetExceeded, match="REGIOJET_MAX_REQUESTS_PER_SECOND"):
        tight.acquire()


def test_budget_rejects_zero_rate():
    with pytest.raises(ValueError, match="above 0"):
        RequestBudget(huey_app.huey.storage, "zero", 0)


def test_budget_threads_in_real_time_stay_under_rate():
    # Two budgets on one storage act as two consumers. Thirty requests at 10 per second need
    # at least three windows, so the last request cannot start before the third window.
    first = RequestBudget(huey_app.huey.storage, "threads", 10)
    second = RequestBudget(huey_app.huey.storage, "threads", 10)
    started_at: list[float] = []
    lock = threading.Lock()

    def worker(shared: RequestBudget) -> None:
        for _ in range(15):
            shared.acquire()
            with lock:
                started_at.append(time.time())

    threads = [threading.Thread(target=worker, args=(shared,)) for shared in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    per_second: dict[int, int] = {}
    for moment in started_at:
        per_second[int(moment)] = per_second.get(int(moment), 0) + 1
    assert len(started_at) == 30
    assert max(per_second.values()) <= 10
    assert len(per_second) >= 3


def test_client_calls_before_request_hook(fake_api):
    calls = []
    client = RegioJetClient(fake_api.base_url, before_request=lambda: calls.append(1))

    client.get_tariffs()

    assert calls == [1]


def test_client_hook_error_stops_request(fake_api):
    def reject_request() -> None:
        raise TemporaryRegioJetError("budget exhausted")

    client = RegioJetClient(fake_api.base_url, before_request=reject_request)

    with pytest.raises(TemporaryRegioJetError, match="budget exhausted"):
        client.get_tariffs()
    assert fake_api.requests_made()["paths"].get("/restapi/consts/tariffs", 0) == 0


def test_take_request_slot_raises_when_exhausted(monkeypatch):
    def exhausted():
        raise RequestBudgetExceeded("no slot")

    import runtime

    monkeypatch.setattr(runtime.get_request_budget(), "acquire", exhausted)

    with pytest.raises(RequestBudgetExceeded, match="no slot"):
        take_request_slot()


def test_check_postponed_when_budget_exhausted(fake_api, monkeypatch):
    from datetime import timedelta

    from pony.orm import db_session

    import checking
    import runtime
    from models import MonitoredRoute
    from tests.helpers import upcoming_connection, watch_connection
    from timeutil import utc_now

    def exhausted():
        raise RequestBudgetExceeded("no slot")

    monkeypatch.setattr(runtime.get_request_budget(), "acquire", exhausted)
    created = watch_connection(upcoming_connection(fake_api), "anna@example.com")
    now = utc_now()

    (result,) = checking.check_route(
        created.route_id, runtime.get_regiojet_client(), currency="CZK", interval=timedelta(seconds=20), now=now
    )

    assert result.outcome == "postponed"
    with db_session:
        route = MonitoredRoute[created.route_id]
        assert route.status == "active"
        assert route.consecutive_failures == 0
        assert route.failing_since is None
        assert now < route.next_check_at <= now + timedelta(seconds=10)
        assert route.claim_token == ""


def test_settings_max_requests_default():
    settings = parse_settings({})

    assert settings.regiojet_max_requests_per_second == 50.0


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1001", "nan"])
def test_settings_max_requests_rejects_bad_value(value):
    from config import ConfigError

    with pytest.raises(ConfigError, match="REGIOJET_MAX_REQUESTS_PER_SECOND"):
        parse_settings({"REGIOJET_MAX_REQUESTS_PER_SECOND": value})

import pytest

from tests.faults.harness import Consumer
from tests.faults.servers import PrivatePostgres, PrivateRedis


@pytest.fixture
def consumers(tmp_path):
    """Start huey_consumer subprocesses by name; every one still running is killed at the end."""
    started: list[Consumer] = []

    def start(name: str = "consumer", **options) -> Consumer:
        consumer = Consumer(tmp_path / f"{name}.log", **options)
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        consumer.stop()


@pytest.fixture
def private_postgres():
    """A started PostgreSQL server of this test's own, which the test may restart."""
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_redis(tmp_path):
    """A started Redis server of this test's own, without persistence, which the test may restart."""
    server = PrivateRedis(tmp_path / "redis.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()
